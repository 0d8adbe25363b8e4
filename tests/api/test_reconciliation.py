"""Reconciliation of WeChat Pay (issue 15) end to end: orders paid and refunded through the fake
WeChat Pay server, whose trade bill of the Beijing day is downloaded (signed request, SHA1 of the
file), compared with our payments and refunds, stored, read by ADMIN (`paymentReconciliation`)
and resolved (`resolveReconciliationDifference`). A crafted bill makes each kind of difference;
a clean day has none; running a day again replaces its unresolved differences only."""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from domain.catalog.model import Variant
from domain.identity.model import StaffRole
from domain.ordering.reconcile import (
    BillUnavailable,
    reconcile,
    reconcile_yesterday,
    reconciliation_of,
)
from domain.ordering.refunds import process_refunds
from infra.doctor import run_checks
from infra.reconcile_command import run as reconcile_command
from infra.runtime import Runtime
from tests.fakes.wechatpay_server import FakeWeChatPay
from tests.support import MovableClock
from tests.support.api import Api, staff_api
from tests.support.orders import CANCEL, lid, make_variants, order_input, placed, read, receive
from tests.support.orders import start_payment as pay_order
from tests.support.shoppers import Shopper, shopper
from tests.support.wechatpay import wechatpay_on

PRICE = 1990
HOOK = "/webhooks/payments/wechatpay"
RECONCILIATION = """query($d: Date!) { paymentReconciliation(date: $d) {
  provider date unresolved
  bill { payments paid refunds refunded } ours { payments paid refunds refunded }
  differences { id kind reference orderNumber ourAmount theirAmount ourState theirState
                resolvedAt note } } }"""
RESOLVE = """mutation($i: ResolveReconciliationDifferenceInput!) {
  resolveReconciliationDifference(input: $i) {
    difference { kind reference resolvedAt resolvedBy note } errors { code field } } }"""


@pytest.fixture
async def wechat(runtime: Runtime, clock: MovableClock) -> AsyncIterator[FakeWeChatPay]:
    async with wechatpay_on(runtime, clock) as fake:
        yield fake


@pytest.fixture
def day(clock: MovableClock) -> date:
    """Yesterday in Beijing, at noon: nothing near the day's edges."""
    bill_day = clock.today() - timedelta(days=1)
    clock.put(bill_day, hour=12)
    return bill_day


@pytest.fixture
async def mango(runtime: Runtime, stores: dict[str, Any]) -> Variant:
    (variant,) = await make_variants(runtime, ("M-1", "1kg", PRICE))
    await receive(runtime, stores["SH-A"].id, variant, 50)
    return variant


@pytest.fixture
async def member(api: Api, day: date) -> Shopper:  # signed in on the bill day
    return await shopper(api, "open-wechat-reconciled")


@pytest.fixture
async def admin(api: Api, runtime: Runtime, day: date) -> Api:
    return await staff_api(api, runtime, "admin-books", StaffRole.ADMIN, [])


class Shop:
    def __init__(
        self,
        client: httpx.AsyncClient,
        wechat: FakeWeChatPay,
        member: Shopper,
        stores: dict[str, Any],
        mango: Variant,
    ):
        self.client, self.wechat, self.member = client, wechat, member
        self.stores, self.mango = stores, mango

    async def order(self, quantity: int = 1) -> tuple[dict[str, Any], str]:
        """An order with a WeChat Pay payment started (not paid): (order, out_trade_no)."""
        order = await placed(
            self.member.api, order_input([(self.mango, quantity)], pickup=lid(self.stores, "SH-A"))
        )
        started = await pay_order(self.member.api, order["id"], "wechatpay")
        return order, started["payment"]["paymentRef"]

    async def notify(self, body: bytes) -> None:
        hook = await self.client.post(HOOK, content=body, headers=self.wechat.signed_headers(body))
        assert hook.status_code == 204, hook.text

    async def paid(self, quantity: int = 1) -> tuple[dict[str, Any], str]:
        order, ref = await self.order(quantity)
        self.wechat.pay(ref)
        await self.notify(self.wechat.notification(ref))
        assert (await read(self.member.api, order["id"]))["status"] == "PAID"
        return order, ref

    async def cancel(self, order: dict[str, Any]) -> None:
        done = await self.member.api.data(CANCEL, {"o": order["id"], "r": "changed my mind"})
        assert done["cancelOrder"]["errors"] == [], done


@pytest.fixture
def shop(
    client: httpx.AsyncClient,
    wechat: FakeWeChatPay,
    member: Shopper,
    stores: dict[str, Any],
    mango: Variant,
) -> Shop:
    return Shop(client, wechat, member, stores, mango)


async def seen(admin: Api, day: date) -> dict[str, Any] | None:
    found: dict[str, Any] | None = (await admin.data(RECONCILIATION, {"d": day.isoformat()}))[
        "paymentReconciliation"
    ]
    return found


def differences(found: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [
        (
            d["kind"],
            d["reference"],
            d["orderNumber"],
            d["ourAmount"],
            d["theirAmount"],
            d["ourState"],
            d["theirState"],
            d["resolvedAt"] is not None,
        )
        for d in found["differences"]
    ]


async def test_a_clean_day_reconciles_without_a_difference(
    runtime: Runtime,
    shop: Shop,
    wechat: FakeWeChatPay,
    admin: Api,
    day: date,
    capsys: pytest.CaptureFixture[str],
) -> None:
    await shop.paid(1)
    refunded, _ = await shop.paid(2)
    wechat.refund_answer = "SUCCESS"  # the money is back at once
    await shop.cancel(refunded)
    assert await process_refunds(runtime.ordering) == 1

    code = await reconcile_command(runtime, argparse.Namespace(date=day, provider="wechatpay"))
    assert code == 0
    assert "0 unresolved differences, 0 resolved" in capsys.readouterr().out
    assert wechat.bills.asked == [day.isoformat()] and len(wechat.bills.downloads) == 1

    found = await seen(admin, day)
    assert found is not None
    totals = {"payments": 2, "paid": 3 * PRICE, "refunds": 1, "refunded": 2 * PRICE}
    assert (found["bill"], found["ours"]) == (totals, totals)
    assert (found["unresolved"], found["differences"]) == (0, [])
    assert (await run_checks(["reconciliation"])).failing() == []

    # A day without trades: WeChat has no bill (NO_STATEMENT_EXIST), nothing to disagree on.
    quiet = day - timedelta(days=1)
    run, found_quiet = await reconcile(runtime.reconciliation, "wechatpay", quiet)
    assert (run.bill.payments, run.ours.payments, run.unresolved, found_quiet) == (0, 0, 0, [])
    assert await seen(admin, day - timedelta(days=2)) is None  # never reconciled


async def test_a_crafted_bill_shows_each_kind_of_difference_with_order_numbers(
    runtime: Runtime,
    shop: Shop,
    wechat: FakeWeChatPay,
    admin: Api,
    day: date,
    capsys: pytest.CaptureFixture[str],
) -> None:
    agrees, agrees_ref = await shop.paid(1)
    charged, charged_ref = await shop.paid(1)  # WeChat's bill says 19.91
    unbilled, unbilled_ref = await shop.paid(3)  # missing from WeChat's bill
    lost, lost_ref = await shop.order(2)
    wechat.pay(lost_ref)  # paid at WeChat; the notification never came
    refunded, _ = await shop.paid(2)
    wechat.refund_answer = "SUCCESS"
    await shop.cancel(refunded)
    assert await process_refunds(runtime.ordering) == 1
    (refund_no,) = wechat.refunds

    rows = wechat.bills.rows(wechat, day)
    assert [r["商户订单号"] for r in rows].count(unbilled_ref) == 1
    rows = [r for r in rows if r["商户订单号"] != unbilled_ref]
    for row in rows:
        if row["交易状态"] == "SUCCESS" and row["商户订单号"] == charged_ref:
            row["订单金额"] = row["应结订单金额"] = "19.91"
        if row["交易状态"] == "REFUND":
            row["退款状态"] = "PROCESSING"
    stranger = dict(rows[0], 商户订单号="ffffffffffffffffffffffffffffffff", 订单金额="88.00")
    wechat.bills.craft(day, [*rows, stranger])

    code = await reconcile_command(runtime, argparse.Namespace(date=day, provider="wechatpay"))
    printed = capsys.readouterr().out
    assert code == 1
    for order in (charged, unbilled, lost, refunded):
        assert order["number"] in printed
    assert "4 unresolved" not in printed and "5 unresolved differences, 0 resolved" in printed

    found = await seen(admin, day)
    assert found is not None
    expected = [
        ("AMOUNT", charged_ref, charged["number"], PRICE, PRICE + 1, "SUCCEEDED", "SUCCESS", False),
        (
            "MISSING_OURS",
            lost_ref,
            lost["number"],
            2 * PRICE,
            2 * PRICE,
            "PENDING",
            "SUCCESS",
            False,
        ),
        ("MISSING_OURS", "f" * 32, None, None, 8800, None, "SUCCESS", False),
        (
            "MISSING_THEIRS",
            unbilled_ref,
            unbilled["number"],
            3 * PRICE,
            None,
            "SUCCEEDED",
            None,
            False,
        ),
        (
            "STATE",
            refund_no,
            refunded["number"],
            2 * PRICE,
            2 * PRICE,
            "REFUNDED",
            "PROCESSING",
            False,
        ),
    ]
    assert differences(found) == expected
    assert agrees["number"] not in printed and agrees_ref not in str(found)
    billed = PRICE + (PRICE + 1) + 2 * PRICE + 2 * PRICE + 8800
    assert found["bill"] == {"payments": 5, "paid": billed, "refunds": 1, "refunded": 2 * PRICE}
    assert found["ours"] == {"payments": 4, "paid": 7 * PRICE, "refunds": 1, "refunded": 2 * PRICE}
    assert found["unresolved"] == 5
    report = await run_checks(["reconciliation"])
    assert report.result("reconciliation").violations == 5

    # Running the day again: the same differences, not twice.
    await reconcile(runtime.reconciliation, "wechatpay", day)
    again = await seen(admin, day)
    assert again is not None and differences(again) == expected

    # ADMIN settles the stranger's row; it stays settled when the day runs again.
    assert {d["id"] for d in again["differences"]}.isdisjoint(d["id"] for d in found["differences"])
    stranger_id = next(d["id"] for d in again["differences"] if d["reference"] == "f" * 32)
    done = (await admin.data(RESOLVE, {"i": {"id": stranger_id, "note": " another shop's "}}))[
        "resolveReconciliationDifference"
    ]
    assert done["errors"] == [] and done["difference"]["note"] == "another shop's"
    assert done["difference"]["resolvedAt"] is not None and done["difference"]["resolvedBy"]
    refused = (await admin.data(RESOLVE, {"i": {"id": stranger_id, "note": "again"}}))[
        "resolveReconciliationDifference"
    ]
    assert refused == {
        "difference": None,
        "errors": [{"code": "ILLEGAL_TRANSITION", "field": ["id"]}],
    }

    wechat.bills.craft(
        day, [r for r in wechat.bills.crafted[day] if r is not stranger] + [stranger]
    )
    await reconcile(runtime.reconciliation, "wechatpay", day)
    after = await seen(admin, day)
    assert after is not None and after["unresolved"] == 4
    assert [d for d in differences(after) if d[1] == "f" * 32] == [
        ("MISSING_OURS", "f" * 32, None, None, 8800, None, "SUCCESS", True)
    ]
    assert (await run_checks(["reconciliation"])).result("reconciliation").violations == 4

    # WeChat's own bill (nothing crafted): the lost payment is still ours to recover, the
    # others agree; the unresolved differences of the run before are replaced.
    del wechat.bills.crafted[day]
    run, _ = await reconcile(runtime.reconciliation, "wechatpay", day)
    final = await seen(admin, day)
    assert final is not None and run.unresolved == final["unresolved"] == 1
    assert [d[:3] for d in differences(final)] == [
        ("MISSING_OURS", lost_ref, lost["number"]),
        ("MISSING_OURS", "f" * 32, None),
    ]


async def test_resolving_refuses_bad_input_and_changes_nothing(
    runtime: Runtime, shop: Shop, wechat: FakeWeChatPay, admin: Api, day: date
) -> None:
    _, ref = await shop.order(1)
    wechat.pay(ref)
    await reconcile(runtime.reconciliation, "wechatpay", day)
    found = await seen(admin, day)
    assert found is not None
    (difference,) = found["differences"]

    async def resolve(id_: str, note: str) -> list[dict[str, Any]]:
        payload = (await admin.data(RESOLVE, {"i": {"id": id_, "note": note}}))[
            "resolveReconciliationDifference"
        ]
        assert payload["difference"] is None
        errors: list[dict[str, Any]] = payload["errors"]
        return errors

    unknown = "UmVjb25jaWxpYXRpb25EaWZmZXJlbmNlOjAxOTAwMDAwLTAwMDAtNzAwMC04MDAwLTAwMDAwMDAwMDAwMA=="
    assert await resolve(difference["id"], "   ") == [{"code": "INVALID_INPUT", "field": ["note"]}]
    assert await resolve(difference["id"], "x" * 501) == [
        {"code": "INVALID_INPUT", "field": ["note"]}
    ]
    assert await resolve(unknown, "done") == [{"code": "NOT_FOUND", "field": ["id"]}]
    assert await resolve("bm90LWFuLWlk", "done") == [{"code": "INVALID_ID", "field": ["id"]}]
    assert await seen(admin, day) == found


async def test_the_daily_job_reconciles_yesterday_once_after_ten_beijing(
    runtime: Runtime,
    shop: Shop,
    wechat: FakeWeChatPay,
    day: date,
    clock: MovableClock,
) -> None:
    await shop.paid(1)
    clock.put(day + timedelta(days=1), hour=9)  # 09:xx: WeChat is still making the bill
    assert await reconcile_yesterday(runtime.reconciliation) == 0
    assert wechat.bills.asked == []

    clock.put(day + timedelta(days=1), hour=10)
    wechat.bills.wrong_hash = True  # a download gone wrong: nothing stored, next hour again
    assert await reconcile_yesterday(runtime.reconciliation) == 0
    assert await reconciliation_of(runtime.reconciliation, "wechatpay", day) is None
    with pytest.raises(BillUnavailable):
        await reconcile(runtime.reconciliation, "wechatpay", day)

    wechat.bills.wrong_hash = False
    clock.advance(timedelta(hours=1))
    assert await reconcile_yesterday(runtime.reconciliation) == 0  # no difference
    found = await reconciliation_of(runtime.reconciliation, "wechatpay", day)
    assert found is not None and found[0].bill.payments == 1  # read by ADMIN the day after
    asked = len(wechat.bills.asked)
    clock.advance(timedelta(hours=1))
    assert await reconcile_yesterday(runtime.reconciliation) == 0
    assert len(wechat.bills.asked) == asked  # the day is done


async def test_a_provider_without_a_bill_is_refused(runtime: Runtime, day: date) -> None:
    from domain.errors import OrderError

    with pytest.raises(OrderError) as refused:
        await reconcile(runtime.reconciliation, "devpay", day)
    assert refused.value.code.value == "NOT_FOUND"


def test_the_command_is_documented() -> None:
    shown = subprocess.run(
        [sys.executable, "-m", "infra.cli", "reconcile", "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "--date YYYY-MM-DD" in shown and "--provider" in shown
    assert "MISSING_OURS" in shown and "Exit status" in shown
