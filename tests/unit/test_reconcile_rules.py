"""`compare`: a bill day against our books, one kind of difference at a time (the bill's
numbers are looked up among all our payments; what we settled that day is looked for in it)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime

from domain.ids import new_id
from domain.ordering.model import Payment, PaymentKind, PaymentStatus
from domain.ordering.reconcile import (
    BillRow,
    bill_day_bounds,
    bill_yesterday,
    compare,
)

AT = datetime(2026, 12, 5, 4, 0, tzinfo=UTC)


def ours(
    ref: str, amount: int, status: PaymentStatus, kind: PaymentKind = PaymentKind.PAYMENT
) -> Payment:
    return Payment(
        new_id(), new_id(), kind, "wechatpay", ref, "ONLINE", amount, "CNY", status, AT, AT
    )


def paid(ref: str, amount: int, state: str = "SUCCESS") -> BillRow:
    return BillRow(trade_no=ref, trade_state=state, amount=amount)


def refunded(ref: str, of: str, amount: int, state: str = "SUCCESS") -> BillRow:
    return BillRow(of, "REFUND", 5000, refund_no=ref, refund_amount=amount, refund_state=state)


def kinds(
    bill: list[BillRow], settled: list[Payment], others: Sequence[Payment] = ()
) -> list[tuple[str, str]]:
    known = {p.provider_ref: p for p in [*settled, *others]}
    return [(f.kind.value, f.reference) for f in compare(bill, settled, known)]


def test_a_bill_that_agrees_has_no_difference() -> None:
    a, r = (
        ours("a", 5000, PaymentStatus.SUCCEEDED),
        ours("rf_a", 1000, PaymentStatus.REFUNDED, PaymentKind.REFUND),
    )
    assert kinds([paid("a", 5000), refunded("rf_a", "a", 1000)], [a, r]) == []


def test_each_kind_of_difference() -> None:
    settled = [
        ours("agrees", 100, PaymentStatus.SUCCEEDED),
        ours("cheaper", 100, PaymentStatus.SUCCEEDED),
        ours("not-billed", 300, PaymentStatus.SUCCEEDED),
        ours("revoked", 400, PaymentStatus.SUCCEEDED),
        ours("rf_done", 50, PaymentStatus.REFUNDED, PaymentKind.REFUND),
    ]
    others = [
        ours("pending", 200, PaymentStatus.PENDING),  # paid there, never notified here
        ours("rf_ongoing", 60, PaymentStatus.REFUND_SUBMITTED, PaymentKind.REFUND),
    ]
    bill = [
        paid("agrees", 100),
        paid("cheaper", 90),
        paid("pending", 200),
        paid("stranger", 700),
        paid("revoked", 400, "REVOKED"),
        refunded("rf_done", "agrees", 50, "PROCESSING"),
        refunded("rf_ongoing", "agrees", 60),
        refunded("rf_stranger", "agrees", 10),
    ]
    assert sorted(kinds(bill, settled, others)) == [
        ("AMOUNT", "cheaper"),
        ("MISSING_OURS", "pending"),
        ("MISSING_OURS", "rf_stranger"),
        ("MISSING_OURS", "stranger"),
        ("MISSING_THEIRS", "not-billed"),
        ("STATE", "revoked"),
        ("STATE", "rf_done"),
        ("STATE", "rf_ongoing"),
    ]


def test_a_refund_amount_and_a_refund_missing_from_the_bill() -> None:
    r = ours("rf_1", 100, PaymentStatus.REFUNDED, PaymentKind.REFUND)
    assert kinds([refunded("rf_1", "a", 99)], [r]) == [("AMOUNT", "rf_1")]
    assert kinds([], [r]) == [("MISSING_THEIRS", "rf_1")]
    # A payment's number in a refund row is not the refund: still missing from the bill.
    assert kinds([paid("rf_1", 100)], [r]) == [("MISSING_OURS", "rf_1"), ("MISSING_THEIRS", "rf_1")]


def test_the_bill_day_is_a_beijing_day_ready_after_ten() -> None:
    start, end = bill_day_bounds(date(2026, 12, 5))
    assert (start.astimezone(UTC), end.astimezone(UTC)) == (
        datetime(2026, 12, 4, 16, tzinfo=UTC),
        datetime(2026, 12, 5, 16, tzinfo=UTC),
    )
    assert bill_yesterday(datetime(2026, 12, 6, 1, 59, tzinfo=UTC)) is None  # 09:59 Beijing
    assert bill_yesterday(datetime(2026, 12, 6, 2, 0, tzinfo=UTC)) == date(2026, 12, 5)
    assert bill_yesterday(datetime(2026, 12, 6, 15, 59, tzinfo=UTC)) == date(2026, 12, 5)
    assert bill_yesterday(datetime(2026, 12, 6, 17, 0, tzinfo=UTC)) is None  # 01:00 on the 7th
