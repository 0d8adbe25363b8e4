"""Reconciliation: a provider's bill of one day against our payments and refunds.

The bill day is the provider's (WeChat Pay: Beijing time, Asia/Shanghai). Every row of the bill
is looked up by its number (out_trade_no, out_refund_no) among all our payments; every payment
we completed that day (SUCCEEDED) and every refund that came back (REFUNDED) is looked for in
the bill. What does not agree is a difference:

    MISSING_OURS    in the bill, but unknown to us, or not succeeded / not refunded with us
    MISSING_THEIRS  succeeded (refunded) with us that day, not in the bill
    AMOUNT          on both sides, with different amounts
    STATE           on both sides, in states that disagree (a refund REFUNDED with us that the
                    bill does not show SUCCESS, a payment the bill shows REVOKED)

A run is stored per (provider, day); running the day again replaces its unresolved differences
(one resolved with a note stays resolved). `reconcile_yesterday` is the daily job."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol
from uuid import UUID
from zoneinfo import ZoneInfo

from domain.errors import OrderError, OrderErrorCode
from domain.ids import new_id
from domain.locations.model import DEFAULT_TIMEZONE
from domain.ordering.model import Payment, PaymentKind, PaymentStatus

if TYPE_CHECKING:
    from domain.ordering.deps import ReconciliationDeps

log = logging.getLogger("omnishelf.reconcile")
BILL_ZONE = ZoneInfo(DEFAULT_TIMEZONE)  # WeChat Pay's bill days are Beijing days
BILL_READY_HOUR = 10  # WeChat makes yesterday's bill from 9:00 and advises fetching after 10:00
PAID = "SUCCESS"  # the bill's trade state of a payment
REFUND = "REFUND"  # the bill's trade state of a refund row
MAX_NOTE = 500


class DifferenceKind(StrEnum):
    MISSING_OURS = "MISSING_OURS"
    MISSING_THEIRS = "MISSING_THEIRS"
    AMOUNT = "AMOUNT"
    STATE = "STATE"


@dataclass(frozen=True)
class BillRow:
    """One detail row of a trade bill, amounts in fen. A refund row (trade_state REFUND)
    carries the refund's number, amount and state; a payment row leaves them empty."""

    trade_no: str  # our out_trade_no
    trade_state: str  # SUCCESS, REFUND, REVOKED, ...
    amount: int  # what the order asked (WeChat: 订单金额)
    transaction_id: str = ""
    refund_no: str = ""  # our out_refund_no
    refund_amount: int = 0  # what the refund asked (WeChat: 申请退款金额)
    refund_state: str = ""  # SUCCESS, PROCESSING, ABNORMAL, CLOSED

    @property
    def is_refund(self) -> bool:
        return self.trade_state == REFUND

    @property
    def settled(self) -> tuple[int, str]:
        """The amount and state the row reports: the refund's for a refund row."""
        if self.is_refund:
            return self.refund_amount, self.refund_state
        return self.amount, self.trade_state


class BillUnavailable(Exception):
    """The provider could not give the bill (not made yet, refused, unreachable, or a file
    that is not the one it announced)."""


class BillSource(Protocol):
    name: str

    async def trade_bill(self, day: date) -> list[BillRow]:
        """Every row of the provider's trade bill of `day` ([] for a day without trades), or
        BillUnavailable."""
        ...


@dataclass(frozen=True)
class Found:
    """A difference as `compare` finds it: the number, and each side as it stands."""

    kind: DifferenceKind
    reference: str
    ours: Payment | None
    theirs: BillRow | None


@dataclass(frozen=True)
class Difference:
    id: UUID
    run_id: UUID
    kind: DifferenceKind
    reference: str  # out_trade_no or out_refund_no
    order_number: str | None
    our_amount: int | None
    their_amount: int | None
    our_state: str | None
    their_state: str | None
    found_at: datetime
    resolved_at: datetime | None = None
    resolved_by: UUID | None = None
    note: str = ""


@dataclass(frozen=True)
class Totals:
    """One side of a day: how many payments and refunds, and their sums in fen."""

    payments: int = 0
    paid: int = 0
    refunds: int = 0
    refunded: int = 0


@dataclass(frozen=True)
class ReconciliationRun:
    id: UUID
    provider: str
    day: date
    ran_at: datetime
    bill: Totals = field(default_factory=Totals)
    ours: Totals = field(default_factory=Totals)
    unresolved: int = 0


class ReconciliationRepository(Protocol):
    async def settled_between(self, provider: str, start: datetime, end: datetime) -> list[Payment]:
        """Payments SUCCEEDED and refunds REFUNDED with `completed_at` in [start, end)."""
        ...

    async def payments_by_refs(self, provider: str, refs: Sequence[str]) -> list[Payment]: ...

    async def save_run(self, run: ReconciliationRun, differences: Sequence[Difference]) -> int:
        """Store the run of (provider, day), replacing the one before: its unresolved
        differences give way to `differences`, less those resolved already (same kind and
        number). Returns how many are unresolved now."""
        ...

    async def run_of(
        self, provider: str, day: date
    ) -> tuple[ReconciliationRun, list[Difference]] | None: ...

    async def resolve(self, difference_id: UUID, by: UUID, note: str, at: datetime) -> bool:
        """Mark the difference resolved, only if it is not yet; False otherwise."""
        ...

    async def difference(self, difference_id: UUID) -> Difference | None: ...


def bill_day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(), BILL_ZONE)
    return start, datetime.combine(day + timedelta(days=1), time(), BILL_ZONE)


def totals_of_bill(bill: Sequence[BillRow]) -> Totals:
    paid = [r for r in bill if r.trade_state == PAID]
    refunds = [r for r in bill if r.is_refund]
    return Totals(
        len(paid), sum(r.amount for r in paid), len(refunds), sum(r.refund_amount for r in refunds)
    )


def totals_of_ours(settled: Sequence[Payment]) -> Totals:
    paid = [p for p in settled if p.kind is PaymentKind.PAYMENT]
    refunds = [p for p in settled if p.kind is PaymentKind.REFUND]
    return Totals(
        len(paid), sum(p.amount for p in paid), len(refunds), sum(p.amount for p in refunds)
    )


def _refund_states_disagree(ours: PaymentStatus, theirs: str) -> bool:
    """REFUNDED with us is SUCCESS there, and SUCCESS there is REFUNDED with us; a refund on its
    way (PROCESSING) or failed on either side is otherwise not a difference of states."""
    return (ours is PaymentStatus.REFUNDED) != (theirs == PAID)


def compare(
    bill: Sequence[BillRow], settled: Sequence[Payment], known: Mapping[str, Payment]
) -> list[Found]:
    """The differences between the bill and ours: `settled` is what we completed on the bill's
    day, `known` every payment of ours (any day) whose number the bill names."""
    found: list[Found] = []
    in_bill: set[tuple[PaymentKind, str]] = set()
    for row in bill:
        if row.is_refund:
            in_bill.add((PaymentKind.REFUND, row.refund_no))
            refund = known.get(row.refund_no)
            if refund is None or refund.kind is not PaymentKind.REFUND:
                found.append(Found(DifferenceKind.MISSING_OURS, row.refund_no, None, row))
            elif refund.amount != row.refund_amount:
                found.append(Found(DifferenceKind.AMOUNT, row.refund_no, refund, row))
            elif _refund_states_disagree(refund.status, row.refund_state):
                found.append(Found(DifferenceKind.STATE, row.refund_no, refund, row))
            continue
        in_bill.add((PaymentKind.PAYMENT, row.trade_no))
        payment = known.get(row.trade_no)
        ours = payment if payment is not None and payment.kind is PaymentKind.PAYMENT else None
        succeeded = ours is not None and ours.status is PaymentStatus.SUCCEEDED
        if row.trade_state != PAID:
            if succeeded:  # REVOKED, or a state a paid transaction should not be in
                found.append(Found(DifferenceKind.STATE, row.trade_no, ours, row))
        elif not succeeded:
            found.append(Found(DifferenceKind.MISSING_OURS, row.trade_no, ours, row))
        elif ours is not None and ours.amount != row.amount:
            found.append(Found(DifferenceKind.AMOUNT, row.trade_no, ours, row))
    for payment in settled:
        if (payment.kind, payment.provider_ref) not in in_bill:
            found.append(Found(DifferenceKind.MISSING_THEIRS, payment.provider_ref, payment, None))
    return found


def _difference(run_id: UUID, item: Found, numbers: Mapping[UUID, str], at: datetime) -> Difference:
    ours, theirs = item.ours, item.theirs
    return Difference(
        new_id(),
        run_id,
        item.kind,
        item.reference,
        numbers.get(ours.order_id) if ours is not None else None,
        ours.amount if ours is not None else None,
        theirs.settled[0] if theirs is not None else None,
        ours.status.value if ours is not None else None,
        theirs.settled[1] if theirs is not None else None,
        at,
    )


async def reconcile(
    deps: ReconciliationDeps, provider: str, day: date
) -> tuple[ReconciliationRun, list[Difference]]:
    """Fetch the provider's bill of `day` (outside any transaction), compare it with our books
    and store the run. Raises OrderError NOT_FOUND for a provider without a bill, and
    BillUnavailable when the provider cannot give it."""
    source = deps.bills.get(provider)
    if source is None:
        raise OrderError(
            OrderErrorCode.NOT_FOUND, f"{provider!r} publishes no bill to reconcile.", ["provider"]
        )
    bill = await source.trade_bill(day)
    start, end = bill_day_bounds(day)
    refs = sorted({r.refund_no if r.is_refund else r.trade_no for r in bill})
    now = deps.clock.now()
    async with deps.uow() as uow:
        settled = await uow.reconciliations.settled_between(provider, start, end)
        known = {
            p.provider_ref: p for p in await uow.reconciliations.payments_by_refs(provider, refs)
        }
        found = compare(bill, settled, known)
        order_ids = list({f.ours.order_id for f in found if f.ours is not None})
        numbers = {o.id: o.number for o in await uow.orders.get_many(order_ids)}
        run = ReconciliationRun(
            new_id(), provider, day, now, totals_of_bill(bill), totals_of_ours(settled)
        )
        differences = [_difference(run.id, item, numbers, now) for item in found]
        await uow.reconciliations.save_run(run, differences)
        stored = await uow.reconciliations.run_of(provider, day)
    assert stored is not None
    log.info(
        "reconciled",
        extra={"provider": provider, "day": day.isoformat(), "unresolved": stored[0].unresolved},
    )
    return stored


def bill_yesterday(now: datetime) -> date | None:
    """The bill day to reconcile at `now`: yesterday (Beijing), once WeChat has made it."""
    local = now.astimezone(BILL_ZONE)
    if local.hour < BILL_READY_HOUR:
        return None
    return local.date() - timedelta(days=1)


async def reconcile_yesterday(deps: ReconciliationDeps) -> int:
    """The daily job (it runs every hour): reconcile yesterday's bill of each provider that
    has none stored yet, from 10:00 Beijing. A bill not ready yet is tried again next hour.
    Returns the unresolved differences found."""
    day = bill_yesterday(deps.clock.now())
    if day is None:
        return 0
    unresolved = 0
    for provider in deps.bills:
        async with deps.uow() as uow:
            if await uow.reconciliations.run_of(provider, day) is not None:
                continue
        try:
            run, _ = await reconcile(deps, provider, day)
        except BillUnavailable as error:
            log.warning("bill unavailable", extra={"provider": provider, "why": str(error)})
            continue
        unresolved += run.unresolved
    return unresolved


async def reconciliation_of(
    deps: ReconciliationDeps, provider: str, day: date
) -> tuple[ReconciliationRun, list[Difference]] | None:
    async with deps.uow() as uow:
        return await uow.reconciliations.run_of(provider, day)


async def resolve_difference(
    deps: ReconciliationDeps, by: UUID, difference_id: UUID, note: str
) -> Difference:
    """Mark a difference settled by hand, with what was done (the note)."""
    note = note.strip()
    if not 1 <= len(note) <= MAX_NOTE:
        raise OrderError(
            OrderErrorCode.INVALID_INPUT,
            f"Say what was done in 1 to {MAX_NOTE} characters.",
            ["note"],
        )
    async with deps.uow() as uow:
        if not await uow.reconciliations.resolve(difference_id, by, note, deps.clock.now()):
            known = await uow.reconciliations.difference(difference_id)
            if known is None:
                raise OrderError(OrderErrorCode.NOT_FOUND, "Unknown difference.", ["id"])
            raise OrderError(
                OrderErrorCode.ILLEGAL_TRANSITION, "The difference is resolved already.", ["id"]
            )
        resolved = await uow.reconciliations.difference(difference_id)
    assert resolved is not None
    return resolved
