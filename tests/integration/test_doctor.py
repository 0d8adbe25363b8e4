"""`omnishelf doctor` on a real database: silent on books the domain services wrote (also
while writers are busy), and each check catching exactly the corruption it is about."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest

from domain.aftersales.model import AfterSaleKind, Condition, ReceivedLine, RequestedLine
from domain.aftersales.review_model import ReviewDraft
from domain.aftersales.reviews import submit_review
from domain.aftersales.services import (
    AfterSaleRequest,
    decide_after_sale,
    receive_return,
    request_after_sale,
)
from domain.catalog.services import ProductDraft, VariantDraft, create_product
from domain.engagement.automations import create_automation
from domain.engagement.automations_model import (
    Action,
    ActionKind,
    AutomationDraft,
    MessageChannel,
    QuietHours,
    Trigger,
    TriggerKind,
)
from domain.engagement.automations_run import run_automations
from domain.errors import DomainError
from domain.growth import assists
from domain.growth.assists_model import CampaignDraft, Reward, Threshold
from domain.growth.group_buys import (
    CampaignTerms,
    Where,
    create_campaign,
    fail_expired_groups,
    join_group,
    open_group,
)
from domain.growth.guides import guide_share
from domain.growth.referrals import share
from domain.growth.referrals_programs import ProgramRules, create_program
from domain.identity.model import DeviceKind, Principal, PrincipalKind, StaffRole
from domain.identity.services import create_staff
from domain.ids import new_id
from domain.inventory.model import MovementKind, StockLine, TillLine
from domain.inventory.reservations import reserve
from domain.inventory.stock import Adjustment, adjust, record_pos_sale, set_on_hand
from domain.inventory.till_model import RefundMethod, ReturnedLine
from domain.inventory.till_returns import PosReturnRequest, record_pos_return
from domain.inventory.transfers import create_transfer, receive_transfer, ship_transfer
from domain.loyalty.services import adjust_points, daily_check_in
from domain.members.login import Referred, login_with_wechat
from domain.members.merge import merge_members
from domain.members.services import member_principal
from domain.ordering.checkout import Checkout, DeliveryTo, place_order
from domain.ordering.lifecycle import (
    cancel_order,
    cancel_unpaid,
    complete_pickup,
    mark_delivered,
    mark_ready,
    ship_order,
    start_preparing,
)
from domain.ordering.model import Order, SalesChannel
from domain.ordering.payments import handle_notification, pay_order, record_in_store_payment
from domain.ordering.refunds import process_refunds
from domain.outbox import deliver_due
from domain.promotions.coupons import claim_coupon
from domain.promotions.coupons_model import CouponKind, CouponRules
from domain.promotions.flash_sales import FlashSaleTerms, create_flash_sale
from domain.subscriptions import plans, renewals, services
from domain.subscriptions.model import Interval, IntervalUnit
from infra.db import sql
from infra.doctor import NAMES, UnknownCheck, run_checks
from infra.payments import SIGNATURE_HEADER, sign_body
from infra.runtime import Runtime
from tests.support import MovableClock, count_sql
from tests.support.coupons import template as coupon_template
from tests.support.db import is_postgres, test_database_url
from tests.support.racing import members as racing_members

ADMIN = Principal(kind=PrincipalKind.STAFF, id=new_id(), role=StaffRole.ADMIN)


@dataclass
class Books:
    """What the services wrote, for the corruptions to aim at."""

    stores: dict[str, Any]
    variants: dict[str, UUID]
    members: list[Principal]
    orders: dict[str, Order]
    subscription_id: UUID
    after_sale_id: UUID  # a return received damaged and refunded
    pos_return_id: UUID  # two units of a member's till sale returned, one damaged
    review_id: UUID  # Eve's review of the line she returned one of


def _staff(store_id: UUID) -> Principal:
    return Principal(
        kind=PrincipalKind.STAFF,
        id=new_id(),
        role=StaffRole.STORE_MANAGER,
        store_ids=frozenset({store_id}),
    )


async def _pay_online(runtime: Runtime, member: Principal, order: Order) -> str:
    _, request = await pay_order(runtime.ordering, member, order.id, "devpay")
    body = json.dumps(
        {
            "paymentRef": request.provider_ref,
            "amount": order.amount_due,
            "currency": "CNY",
            "status": "SUCCEEDED",
        }
    ).encode()
    headers = {SIGNATURE_HEADER: sign_body(runtime.settings.payment_secret, body)}
    return await handle_notification(runtime.ordering, "devpay", headers, body)


async def _order(
    runtime: Runtime,
    member: Principal,
    lines: dict[UUID, int],
    *,
    at: UUID | None = None,
    deliver: bool = False,
    points: int = 0,
    coupons: tuple[UUID, ...] = (),
) -> Order:
    checkout = Checkout(
        channel=SalesChannel.MINI_PROGRAM,
        lines=[StockLine(v, q) for v, q in lines.items()],
        member_id=member.id,
        pickup_location_id=None if deliver else at,
        delivery=DeliveryTo("1 Garden Rd, Shanghai", 31.3, 121.0) if deliver else None,
        points_to_redeem=points,
        coupon_ids=coupons,
    )
    return await place_order(runtime.ordering, member, checkout, None)


async def _hand_over(runtime: Runtime, staff: Principal, order: Order) -> None:
    await start_preparing(runtime.ordering, staff, order.id)
    await mark_ready(runtime.ordering, staff, order.id)
    [code] = await runtime.repos.orders.pickups_of([order.id])
    await complete_pickup(runtime.ordering, staff, order.location_id, code.code)


async def build_books(runtime: Runtime, clock: MovableClock, stores: dict[str, Any]) -> Books:
    """A little of everything, through the domain services only."""
    sh_a, sh_b, wh = stores["SH-A"].id, stores["SH-B"].id, stores["WH-1"].id
    product = await create_product(
        runtime.catalog,
        ProductDraft(
            name="Fruit",
            variants=[
                VariantDraft(code="MANGO", name="mango", price=1990),
                VariantDraft(code="KIWI", name="kiwi", price=890),
                VariantDraft(code="LYCHEE", name="lychee", price=2990),
            ],
        ),
    )
    variants = {v.code: v.id for v in await runtime.repos.catalog.variants_of([product.id])}
    mango, kiwi, lychee = variants["MANGO"], variants["KIWI"], variants["LYCHEE"]
    for location, variant, units in (
        (sh_a, mango, 50),
        (sh_a, kiwi, 50),
        (sh_a, lychee, 20),
        (wh, mango, 30),
    ):
        await adjust(
            runtime.inventory,
            ADMIN,
            Adjustment(location, variant, units, MovementKind.RECEIPT, "delivery"),
            None,
        )
    await set_on_hand(runtime.inventory, ADMIN, sh_a, kiwi, 48, 50, None, "count")
    transfer = await create_transfer(
        runtime.inventory, ADMIN, wh, sh_b, [StockLine(mango, 5)], None
    )
    await ship_transfer(runtime.inventory, ADMIN, transfer.id)
    await receive_transfer(runtime.inventory, ADMIN, transfer.id, {mango: 4})
    # A reservation held by something other than an order (inventory serves any owner).
    await reserve(runtime.inventory, [StockLine(kiwi, 1)], sh_a, "kiosk-hold:1", timedelta(hours=1))

    members = []
    for name in ("ann", "bob", "cy", "dee"):
        member, _, _ = await login_with_wechat(runtime.members, "wx-demo", f"test:doctor-{name}")
        members.append(member_principal(member))
    ann, bob, cy, dee = members
    await daily_check_in(runtime.loyalty, ann.id)
    await adjust_points(runtime.loyalty, ADMIN, ann.id, 500, "welcome gift", "gift-ann")
    await adjust_points(runtime.loyalty, ADMIN, bob.id, 300, "welcome gift", "gift-bob")
    await adjust_points(runtime.loyalty, ADMIN, dee.id, 200, "welcome gift", "gift-dee")

    staff_a = _staff(sh_a)
    orders: dict[str, Order] = {}
    # Paid online with points, collected: points earned, stock committed.
    orders["collected"] = await _order(runtime, ann, {mango: 2}, at=sh_a, points=100)
    assert await _pay_online(runtime, ann, orders["collected"]) == "paid"
    await _hand_over(runtime, staff_a, orders["collected"])
    # Paid at the till, waiting on the shelf with its pickup code.
    orders["ready"] = await _order(runtime, bob, {kiwi: 1}, at=sh_a)
    await record_in_store_payment(
        runtime.ordering, staff_a, orders["ready"].id, "CASH", orders["ready"].amount_due
    )
    await start_preparing(runtime.ordering, staff_a, orders["ready"].id)
    await mark_ready(runtime.ordering, staff_a, orders["ready"].id)
    # Cancelled before payment: points hold released.
    orders["cancelled_unpaid"] = await _order(runtime, ann, {lychee: 1}, at=sh_a, points=50)
    await cancel_order(runtime.ordering, ann, orders["cancelled_unpaid"].id, "changed my mind")
    # Paid with points, then cancelled by the store: refund, redemption reversed.
    orders["refunded"] = await _order(runtime, bob, {mango: 1}, at=sh_a, points=100)
    assert await _pay_online(runtime, bob, orders["refunded"]) == "paid"
    await cancel_order(runtime.ordering, staff_a, orders["refunded"].id, "out of stock")
    # Delivered from the warehouse.
    orders["delivered"] = await _order(runtime, cy, {mango: 1}, deliver=True)
    assert await _pay_online(runtime, cy, orders["delivered"]) == "paid"
    warehouse = _staff(wh)
    await ship_order(runtime.ordering, warehouse, orders["delivered"].id)
    await mark_delivered(runtime.ordering, warehouse, orders["delivered"].id)
    # Paid after the member cancelled it: the late payment is refunded.
    orders["late_payment"] = await _order(runtime, cy, {kiwi: 2}, at=sh_a)
    _, request = await pay_order(runtime.ordering, cy, orders["late_payment"].id, "devpay")
    await cancel_order(runtime.ordering, cy, orders["late_payment"].id, "too slow")
    body = json.dumps(
        {"paymentRef": request.provider_ref, "amount": 1780, "status": "SUCCEEDED"}
    ).encode()
    headers = {SIGNATURE_HEADER: sign_body(runtime.settings.payment_secret, body)}
    assert await handle_notification(runtime.ordering, "devpay", headers, body) == "refunded"
    # Unpaid, and a till sale takes its goods: its reservation goes AT_RISK.
    orders["at_risk"] = await _order(runtime, dee, {lychee: 2}, at=sh_a)
    till = Principal(
        kind=PrincipalKind.DEVICE,
        id=new_id(),
        device_kind=DeviceKind.POS,
        store_ids=frozenset({sh_a}),
    )
    await record_pos_sale(
        runtime.inventory, till, sh_a, "till-1", [TillLine(lychee, 19, 19 * 2590)], dee.id
    )
    # Two of them come back at the till, one damaged: written off, points taken back.
    pos_return = await record_pos_return(
        runtime.inventory,
        till,
        PosReturnRequest(
            sh_a,
            "till-1",
            [
                ReturnedLine(lychee, 1, Condition.RESALEABLE),
                ReturnedLine(lychee, 1, Condition.DAMAGED),
            ],
            RefundMethod.CASH,
            "too ripe",
        ),
    )
    # Still waiting for payment, points held.
    orders["unpaid"] = await _order(runtime, dee, {kiwi: 1}, at=sh_a, points=100)

    # Subscriptions: one renewed and paid, then a delivery skipped; one whose card bounces.
    plan = await plans.create_plan(
        runtime.subscriptions, "Weekly kiwi", [kiwi], Interval(IntervalUnit.WEEK, 1), 10, 0
    )
    subscription_ids = []
    for member, agreement in ((ann, "agreement-ann"), (bob, "agreement-bob")):
        subscription = await services.create_subscription(
            runtime.subscriptions,
            member,
            services.SignUp(
                plan.id,
                [StockLine(kiwi, 1)],
                clock.today() + timedelta(days=1),
                pickup_location_id=sh_a,
                payment_agreement=agreement,
            ),
            None,
        )
        subscription_ids.append(subscription.id)
    runtime.agreements.decline("agreement-bob")
    await renewals.renew_due(runtime.subscriptions)
    await services.skip_next(runtime.subscriptions, ann, subscription_ids[0])

    # Bob's record absorbs Cy's: orders, points and subscriptions move with it.
    await merge_members(runtime.members, ADMIN, cy.id, bob.id, "same person")

    # Deliver the notifications once, one failing (retried later).
    runtime.notifier.fail_next(1)  # type: ignore[attr-defined]
    await deliver_due(runtime.outbox_deps)
    # The payment-timeout job cancels what is left unpaid (releasing stock and points)...
    clock.advance(timedelta(minutes=20))
    assert await cancel_unpaid(runtime.ordering) == 2
    # The refund job submits both refunds (devpay accepts them) and completes one by polling.
    assert await process_refunds(runtime.ordering) == 2
    await sql.execute(
        "UPDATE order_payment SET next_attempt_at = $1 WHERE order_id = $2 AND kind = 'REFUND'",
        clock.now(),
        orders["refunded"].id,
    )
    clock.advance(timedelta(seconds=1))
    assert await process_refunds(runtime.ordering) == 1
    # ...and a new order waits.
    orders["pending"] = await _order(runtime, ann, {mango: 1}, at=sh_a, points=100)
    # Eve returns one of two kiwis (paid partly with points): it comes back damaged and is
    # written off; for the other she gets her money back without returning it. Her next
    # order took ¥3 off with a coupon (held by the order, spent when it was paid).
    # Eve came with Ann's referral code: her first order handed over rewards both, and its
    # full refund below takes the rewards back.
    now = clock.now()
    rules = ProgramRules("老带新", now, now + timedelta(days=30), 5, 500, None, 100)
    await create_program(runtime.referrals, ADMIN, rules)
    ann_code = (await share(runtime.referrals, ann.id)).code
    # She opened a shop clerk's share too: her orders are attributed to that guide.
    guide = await create_staff(
        runtime.auth, "doctor-guide", "correct-horse-battery", StaffRole.STORE_CLERK, [sh_a]
    )
    guide_code = (await guide_share(runtime.guides, guide.principal(), sh_a)).code
    eve = member_principal(
        (
            await login_with_wechat(
                runtime.members,
                "wx-demo",
                "test:doctor-eve",
                referred=Referred(ann_code, guide_code=guide_code),
            )
        )[0]
    )
    await adjust_points(runtime.loyalty, ADMIN, eve.id, 300, "welcome gift", "gift-eve")
    no_minimum = CouponRules(CouponKind.NO_THRESHOLD, amount_off=300)
    offered = await coupon_template(runtime, name="¥3 off", rules=no_minimum)
    eve_coupon, _ = await claim_coupon(runtime.coupons, eve, offered.id)
    orders["returned"] = await _order(runtime, eve, {kiwi: 2}, at=sh_a, points=100)
    assert await _pay_online(runtime, eve, orders["returned"]) == "paid"
    await _hand_over(runtime, staff_a, orders["returned"])
    [line] = orders["returned"].lines
    returned, refund_only = [
        await request_after_sale(
            runtime.aftersales,
            eve,
            AfterSaleRequest(orders["returned"].id, kind, [RequestedLine(line.id, 1)], "bruised"),
        )
        for kind in (AfterSaleKind.RETURN_AND_REFUND, AfterSaleKind.REFUND_ONLY)
    ]
    for after_sale in (returned, refund_only):
        await decide_after_sale(runtime.aftersales, ADMIN, after_sale.id, True)
    await receive_return(
        runtime.aftersales,
        staff_a,
        returned.id,
        sh_a,
        [ReceivedLine(line.id, 1, Condition.DAMAGED)],
    )
    # A flash sale: one order holds a unit at the sale price, one cancelled gave it back.
    hot = await create_product(
        runtime.catalog,
        ProductDraft(name="Hot", variants=[VariantDraft(code="FLASH", name="flash", price=1000)]),
    )
    [flash] = await runtime.repos.catalog.variants_of([hot.id])
    await adjust(
        runtime.inventory,
        ADMIN,
        Adjustment(sh_a, flash.id, 10, MovementKind.RECEIPT, "delivery"),
        None,
    )
    now = clock.now()
    terms = FlashSaleTerms(500, now, now + timedelta(hours=1), 5, 2, (sh_a,))
    await create_flash_sale(runtime.flash_sales, ADMIN, flash.id, terms)
    orders["flash"] = await _order(runtime, ann, {flash.id: 1}, at=sh_a)
    orders["flash_cancelled"] = await _order(runtime, dee, {flash.id: 1}, at=sh_a)
    await cancel_order(runtime.ordering, dee, orders["flash_cancelled"].id, "changed my mind")
    # Coupons: Eve's took ¥3 off her next order (paid); Ann's waits.
    orders["couponed"] = await _order(runtime, eve, {lychee: 1}, at=sh_a, coupons=(eve_coupon.id,))
    assert await _pay_online(runtime, eve, orders["couponed"]) == "paid"
    await claim_coupon(runtime.coupons, members[0], offered.id)
    # Friend-assist: three helpers reach the threshold of Tia's task (50 points); the first
    # also helps Uma's and Vic's tasks: three assists today, the cap.
    tia, uma, vic, *helpers = await racing_members(runtime, 6, "assist")
    campaign = await assists.create_campaign(
        runtime.assists, ADMIN, CampaignDraft("助力", (Threshold(3, Reward(points=50)),), 72)
    )
    tasks = [await assists.start_assist(runtime.assists, m, campaign.id) for m in (tia, uma, vic)]
    for helper in helpers:
        await assists.assist(runtime.assists, helper, tasks[0].task.id)
    for view in tasks[1:]:
        await assists.assist(runtime.assists, helpers[0], view.task.id)
    review = await submit_review(runtime.reviews, eve, ReviewDraft(line.id, 4, "juicy", []))
    await _group_buys(runtime, clock, sh_a, (ann, dee, eve), orders)
    await _automations(runtime)
    return Books(
        stores,
        variants,
        members,
        orders,
        subscription_ids[0],
        returned.id,
        pos_return.id,
        review.id,
    )


async def _automations(runtime: Runtime) -> None:
    """Automations on members with points that expire within the year (Eve's and others'):
    one grants a coupon of its own template with a notice (left out without consent), one
    sends a message (blocked without consent). No points: the ledger checks count them."""
    expiring = Trigger(TriggerKind.POINTS_EXPIRING, 400)
    template = await coupon_template(runtime, name="回访券")
    for action in (
        Action(ActionKind.GRANT_COUPON, template.id, None, MessageChannel.WECHAT, "送您一张券"),
        Action(ActionKind.SEND_SMS, text="积分快到期了"),
    ):
        await create_automation(
            runtime.automations,
            ADMIN,
            AutomationDraft(action.kind.value, expiring, action, quiet=QuietHours(0, 0)),
        )  # no quiet hours: the books are written at any hour
    assert (await run_automations(runtime.automations)).counts.get("DONE")


async def _group_buys(
    runtime: Runtime,
    clock: MovableClock,
    store: UUID,
    who: tuple[Principal, Principal, Principal],
    orders: dict[str, Order],
) -> None:
    """Group-buys of two: Ann's completes (Dee joins, both pay); Eve's fails at its time limit
    with her seat paid, so the job cancels her order and records its refund."""
    ann, dee, eve = who
    product = await create_product(
        runtime.catalog,
        ProductDraft(name="Peach", variants=[VariantDraft(code="GROUP", name="2kg", price=5900)]),
    )
    [peach] = await runtime.repos.catalog.variants_of([product.id])
    await adjust(
        runtime.inventory, ADMIN, Adjustment(store, peach.id, 10, MovementKind.RECEIPT, "in"), None
    )
    now = clock.now()
    campaign = await create_campaign(
        runtime.group_buys,
        ADMIN,
        CampaignTerms(
            peach.id, 3900, 2, timedelta(minutes=5), 1, now, now + timedelta(days=1), 10, (store,)
        ),
        None,
    )
    group, orders["group_leader"] = await open_group(
        runtime.group_buys, ann, campaign.id, Where(store)
    )
    _, orders["group_member"] = await join_group(runtime.group_buys, dee, group.id, Where(store))
    _, orders["group_failed"] = await open_group(runtime.group_buys, eve, campaign.id, Where(store))
    for member, key in ((ann, "group_leader"), (dee, "group_member"), (eve, "group_failed")):
        assert await _pay_online(runtime, member, orders[key]) == "paid"
    clock.advance(timedelta(minutes=6))
    assert await fail_expired_groups(runtime.group_buys) == 2  # one group, one order


@pytest.fixture
async def books(runtime: Runtime, clock: MovableClock, stores: dict[str, Any]) -> Books:
    return await build_books(runtime, clock, stores)


async def test_the_books_the_services_wrote_pass_every_check(
    books: Books, clock: MovableClock
) -> None:
    report = await run_checks(now=clock.now())
    assert [r.name for r in report.results] == list(NAMES)
    assert report.exit_code == 0, report.text()
    assert "none failing" in report.text()
    assert report.as_json()["ok"] is True


def _order_owner(order: Order) -> str:
    return f"order:{order.id}"


async def _first_id(query: str, *args: Any) -> Any:
    rows = await sql.fetch(query, *args)
    assert rows, query
    return rows[0]["id"]


async def corrupt_stock_ledger(books: Books) -> None:
    await sql.execute(
        "UPDATE stock_level SET on_hand = on_hand + 2 WHERE location_id = $1 AND variant_id = $2",
        books.stores["SH-A"].id,
        books.variants["MANGO"],
    )


async def corrupt_stock_reserved(books: Books) -> None:
    await sql.fetch(
        "INSERT INTO stock_reservation (id, owner, location_id, variant_id, quantity, state, "
        "expires_at, created_at) VALUES ($1, 'kiosk-hold:2', $2, $3, 1, 'ACTIVE', $4, $4) "
        "RETURNING id",
        new_id(),
        books.stores["SH-A"].id,
        books.variants["KIWI"],
        books.orders["pending"].created_at,
    )


async def corrupt_finished_reservations(books: Books) -> None:
    await sql.execute(
        "UPDATE stock_reservation SET owner = $1 WHERE owner = 'kiosk-hold:1'",
        _order_owner(books.orders["refunded"]),
    )


async def corrupt_open_reservations(books: Books) -> None:
    await sql.execute(
        "UPDATE stock_reservation SET owner = 'kiosk-hold:3' WHERE owner = $1",
        _order_owner(books.orders["ready"]),
    )


async def corrupt_order_totals(books: Books) -> None:
    await sql.execute(
        "UPDATE order_line SET unit_price = unit_price + 1 WHERE order_id = $1",
        books.orders["delivered"].id,
    )


async def corrupt_order_payments(books: Books) -> None:
    await sql.execute("DELETE FROM order_payment WHERE order_id = $1", books.orders["ready"].id)


async def corrupt_refunds_within_paid(books: Books) -> None:
    await sql.execute(
        "UPDATE order_payment SET refund_of = NULL WHERE order_id = $1 AND kind = 'REFUND'",
        books.orders["late_payment"].id,
    )


async def corrupt_refund_submissions(books: Books) -> None:
    await sql.execute(
        "UPDATE order_payment SET next_attempt_at = NULL WHERE order_id = $1 AND kind = 'REFUND'",
        books.orders["late_payment"].id,
    )


async def corrupt_reconciliation(books: Books) -> None:
    # What `omnishelf reconcile` stores when the bill charged more than we asked; left open.
    run_id, order = new_id(), books.orders["late_payment"]
    await sql.execute(
        "INSERT INTO reconciliation_run (id, provider, day, ran_at, bill_payments, bill_paid, "
        "bill_refunds, bill_refunded, our_payments, our_paid, our_refunds, our_refunded) "
        "VALUES ($1, 'wechatpay', $2, $3, 1, 1991, 0, 0, 1, 1990, 0, 0)",
        run_id,
        order.created_at.date(),
        order.created_at,
    )
    await sql.execute(
        "INSERT INTO reconciliation_difference (id, run_id, kind, reference, order_number, "
        "our_amount, their_amount, our_state, their_state, found_at, note) "
        "VALUES ($1, $2, 'AMOUNT', 'feed', $3, 1990, 1991, 'SUCCEEDED', 'SUCCESS', $4, '')",
        new_id(),
        run_id,
        order.number,
        order.created_at,
    )


async def corrupt_pickup_codes(books: Books) -> None:
    await sql.execute("DELETE FROM pickup_code WHERE order_id = $1", books.orders["ready"].id)


async def corrupt_order_points(books: Books) -> None:
    await sql.execute(
        "UPDATE points_hold SET state = 'RELEASED' WHERE owner = $1",
        _order_owner(books.orders["collected"]),
    )


async def corrupt_points_entries(books: Books) -> None:
    entry = await _first_id(
        "SELECT id FROM points_entry WHERE member_id = $1 AND kind = 'CHECK_IN'",
        books.members[0].id,
    )
    await sql.execute("UPDATE points_entry SET amount = amount + 5 WHERE id = $1", entry)


async def corrupt_points_lots(books: Books) -> None:
    lot = await _first_id(
        "SELECT id FROM points_lot WHERE member_id = $1 AND remaining > 0", books.members[1].id
    )
    await sql.execute("UPDATE points_lot SET remaining = remaining - 1 WHERE id = $1", lot)


async def corrupt_points_holds(books: Books) -> None:
    await sql.fetch(
        "INSERT INTO points_hold (id, member_id, owner, amount, state, allocations, created_at) "
        "VALUES ($1, $2, 'gift-card:1', 40, 'OPEN', '{}', $3) RETURNING id",
        new_id(),
        books.members[1].id,
        books.orders["pending"].created_at,
    )


async def corrupt_outbox_delivery(books: Books) -> None:
    message = await _first_id("SELECT id FROM outbox_message WHERE status = 'PENDING'")
    await sql.execute("UPDATE outbox_message SET status = 'SENT' WHERE id = $1", message)


async def corrupt_subscription_cycles(books: Books) -> None:
    await sql.execute(
        "UPDATE subscription SET sequence = sequence - 1 WHERE id = $1", books.subscription_id
    )


async def corrupt_after_sale_refunds(books: Books) -> None:
    await sql.execute(
        "UPDATE after_sale_line SET refund_amount = refund_amount + 1 WHERE after_sale_id = $1",
        books.after_sale_id,
    )


async def corrupt_after_sale_quantities(books: Books) -> None:
    await sql.execute(
        "UPDATE after_sale_line SET quantity = quantity + 1 WHERE after_sale_id = $1",
        books.after_sale_id,
    )


async def corrupt_after_sale_stock(books: Books) -> None:
    await sql.execute(
        "UPDATE stock_movement SET reference = 'a write-off' WHERE reference = $1 "
        "AND kind = 'ADJUSTMENT'",
        f"after-sale:{books.after_sale_id}",
    )


async def corrupt_after_sale_points(books: Books) -> None:
    await sql.execute(
        "UPDATE after_sale_line SET points_returned = points_returned + 1 WHERE after_sale_id = $1",
        books.after_sale_id,
    )


async def corrupt_till_return_units(books: Books) -> None:
    await sql.execute(
        "UPDATE pos_sale_line SET returned = returned + 1 "
        "WHERE sale_id = (SELECT sale_id FROM pos_return WHERE id = $1)",
        books.pos_return_id,
    )


async def corrupt_till_return_stock(books: Books) -> None:
    await sql.execute(
        "UPDATE stock_movement SET reference = 'a write-off' WHERE reference = $1 "
        "AND kind = 'ADJUSTMENT'",
        f"pos-return:{books.pos_return_id}",
    )


async def corrupt_reviews(books: Books) -> None:
    """Eve's review moved onto a line of Bob's order that is still waiting to be picked up."""
    ready = books.orders["ready"]
    await sql.execute(
        "UPDATE review SET order_id = $1, order_line_id = $2 WHERE id = $3",
        ready.id,
        ready.lines[0].id,
        books.review_id,
    )


async def corrupt_flash_sale_units(books: Books) -> None:
    await sql.execute("UPDATE flash_sale SET units_sold = units_sold + 1")


async def corrupt_flash_sale_orders(books: Books) -> None:
    """The cancelled order keeps a take, the counters agreeing with it."""
    sale = await _first_id("SELECT id FROM flash_sale")
    dee = books.members[3].id
    await sql.fetch(
        "INSERT INTO flash_sale_order (id, order_id, flash_sale_id, member_id, quantity) "
        "VALUES ($1, $2, $3, $4, 1) RETURNING id",
        new_id(),
        books.orders["flash_cancelled"].id,
        sale,
        dee,
    )
    await sql.execute("UPDATE flash_sale SET units_sold = units_sold + 1")
    await sql.execute("UPDATE flash_sale_buyer SET bought = bought + 1 WHERE member_id = $1", dee)


Corruption = Callable[[Books], Awaitable[None]]
CORRUPTIONS: dict[str, tuple[Corruption, str]] = {
    "stock_ledger": (corrupt_stock_ledger, "stock level SH-A/MANGO: on_hand 50, ledger sums to 48"),
    "stock_reserved": (
        corrupt_stock_reserved,
        "stock level SH-A/KIWI: reserved 4, ACTIVE/AT_RISK reservations sum to 5",
    ),
    "finished_reservations": (
        corrupt_finished_reservations,
        "ACTIVE reservation of 1 at SH-A/KIWI belongs to order {refunded}, which is CANCELLED",
    ),
    "open_reservations": (
        corrupt_open_reservations,
        "order {ready} is READY_FOR_PICKUP but holds no ACTIVE/AT_RISK reservation for its "
        "line KIWI x 1 at SH-A/KIWI",
    ),
    "order_totals": (
        corrupt_order_totals,
        "order {delivered} (DELIVERED): total 1990, its lines sum to 1991",
    ),
    "order_payments": (
        corrupt_order_payments,
        "order {ready} (READY_FOR_PICKUP, amount due 890) was paid but has no successful payment",
    ),
    "refunds_within_paid": (
        corrupt_refunds_within_paid,
        "order {late_payment}: refund rf_",
    ),
    "refund_submissions": (
        corrupt_refund_submissions,
        "(REFUND_SUBMITTED) is due never: the refund job will not look at it again",
    ),
    "reconciliation": (
        corrupt_reconciliation,
        ": AMOUNT feed (order {late_payment}): ours SUCCEEDED 1990, theirs SUCCESS 1991",
    ),
    "pickup_codes": (corrupt_pickup_codes, "order {ready} (READY_FOR_PICKUP) has no pickup code"),
    "order_points": (
        corrupt_order_points,
        "order {collected} (PICKED_UP) redeemed 100 points; its hold is RELEASED 100, "
        "expected POSTED 100",
    ),
    "points_entries": (corrupt_points_entries, "balance 448, entries sum to 453"),
    "points_lots": (corrupt_points_lots, ", its lots hold"),
    "points_holds": (corrupt_points_holds, "held 0, its OPEN holds sum to 40"),
    "outbox_delivery": (corrupt_outbox_delivery, ", SENT) has no sent_at"),
    "subscription_cycles": (
        corrupt_subscription_cycles,
        "cycle 2 (SKIPPED) is closed but the subscription's sequence is still 1",
    ),
    "after_sale_refunds": (
        corrupt_after_sale_refunds,
        "order {returned}: an after-sale refunds 840, its lines 841, its refund payment 840",
    ),
    "after_sale_quantities": (
        corrupt_after_sale_quantities,
        "order {returned}: after-sales ask for 3 of KIWI, 2 bought",
    ),
    "after_sale_stock": (
        corrupt_after_sale_stock,
        "received 1 (1 damaged), the stock ledger returned 1 and wrote off 0",
    ),
    "after_sale_points": (
        corrupt_after_sale_points,
        "order {returned}: an after-sale returns 51 redeemed points (ledger: 50)",
    ),
    "till_return_units": (
        corrupt_till_return_units,
        "19 sold, 3 counted as returned, 2 in returns paying back 5180 of 49210 paid in money",
    ),
    "till_return_stock": (
        corrupt_till_return_stock,
        "2 units returned at the till (1 damaged), the stock ledger returned 2 and wrote off 0",
    ),
    "reviews": (
        corrupt_reviews,
        "the review of order {ready}'s line KIWI: the order is READY_FOR_PICKUP, not handed over",
    ),
    "flash_sale_units": (
        corrupt_flash_sale_units,
        "flash sale of FLASH: the sale counts 2 of 5 offered, its orders took 1",
    ),
    "flash_sale_orders": (
        corrupt_flash_sale_orders,
        "order {flash_cancelled} (CANCELLED) still holds 1 of the flash sale of FLASH",
    ),
}


async def corrupt_coupon_issued(books: Books) -> None:
    # Eve's template (the automations' own template is healthy: one violation to find).
    await sql.execute("UPDATE coupon_template SET issued = issued + 1 WHERE name = '¥3 off'")


async def corrupt_coupon_member_limits(books: Books) -> None:
    await sql.execute("UPDATE coupon SET slot = 2 WHERE status = 'USED'")


async def corrupt_coupon_orders(books: Books) -> None:
    await sql.execute(
        "UPDATE coupon SET order_id = $1, discount = 0 WHERE status = 'USED'",
        books.orders["cancelled_unpaid"].id,
    )


async def corrupt_referral_rewards(books: Books) -> None:
    await sql.execute("UPDATE referral SET referrer_paid = $1", False)


async def corrupt_coupon_discounts(books: Books) -> None:
    await sql.execute("UPDATE coupon SET discount = discount + 100 WHERE status = 'USED'")


async def corrupt_guide_orders(books: Books) -> None:
    await sql.execute(
        "UPDATE guide_order SET member_id = $1 WHERE order_id = $2",
        new_id(),
        books.orders["returned"].id,
    )


async def corrupt_automation_sends(books: Books) -> None:
    await sql.execute(
        "UPDATE automation_send SET coupon_id = $1 WHERE id = (SELECT id FROM automation_send "
        "WHERE action = 'GRANT_COUPON' ORDER BY id LIMIT 1)",
        new_id(),
    )


CORRUPTIONS.update(
    {
        "automation_sends": (
            corrupt_automation_sends,
            "GRANT_COUPON) is DONE but names no coupon of its grant",
        ),
        "guide_orders": (corrupt_guide_orders, "order {returned}: attributed for member"),
        "coupon_issued": (corrupt_coupon_issued, "issued 3 of 100, 2 coupons exist"),
        "coupon_member_limits": (
            corrupt_coupon_member_limits,
            "claimed 1 (slot up to 2), the limit is 1",
        ),
        "coupon_orders": (
            corrupt_coupon_orders,
            "is USED by order {cancelled_unpaid}, which was never paid",
        ),
        "coupon_discounts": (
            corrupt_coupon_discounts,
            "order {couponed}: its 1 coupon(s) took off 400, its lines show 300",
        ),
        "referral_rewards": (
            corrupt_referral_rewards,
            "(CLAWED_BACK): 2 points rewards, at most 1 may be paid",
        ),
    }
)


async def corrupt_member_facts(books: Books) -> None:
    """A member's facts lose their last order (their orders have one)."""
    [row] = await sql.fetch(
        "SELECT member_id FROM member_facts WHERE last_order_at IS NOT NULL "
        "ORDER BY member_id LIMIT 1"
    )
    await sql.execute(
        "UPDATE member_facts SET last_order_at = NULL WHERE member_id = $1", row["member_id"]
    )


CORRUPTIONS["member_facts"] = (corrupt_member_facts, "to never, the orders say")


async def corrupt_member_facts_birthday(books: Books) -> None:
    """A member's facts get a birthday the member never gave."""
    [row] = await sql.fetch(
        "SELECT f.member_id FROM member_facts f JOIN member m ON m.id = f.member_id "
        "WHERE m.birthday IS NULL ORDER BY f.member_id LIMIT 1"
    )
    await sql.execute(
        "UPDATE member_facts SET birthday = '01-01' WHERE member_id = $1", row["member_id"]
    )


CORRUPTIONS["member_facts_birthday"] = (
    corrupt_member_facts_birthday,
    "the birthday is 01-01, the member says none",
)


async def corrupt_assist_daily_cap(books: Books) -> None:
    """A fourth assist of the helper who made three today."""
    [busy] = await sql.fetch(
        "SELECT helper_id, day FROM assist GROUP BY helper_id, day HAVING COUNT(*) = 3"
    )
    await sql.fetch(
        "INSERT INTO assist (id, task_id, helper_id, helper_name, day, slot, created_at) "
        "VALUES ($1, $2, $3, 'x**', $4, 4, $5) RETURNING id",
        new_id(),
        new_id(),
        busy["helper_id"],
        sql.as_optional_date(busy["day"]),
        books.orders["pending"].created_at,
    )


async def corrupt_assist_rewards(books: Books) -> None:
    """One of the three assists that reached the paid threshold disappears."""
    [paid] = await sql.fetch("SELECT task_id FROM assist_reward WHERE threshold = 3")
    gone = await _first_id("SELECT id FROM assist WHERE task_id = $1", paid["task_id"])
    await sql.execute("DELETE FROM assist WHERE id = $1", gone)


CORRUPTIONS.update(
    {
        "assist_daily_cap": (corrupt_assist_daily_cap, "(slots up to 4), the cap is 3"),
        "assist_rewards": (
            corrupt_assist_rewards,
            "the reward of 3 helpers was paid 1 time(s); 2 helpers assisted it",
        ),
    }
)


async def corrupt_group_buy_seats(books: Books) -> None:
    group = await _first_id("SELECT id FROM group_buy WHERE status = 'COMPLETED'")
    await sql.fetch(
        "INSERT INTO group_buy_seat (id, group_id, campaign_id, member_id, order_id, label, "
        "leader, status, joined_at) SELECT $1, id, campaign_id, $2, $3, 'X**', $4, 'HELD', "
        "opened_at FROM group_buy WHERE id = $5 RETURNING id",
        new_id(),
        new_id(),
        new_id(),
        False,
        group,
    )


async def corrupt_failed_group_refunds(books: Books) -> None:
    await sql.execute(
        "UPDATE group_buy_seat SET order_id = $1 WHERE order_id = $2",
        books.orders["pending"].id,
        books.orders["group_failed"].id,
    )


CORRUPTIONS.update(
    {
        "group_buy_seats": (
            corrupt_group_buy_seats,
            "2 seats taken and 2 paid, its seats show 3 held or paid and 2 paid",
        ),
        "failed_group_refunds": (
            corrupt_failed_group_refunds,
            "order {pending} is PENDING_PAYMENT, paid 0 and refunded 0",
        ),
    }
)


def test_every_check_has_a_corruption_test() -> None:
    assert set(CORRUPTIONS) == set(NAMES)


@pytest.mark.parametrize("name", list(CORRUPTIONS))
async def test_each_check_catches_its_corruption_and_only_it(
    name: str, books: Books, clock: MovableClock
) -> None:
    corrupt, expected = CORRUPTIONS[name]
    await corrupt(books)
    report = await run_checks(now=clock.now())
    assert report.failing() == [name], report.text()
    result = report.result(name)
    assert result.violations == 1 and len(result.sample) == 1, report.text()
    numbers = {key: order.number for key, order in books.orders.items()}
    assert expected.format(**numbers) in result.sample[0], result.sample
    assert report.exit_code == 1
    assert report.as_json()["checks"][NAMES.index(name)]["status"] == "violations"


async def _reviews_sample(clock: MovableClock) -> tuple[int, list[str]]:
    result = (await run_checks(now=clock.now(), names=["reviews"])).result("reviews")
    return result.violations, result.sample


async def test_a_review_of_a_line_not_its_orders_is_caught(
    books: Books, clock: MovableClock
) -> None:
    await sql.execute(
        "UPDATE review SET order_line_id = $1 WHERE id = $2", new_id(), books.review_id
    )
    number = books.orders["returned"].number
    assert await _reviews_sample(clock) == (
        1,
        [f"a review of order {number} names a line that is not the order's"],
    )


async def test_stars_status_and_a_second_review_of_a_line_are_caught_without_the_constraints(
    books: Books, clock: MovableClock
) -> None:
    """The database refuses them (CHECK and UNIQUE, 0022_reviews): the doctor also reads a
    database restored or edited without its constraints. PostgreSQL only: SQLite cannot drop a
    constraint."""
    if not is_postgres(test_database_url()):
        pytest.skip("SQLite cannot drop a constraint")
    [unique] = await sql.fetch(
        "SELECT conname FROM pg_constraint WHERE conrelid = 'review'::regclass AND contype = 'u'"
    )
    constraints = {
        "ck_review_rating": "CHECK (rating BETWEEN 1 AND 5)",
        "ck_review_status": "CHECK (status IN ('PENDING','PUBLISHED','HIDDEN'))",
        unique["conname"]: "UNIQUE (order_line_id)",
    }
    for name in constraints:
        await sql.execute(f'ALTER TABLE review DROP CONSTRAINT "{name}"')
    number = books.orders["returned"].number
    try:
        await sql.execute(
            "UPDATE review SET rating = 6, status = 'GONE' WHERE id = $1", books.review_id
        )
        assert await _reviews_sample(clock) == (
            1,
            [f"the review of order {number}'s line KIWI: 6 stars (1-5), status GONE"],
        )
        await sql.execute(
            "UPDATE review SET rating = 4, status = 'PUBLISHED' WHERE id = $1", books.review_id
        )
        await sql.execute(
            "INSERT INTO review (id, member_id, order_id, order_line_id, product_id, variant_id, "
            "rating, text, photo_urls, status, held_for, created_at, updated_at) "
            "SELECT $1, member_id, order_id, order_line_id, product_id, variant_id, rating, "
            "text, photo_urls, status, held_for, created_at, updated_at FROM review WHERE id = $2",
            new_id(),
            books.review_id,
        )
        assert await _reviews_sample(clock) == (
            1,
            [f"order {number}'s line KIWI has 2 reviews"],
        )
    finally:
        await sql.execute("DELETE FROM review WHERE id <> $1", books.review_id)
        await sql.execute(
            "UPDATE review SET rating = 4, status = 'PUBLISHED' WHERE id = $1", books.review_id
        )
        for name, rule in constraints.items():
            await sql.execute(f'ALTER TABLE review ADD CONSTRAINT "{name}" {rule}')


async def test_a_payment_refunded_twice_over_is_caught(books: Books, clock: MovableClock) -> None:
    # A second full refund of the late payment, as a job without its claim would record.
    await sql.execute(
        "INSERT INTO order_payment (id, order_id, kind, provider, provider_ref, method, amount, "
        "currency, status, created_at, refund_of, reason, attempts, next_attempt_at) "
        "SELECT $1, order_id, kind, provider, 'rf_again', method, amount, currency, status, "
        "created_at, refund_of, reason, attempts, next_attempt_at FROM order_payment "
        "WHERE order_id = $2 AND kind = 'REFUND'",
        new_id(),
        books.orders["late_payment"].id,
    )
    report = await run_checks(["refunds_within_paid", "refund_submissions"], now=clock.now())
    assert report.failing() == ["refunds_within_paid"], report.text()
    number = books.orders["late_payment"].number
    assert report.result("refunds_within_paid").sample == [
        f"order {number}: payment {await _payment_ref(books)} took 1780 but its refunds give "
        "back 3560"
    ]


async def test_a_line_charged_above_its_list_price_is_caught(
    books: Books, clock: MovableClock
) -> None:
    # The total still adds up: only the list price says the member paid more than the shelf.
    await sql.execute(
        "UPDATE order_line SET list_price = unit_price - 1 WHERE order_id = $1",
        books.orders["delivered"].id,
    )
    report = await run_checks(["order_totals"], now=clock.now())
    number = books.orders["delivered"].number
    assert report.result("order_totals").sample == [
        f"order {number} (DELIVERED): 1 line(s) charged above their list price"
    ]


async def _payment_ref(books: Books) -> str:
    rows = await sql.fetch(
        "SELECT provider_ref FROM order_payment WHERE order_id = $1 AND kind = 'PAYMENT'",
        books.orders["late_payment"].id,
    )
    return str(rows[0]["provider_ref"])


async def test_the_report_counts_every_violation_and_samples_a_few(
    books: Books, clock: MovableClock
) -> None:
    await sql.execute("UPDATE stock_level SET on_hand = on_hand + 1 WHERE on_hand > 0")
    rows = await sql.fetch("SELECT COUNT(*) AS n FROM stock_level WHERE on_hand > 0")
    report = await run_checks(["stock_ledger", "points_holds"], sample=2, now=clock.now())
    ledger = report.result("stock_ledger")
    assert ledger.violations == int(rows[0]["n"]) > 2
    assert len(ledger.sample) == 2 and f"and {ledger.violations - 2} more" in report.text()
    assert [r.name for r in report.results] == ["stock_ledger", "points_holds"]
    assert json.loads(report.json_text())["checks"][0]["sample"][0]["row"]["location_code"]


async def test_an_outbox_message_overdue_past_the_grace_period_means_delivery_stalled(
    books: Books, clock: MovableClock
) -> None:
    waiting = await sql.fetch(
        "SELECT COUNT(*) AS n FROM outbox_message WHERE status IN ('PENDING', 'SENDING')"
    )
    assert int(waiting[0]["n"]) > 0
    on_time = await run_checks(["outbox_delivery"], now=clock.now())
    assert on_time.exit_code == 0, on_time.text()
    later = clock.now() + timedelta(hours=3)
    stalled = await run_checks(["outbox_delivery"], now=later)
    assert stalled.result("outbox_delivery").violations == int(waiting[0]["n"])
    assert "is the delivery job running?" in stalled.text()
    patient = await run_checks(["outbox_delivery"], now=later, outbox_grace=timedelta(hours=4))
    assert patient.exit_code == 0


async def test_the_statement_count_does_not_grow_with_the_data(
    runtime: Runtime, clock: MovableClock, books: Books
) -> None:
    with count_sql() as small:
        await run_checks(now=clock.now())
    sh_a = books.stores["SH-A"].id
    for _ in range(5):
        order = await _order(runtime, books.members[3], {books.variants["KIWI"]: 1}, at=sh_a)
        await record_in_store_payment(
            runtime.ordering, _staff(sh_a), order.id, "CARD", order.amount_due
        )
    with count_sql() as large:
        report = await run_checks(now=clock.now())
    assert report.exit_code == 0, report.text()
    assert len(small) == len(large) == len(NAMES)


async def test_no_false_positive_while_writers_are_busy(
    runtime: Runtime, clock: MovableClock, books: Books
) -> None:
    """Orders placed, paid and cancelled all the while the doctor reads (on PostgreSQL each
    writer has its own connection; SQLite serialises them with the doctor's snapshot)."""
    sh_a, kiwi = books.stores["SH-A"].id, books.variants["KIWI"]
    staff = _staff(sh_a)
    done = asyncio.Event()

    async def writer(member: Principal) -> int:
        rounds = 0
        while not done.is_set() or rounds == 0:
            try:
                order = await _order(runtime, member, {kiwi: 1}, at=sh_a)
                await record_in_store_payment(
                    runtime.ordering, staff, order.id, "CARD", order.amount_due
                )
                await cancel_order(runtime.ordering, staff, order.id, "stress test")
            except DomainError:
                pass
            rounds += 1
        return rounds

    writers = [asyncio.create_task(writer(m)) for m in books.members]
    reports = []
    for _ in range(6):
        reports.append(await run_checks(now=clock.now()))
        await asyncio.sleep(0)
    done.set()
    rounds = await asyncio.gather(*writers)
    assert sum(rounds) > 0
    for report in reports:
        assert report.exit_code == 0, report.text()
    assert (await run_checks(now=clock.now())).exit_code == 0


async def test_a_check_that_cannot_run_is_reported_and_the_others_still_run(
    books: Books, clock: MovableClock
) -> None:
    """Each check runs in a savepoint: on PostgreSQL a failed statement would otherwise
    abort the snapshot transaction and every check after it."""
    await sql.execute("ALTER TABLE pickup_code RENAME TO pickup_code_away")
    try:
        report = await run_checks(now=clock.now())
    finally:
        await sql.execute("ALTER TABLE pickup_code_away RENAME TO pickup_code")
    assert report.failing() == ["pickup_codes"], report.text()
    assert report.result("pickup_codes").status == "error"
    assert report.exit_code == 2
    assert "pickup_codes: could not run:" in report.text()
    after = NAMES[NAMES.index("pickup_codes") + 1 :]
    assert after and all(report.result(name).status == "ok" for name in after)


async def test_an_unknown_check_is_refused() -> None:
    with pytest.raises(UnknownCheck, match="no_such_check"):
        await run_checks(["no_such_check"])


# --- the command line, in a subprocess against the test database ---------------------------


def _doctor(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "infra.cli", "doctor", *args],
        env={**os.environ, "DATABASE_URL": database_url, "REDIS_URL": "", "OMNISHELF_ENV": "test"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_help_documents_every_check() -> None:
    result = _doctor("sqlite:///nowhere.sqlite3", "--help")
    assert result.returncode == 0
    for name in NAMES:
        assert name in result.stdout


def test_a_database_it_cannot_reach_is_exit_2(tmp_path: Any) -> None:
    missing = _doctor(f"sqlite://{tmp_path}/missing.sqlite3")
    assert missing.returncode == 2 and "no database at" in missing.stderr
    refused = _doctor("postgres://nobody@127.0.0.1:1/nothing")
    assert refused.returncode == 2 and "omnishelf doctor:" in refused.stderr
    unmigrated = tmp_path / "empty.sqlite3"
    unmigrated.write_bytes(b"")
    empty = _doctor(f"sqlite://{unmigrated}")
    assert empty.returncode == 2 and "could not run" in empty.stdout


async def test_the_command_line_reports_and_exits(
    books: Books, database_url: str, clock: MovableClock
) -> None:
    clean = await asyncio.to_thread(_doctor, database_url)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert f"{len(NAMES)} checks" in clean.stdout and "none failing" in clean.stdout
    await corrupt_stock_ledger(books)
    broken = await asyncio.to_thread(_doctor, database_url)
    assert broken.returncode == 1, broken.stdout + broken.stderr
    assert "stock_ledger           1 violation" in broken.stdout
    assert "stock level SH-A/MANGO: on_hand 50, ledger sums to 48" in broken.stdout
    subset = await asyncio.to_thread(
        _doctor, database_url, "--json", "--check", "stock_ledger", "--check", "order_totals"
    )
    assert subset.returncode == 1
    report = json.loads(subset.stdout)
    assert [c["name"] for c in report["checks"]] == ["stock_ledger", "order_totals"]
    assert report["checks"][0]["violations"] == 1 and report["ok"] is False
    assert report["checks"][0]["sample"][0]["row"]["on_hand"] == 50
    other = await asyncio.to_thread(_doctor, database_url, "--check", "order_totals")
    assert other.returncode == 0
