"""After checkout (issue 5): the state machine and who may move an order, pickup codes and
their QR payloads, cancellation with release and refund, the jobs (payment timeout,
unclaimed orders, reminders), notifications through the outbox, AT_RISK after a till sale,
merged members, and the order queries (their visibility, paging and SQL cost)."""

from __future__ import annotations

import re
from datetime import UTC, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from api.relay import encode_id
from domain.catalog.model import Variant
from domain.events import ExportScope
from domain.identity.model import DeviceKind, StaffRole
from domain.identity.services import create_device
from domain.ids import new_id
from domain.inventory.reservations import sweep_expired
from domain.ordering.lifecycle import (
    cancel_unpaid,
    expire_unclaimed,
    export_orders,
    send_reminders,
)
from domain.outbox import deliver_due
from infra.db.models.orders import OrderRow
from infra.db.uow import TortoiseUnitOfWork
from infra.notifier import FakeNotifier
from infra.runtime import Runtime
from infra.settings import Settings
from tests.support import MovableClock, count_sql
from tests.support.api import Api, relogin, staff_api
from tests.support.orders import (
    CANCEL,
    PICKUP,
    Story,
    complete,
    level,
    lid,
    make_variants,
    order_input,
    order_key,
    outbox,
    pay_online,
    pickup_of,
    place,
    placed,
    read,
    receive,
    step,
    stepped,
    vid,
)
from tests.support.payloads import refusal, top_level_codes
from tests.support.shoppers import Shopper, shopper

PRICE = 1990


@pytest.fixture
async def mango(runtime: Runtime, stores: dict[str, Any]) -> Variant:
    (variant,) = await make_variants(runtime, ("M-1", "1kg", PRICE))
    await receive(runtime, stores["SH-A"].id, variant, 10)
    return variant


@pytest.fixture
async def member(api: Api) -> Shopper:
    return await shopper(api, "open-member-1")


@pytest.fixture
async def cs(api: Api, runtime: Runtime) -> Api:
    return await staff_api(api, runtime, "cs-agent", StaffRole.CS_AGENT, [])


@pytest.fixture
async def manager_b(api: Api, runtime: Runtime, stores: dict[str, Any]) -> Api:
    return await staff_api(api, runtime, "manager-b", StaffRole.STORE_MANAGER, [stores["SH-B"]])


@pytest.fixture
def story(
    client: httpx.AsyncClient,
    runtime: Runtime,
    stores: dict[str, Any],
    mango: Variant,
    manager_a: Api,
) -> Story:
    return Story(client, runtime, stores, mango, manager_a)


async def cancel(caller: Api, order: dict[str, Any], reason: str = "changed my mind") -> Any:
    return (await caller.data(CANCEL, {"o": order["id"], "r": reason}))["cancelOrder"]


CONSENT = """mutation($purpose: ConsentPurpose!, $granted: Boolean!) {
  updateConsents(input: {changes: [{purpose: $purpose, granted: $granted}],
    policyVersion: "2026-10"}) { errors { code message } } }"""


async def consent(who: Shopper, granted: bool = True, purpose: str = "MARKETING_WECHAT") -> None:
    """The member's own choice, through the API the mini-program uses."""
    data = await who.api.data(CONSENT, {"purpose": purpose, "granted": granted})
    assert data["updateConsents"]["errors"] == [], data


def kinds(messages: list[tuple[str, str]]) -> list[str]:
    return [kind for kind, _ in messages]


def payments(seen: dict[str, Any]) -> list[tuple[str, str]]:
    return [(p["kind"], p["status"]) for p in seen["payments"]]


# ---------------------------------------------------------------- the state machine


async def test_every_illegal_step_of_a_pickup_order_is_a_typed_error(
    story: Story, member: Shopper, manager_a: Api, cs: Api, stores: dict[str, Any]
) -> None:
    async def refused(mutation: str, order: dict[str, Any]) -> None:
        before = await read(cs, order["id"])
        assert refusal(await step(manager_a, mutation, order["id"])) == (
            "ILLEGAL_TRANSITION",
            ["orderId"],
        ), mutation
        after = await read(cs, order["id"])
        assert (after["status"], after["timeline"]) == (before["status"], before["timeline"])

    order = await story.pending(member)
    for mutation in (
        "startPreparingOrder",  # not paid yet
        "markOrderReadyForPickup",  # ready before paid
        "shipOrder",
        "markOrderDelivered",
    ):
        await refused(mutation, order)

    await pay_online(story.client, story.runtime, member, order)
    await refused("markOrderReadyForPickup", order)  # PAID -> READY skips preparing
    await refused("shipOrder", order)  # pickup orders are not shipped

    assert await stepped(manager_a, "startPreparingOrder", order["id"]) == "PREPARING"
    await refused("startPreparingOrder", order)  # preparing twice
    await refused("shipOrder", order)
    # Completing the pickup of a PREPARING order: it has no code yet.
    for code in ("000000", "123456"):
        wrong = await complete(manager_a, stores, code)
        assert refusal(wrong) == ("INVALID_PICKUP_CODE", ["pickupCode"])
    assert (await read(cs, order["id"]))["status"] == "PREPARING"

    assert await stepped(manager_a, "markOrderReadyForPickup", order["id"]) == "READY_FOR_PICKUP"
    await refused("markOrderReadyForPickup", order)
    await refused("startPreparingOrder", order)
    await refused("markOrderDelivered", order)

    code = (await pickup_of(member, order))["code"]
    assert (await complete(manager_a, stores, code))["order"]["status"] == "PICKED_UP"
    for mutation in ("startPreparingOrder", "markOrderReadyForPickup", "shipOrder"):
        await refused(mutation, order)
    # A PICKED_UP order cannot be cancelled, by the member or by the store.
    for canceller in (member.api, manager_a, cs):
        assert refusal(await cancel(canceller, order)) == ("ILLEGAL_TRANSITION", ["orderId"])
    seen = await read(cs, order["id"])
    assert seen["status"] == "PICKED_UP"
    assert [e["toStatus"] for e in seen["timeline"]] == [
        "PENDING_PAYMENT",
        "PAID",
        "PREPARING",
        "READY_FOR_PICKUP",
        "PICKED_UP",
    ]


async def test_a_delivery_order_ships_and_is_delivered_but_is_never_ready_for_pickup(
    client: httpx.AsyncClient,
    runtime: Runtime,
    member: Shopper,
    admin: Api,
    manager_a: Api,
    cs: Api,
    stores: dict[str, Any],
    mango: Variant,
) -> None:
    await receive(runtime, stores["WH-1"].id, mango, 5)
    delivery = {"address": "88 Nanjing Road, Shanghai", "latitude": 31.235, "longitude": 121.475}
    order = await placed(member.api, order_input([(mango, 2)], delivery=delivery))
    assert order["location"] == {"code": "WH-1"}

    assert refusal(await step(admin, "shipOrder", order["id"]))[0] == "ILLEGAL_TRANSITION"
    await pay_online(client, runtime, member, order)
    for mutation in ("markOrderReadyForPickup", "markOrderDelivered"):
        assert refusal(await step(admin, mutation, order["id"])) == (
            "ILLEGAL_TRANSITION",
            ["orderId"],
        ), mutation
    # Staff of a store that does not fulfil it cannot ship it.
    assert refusal(await step(manager_a, "shipOrder", order["id"])) == ("FORBIDDEN", ["orderId"])

    assert await stepped(admin, "shipOrder", order["id"]) == "SHIPPED"
    assert await level(runtime, stores["WH-1"].id, mango) == (3, 0)  # the goods left
    assert refusal(await step(admin, "shipOrder", order["id"]))[0] == "ILLEGAL_TRANSITION"
    for canceller in (member.api, cs, admin):
        assert refusal(await cancel(canceller, order)) == ("ILLEGAL_TRANSITION", ["orderId"])

    assert await stepped(admin, "markOrderDelivered", order["id"]) == "DELIVERED"
    assert refusal(await step(admin, "markOrderDelivered", order["id"]))[0] == (
        "ILLEGAL_TRANSITION"
    )
    seen = await read(cs, order["id"])
    assert [e["toStatus"] for e in seen["timeline"]] == [
        "PENDING_PAYMENT",
        "PAID",
        "SHIPPED",
        "DELIVERED",
    ]
    assert await level(runtime, stores["WH-1"].id, mango) == (3, 0)


async def test_only_staff_of_the_fulfilling_store_work_its_orders(
    api: Api,
    story: Story,
    member: Shopper,
    manager_a: Api,
    clerk_a: Api,
    manager_b: Api,
    cs: Api,
    runtime: Runtime,
    stores: dict[str, Any],
) -> None:
    order = await story.paid(member)
    _, pos_b_token = await create_device(runtime.auth, stores["SH-B"].id, DeviceKind.POS)
    outsiders = [manager_b, api.as_(pos_b_token), cs, member.api]

    for outsider in outsiders:
        assert refusal(await step(outsider, "startPreparingOrder", order["id"])) == (
            "FORBIDDEN",
            ["orderId"],
        )
    assert await stepped(clerk_a, "startPreparingOrder", order["id"]) == "PREPARING"
    for outsider in outsiders:
        assert refusal(await step(outsider, "markOrderReadyForPickup", order["id"])) == (
            "FORBIDDEN",
            ["orderId"],
        )
    assert await stepped(clerk_a, "markOrderReadyForPickup", order["id"]) == "READY_FOR_PICKUP"

    code = (await pickup_of(member, order))["code"]
    for outsider in outsiders:
        assert refusal(await complete(outsider, stores, code)) == ("FORBIDDEN", ["locationId"])
    # At their own store the code of SH-A's order means nothing.
    assert refusal(await complete(manager_b, stores, code, "SH-B"))[0] == "INVALID_PICKUP_CODE"
    assert refusal(await cancel(manager_b, order)) == ("FORBIDDEN", ["orderId"])
    assert (await read(cs, order["id"]))["status"] == "READY_FOR_PICKUP"

    # The store's POS device hands it over.
    _, pos_a = await create_device(runtime.auth, stores["SH-A"].id, DeviceKind.POS)
    done = await complete(api.as_(pos_a), stores, code)
    assert done["errors"] == [] and done["order"]["status"] == "PICKED_UP", done


# ---------------------------------------------------------------- pickup codes


async def test_the_pickup_code_and_its_signed_qr_payload(
    api: Api,
    story: Story,
    member: Shopper,
    manager_a: Api,
    manager_b: Api,
    cs: Api,
    runtime: Runtime,
    stores: dict[str, Any],
    mango: Variant,
) -> None:
    await consent(member)  # to be invited to review what they collected
    order = await story.ready(member)
    other = await story.ready(member)
    pickup = await pickup_of(member, order)
    code, qr = pickup["code"], pickup["qrPayload"]
    assert re.fullmatch(r"[0-9]{6}", code), code
    other_pickup = await pickup_of(member, other)
    assert other_pickup["code"] != code
    seen = await read(cs, order["id"])
    assert pickup["deadline"] == seen["pickupDeadline"]
    # Only the member sees the code: not the store, not CS.
    for caller in (manager_a, cs):
        assert (await caller.data(PICKUP, {"id": order["id"]}))["order"]["pickup"] is None

    prefix, order_part, code_part, signature = qr.split(".")
    assert (prefix, code_part) == ("OSP1", code)
    flipped = signature[:-1] + ("0" if signature[-1] != "0" else "1")
    other_code = f"{(int(code) + 1) % 1_000_000:06d}"
    other_order = str(order_key(other))
    tampered = [
        f"{prefix}.{order_part}.{code_part}.{flipped}",
        f"{prefix}.{order_part}.{other_pickup['code']}.{signature}",
        f"{prefix}.{order_part}.{other_code}.{signature}",
        f"{prefix}.{other_order}.{code_part}.{signature}",
        f"{prefix}.{order_part}.{code_part}",
        f"OSP2.{order_part}.{code_part}.{signature}",
        f"{prefix}.not-a-uuid.{code_part}.{signature}",
        f"{qr}.extra",
        "",
    ]
    for payload in tampered:
        refused = await complete(manager_a, stores, payload)
        assert refusal(refused) == ("INVALID_PICKUP_CODE", ["pickupCode"]), payload
    # The genuine payload is only valid at the order's own store.
    assert refusal(await complete(manager_b, stores, qr, "SH-B"))[0] == "INVALID_PICKUP_CODE"
    assert (await read(cs, order["id"]))["status"] == "READY_FOR_PICKUP"
    assert (await read(cs, other["id"]))["status"] == "READY_FOR_PICKUP"

    done = await complete(manager_a, stores, f"  {qr} ")
    assert done["errors"] == [] and done["order"] == {"id": order["id"], "status": "PICKED_UP"}
    assert await level(runtime, stores["SH-A"].id, mango) == (8, 2)  # the other still holds 2
    assert await pickup_of(member, order) is None
    # Used once: the code and the QR payload are spent.
    assert refusal(await complete(manager_a, stores, qr))[0] == "INVALID_PICKUP_CODE"
    assert refusal(await complete(manager_a, stores, code))[0] == "INVALID_PICKUP_CODE"
    # The other order's typed code still works.
    typed = await complete(manager_a, stores, other_pickup["code"])
    assert typed["order"]["status"] == "PICKED_UP"
    assert await level(runtime, stores["SH-A"].id, mango) == (6, 0)
    assert kinds(await outbox(runtime, order))[-1] == "REVIEW_INVITATION"


async def test_wrong_codes_lock_the_store_counter_even_for_the_right_code(
    story: Story,
    member: Shopper,
    manager_a: Api,
    manager_b: Api,
    cs: Api,
    runtime: Runtime,
    stores: dict[str, Any],
    mango: Variant,
) -> None:
    order = await story.ready(member)
    code = (await pickup_of(member, order))["code"]
    guesses = [f"{n:06d}" for n in range(30) if f"{n:06d}" != code][:21]

    for guess in guesses[:20]:
        wrong = await complete(manager_a, stores, guess)
        assert refusal(wrong) == ("INVALID_PICKUP_CODE", ["pickupCode"]), guess
    assert refusal(await complete(manager_a, stores, guesses[20]))[0] == "TOO_MANY_ATTEMPTS"

    locked = await complete(manager_a, stores, code)
    assert refusal(locked) == ("TOO_MANY_ATTEMPTS", ["pickupCode"])
    assert (await read(cs, order["id"]))["status"] == "READY_FOR_PICKUP"
    assert await level(runtime, stores["SH-A"].id, mango) == (10, 2)
    # The lock is per store: SH-B's counter still answers.
    assert refusal(await complete(manager_b, stores, "000000", "SH-B"))[0] == "INVALID_PICKUP_CODE"


# ---------------------------------------------------------------- cancellation


async def test_a_member_cancels_before_ready_releasing_the_stock_and_refunding(
    api: Api,
    story: Story,
    member: Shopper,
    cs: Api,
    runtime: Runtime,
    stores: dict[str, Any],
    mango: Variant,
) -> None:
    unpaid = await story.pending(member, 1)
    preparing = await story.preparing(member, 3)
    assert await level(runtime, stores["SH-A"].id, mango) == (10, 4)

    someone = await shopper(api, "open-someone-else")
    assert refusal(await cancel(someone.api, preparing)) == ("NOT_FOUND", ["orderId"])
    assert refusal(await cancel(member.api, preparing, " x ")) == ("INVALID_INPUT", ["reason"])
    assert refusal(await cancel(member.api, preparing, "x" * 201)) == ("INVALID_INPUT", ["reason"])

    done = await cancel(member.api, unpaid, "  found it cheaper  ")
    assert done["errors"] == [] and done["order"]["status"] == "CANCELLED", done
    assert done["order"]["cancelReason"] == "found it cheaper"
    assert await level(runtime, stores["SH-A"].id, mango) == (10, 3)
    assert payments(await read(cs, unpaid["id"])) == []  # nothing was paid, nothing to refund

    done = await cancel(member.api, preparing)
    assert done["errors"] == [] and done["order"]["status"] == "CANCELLED", done
    assert await level(runtime, stores["SH-A"].id, mango) == (10, 0)
    seen = await read(cs, preparing["id"])
    assert payments(seen) == [("PAYMENT", "SUCCEEDED"), ("REFUND", "REFUND_PENDING")]
    assert seen["payments"][1]["amount"] == {"amount": 3 * PRICE}
    assert seen["timeline"][-1]["fromStatus"] == "PREPARING"
    assert seen["timeline"][-1]["actor"] == f"MEMBER:{member.key}"
    messages = kinds(await outbox(runtime, preparing))
    assert messages[0] == "ORDER_PAID"
    assert sorted(messages[1:]) == ["ORDER_CANCELLED", "ORDER_REFUNDED"]  # one transaction
    assert kinds(await outbox(runtime, unpaid)) == ["ORDER_CANCELLED"]
    # Cancelled is final.
    assert refusal(await cancel(member.api, preparing))[0] == "ILLEGAL_TRANSITION"


@pytest.mark.parametrize("canceller", ["cs", "store-manager", "store-clerk"])
async def test_a_ready_order_is_cancelled_by_the_store_or_cs_not_by_the_member(
    story: Story,
    member: Shopper,
    cs: Api,
    manager_a: Api,
    clerk_a: Api,
    runtime: Runtime,
    stores: dict[str, Any],
    mango: Variant,
    canceller: str,
) -> None:
    order = await story.ready(member)
    code = (await pickup_of(member, order))["code"]

    assert refusal(await cancel(member.api, order)) == ("ILLEGAL_TRANSITION", ["orderId"])
    assert (await read(cs, order["id"]))["status"] == "READY_FOR_PICKUP"

    by = {"cs": cs, "store-manager": manager_a, "store-clerk": clerk_a}[canceller]
    done = await cancel(by, order, "customer called: cannot come")
    assert done["errors"] == [] and done["order"]["status"] == "CANCELLED", done

    assert await level(runtime, stores["SH-A"].id, mango) == (10, 0)
    seen = await read(cs, order["id"])
    assert payments(seen) == [("PAYMENT", "SUCCEEDED"), ("REFUND", "REFUND_PENDING")]
    assert seen["timeline"][-1]["actor"].startswith("STAFF:")
    assert (seen["timeline"][-1]["fromStatus"], seen["cancelReason"]) == (
        "READY_FOR_PICKUP",
        "customer called: cannot come",
    )
    # The pickup code died with the order.
    assert await pickup_of(member, order) is None
    assert refusal(await complete(manager_a, stores, code))[0] == "INVALID_PICKUP_CODE"


async def test_cs_sees_the_timeline_with_actor_and_transitions(
    story: Story, member: Shopper, manager_a: Api, manager_b: Api, cs: Api
) -> None:
    order = await story.picked_up(member)

    seen = await read(cs, order["id"])
    rows = [(e["fromStatus"], e["toStatus"], e["actor"], e["reason"]) for e in seen["timeline"]]
    staff_label = rows[2][2]
    assert re.fullmatch(r"STAFF:[0-9a-f-]{36}", staff_label), staff_label
    assert rows == [
        (None, "PENDING_PAYMENT", f"MEMBER:{member.key}", "placed"),
        ("PENDING_PAYMENT", "PAID", "PROVIDER:devpay", "payment received"),
        ("PAID", "PREPARING", staff_label, ""),
        ("PREPARING", "READY_FOR_PICKUP", staff_label, "packed"),
        ("READY_FOR_PICKUP", "PICKED_UP", staff_label, "handed over"),
    ]
    # The store sees it too; the member sees the order but not its internal history.
    assert (await read(manager_a, order["id"]))["timeline"] == seen["timeline"]
    mine = await read(member.api, order["id"])
    assert mine["status"] == "PICKED_UP"
    assert (mine["timeline"], mine["payments"], mine["notifications"]) == (None, None, None)
    assert await read(manager_b, order["id"]) is None


# ---------------------------------------------------------------- jobs


@pytest.mark.parametrize("job", ["cancel_unpaid", "reservation_sweeper"])
async def test_an_unpaid_order_is_cancelled_after_the_payment_timeout(
    api: Api,
    story: Story,
    member: Shopper,
    runtime: Runtime,
    clock: MovableClock,
    stores: dict[str, Any],
    mango: Variant,
    job: str,
) -> None:
    order = await story.pending(member)

    async def run(name: str) -> int:
        if name == "cancel_unpaid":
            return await cancel_unpaid(runtime.ordering)
        return await sweep_expired(runtime.inventory)

    clock.advance(timedelta(minutes=14))
    assert await run(job) == 0
    assert await level(runtime, stores["SH-A"].id, mango) == (10, 2)

    clock.advance(timedelta(minutes=2))
    assert await run(job) == 1  # one order, one reserved line
    assert await level(runtime, stores["SH-A"].id, mango) == (10, 0)
    # The other mechanism finds nothing left to do.
    assert await run("reservation_sweeper" if job == "cancel_unpaid" else "cancel_unpaid") == 0
    assert await run(job) == 0

    cs = await staff_api(api, runtime, "cs-agent", StaffRole.CS_AGENT, [])
    seen = await read(cs, order["id"])
    assert (seen["status"], seen["cancelReason"]) == ("CANCELLED", "payment timeout")
    assert seen["timeline"][-1] == {
        "fromStatus": "PENDING_PAYMENT",
        "toStatus": "CANCELLED",
        "actor": "SYSTEM",
        "reason": "payment timeout",
    }
    assert await outbox(runtime, order) == [
        ("ORDER_CANCELLED", f"order:{order_key(order)}:cancelled")
    ]
    assert payments(seen) == []


async def test_an_order_not_collected_by_the_deadline_becomes_unclaimed_and_is_refunded(
    api: Api,
    story: Story,
    member: Shopper,
    runtime: Runtime,
    clock: MovableClock,
    stores: dict[str, Any],
    mango: Variant,
) -> None:
    order = await story.ready(member)
    code = (await pickup_of(member, order))["code"]
    clock.advance(timedelta(days=2, hours=23))
    assert await expire_unclaimed(runtime.ordering) == 0

    clock.advance(timedelta(hours=1, minutes=1))
    # Past the deadline (and a payment timeout more) before the job ran: the reservation
    # sweeper must not take the goods from under the still-READY order.
    clock.advance(timedelta(minutes=16))
    assert await sweep_expired(runtime.inventory) == 0
    assert await expire_unclaimed(runtime.ordering) == 1
    assert await expire_unclaimed(runtime.ordering) == 0

    assert await level(runtime, stores["SH-A"].id, mango) == (10, 0)
    cs = await staff_api(api, runtime, "cs-agent", StaffRole.CS_AGENT, [])
    seen = await read(cs, order["id"])
    assert seen["status"] == "UNCLAIMED"
    assert seen["timeline"][-1]["actor"] == "SYSTEM"
    assert payments(seen) == [("PAYMENT", "SUCCEEDED"), ("REFUND", "REFUND_PENDING")]
    key = order_key(order)
    messages = await outbox(runtime, order)
    assert kinds(messages[:2]) == ["ORDER_PAID", "ORDER_READY_FOR_PICKUP"]
    assert sorted(messages[2:]) == [  # one transaction
        ("ORDER_REFUNDED", f"order:{key}:refunded"),
        ("ORDER_UNCLAIMED", f"order:{key}:unclaimed"),
    ]
    manager = await relogin(api, "manager-a")
    assert refusal(await complete(manager, stores, code))[0] == "INVALID_PICKUP_CODE"


async def test_a_ready_order_keeps_its_stock_until_its_pickup_deadline(
    api: Api,
    story: Story,
    member: Shopper,
    runtime: Runtime,
    clock: MovableClock,
    stores: dict[str, Any],
    mango: Variant,
) -> None:
    """Paid on Monday, packed on Tuesday: the goods are held until Friday's deadline, and
    handing them over on Thursday takes them off the shelf count."""
    order = await story.paid(member)
    clock.advance(timedelta(days=1))
    manager = await relogin(api, "manager-a")
    for mutation in ("startPreparingOrder", "markOrderReadyForPickup"):
        assert (await step(manager, mutation, order["id"]))["errors"] == []
    code = (await pickup_of(await shopper(api, member.openid), order))["code"]

    clock.advance(timedelta(days=2, hours=12))  # 3.5 days after payment, before the deadline
    assert await sweep_expired(runtime.inventory) == 0
    assert await expire_unclaimed(runtime.ordering) == 0
    assert await level(runtime, stores["SH-A"].id, mango) == (10, 2)

    manager = await relogin(api, "manager-a")
    done = await complete(manager, stores, code)
    assert done["errors"] == [] and done["order"]["status"] == "PICKED_UP", done
    assert await level(runtime, stores["SH-A"].id, mango) == (8, 0)
    sums = await runtime.repos.inventory.ledger_sums()
    assert sums[(stores["SH-A"].id, mango.id)] == (8, 0)


async def test_one_pickup_reminder_a_day_before_the_deadline(
    story: Story, member: Shopper, runtime: Runtime, clock: MovableClock
) -> None:
    order = await story.ready(member)
    waiting = await story.paid(member)  # not ready: no deadline, no reminder
    clock.advance(timedelta(days=1))
    assert await send_reminders(runtime.ordering) == 0

    clock.advance(timedelta(days=1, hours=12))
    assert await send_reminders(runtime.ordering) == 1
    assert await send_reminders(runtime.ordering) == 0
    clock.advance(timedelta(hours=6))
    assert await send_reminders(runtime.ordering) == 0

    reminders = [m for m in await outbox(runtime, order) if m[0] == "PICKUP_REMINDER"]
    assert reminders == [("PICKUP_REMINDER", f"order:{order_key(order)}:reminder")]
    assert "PICKUP_REMINDER" not in kinds(await outbox(runtime, waiting))
    # Both messages show the deadline on the store's clock (Asia/Shanghai, UTC+8), not UTC.
    stored = await runtime.repos.orders.get(order_key(order))
    assert stored is not None and stored.pickup_deadline is not None
    deadline = stored.pickup_deadline
    store_clock = deadline.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M")
    assert store_clock != deadline.astimezone(UTC).strftime("%Y-%m-%d %H:%M")
    messages = {m.kind: m for m in await runtime.repos.outbox.for_orders([order_key(order)])}
    assert messages["ORDER_READY_FOR_PICKUP"].data["deadline"] == store_clock
    assert messages["PICKUP_REMINDER"].data["deadline"] == store_clock


async def test_reminded_orders_never_crowd_out_the_rest_of_a_batch(
    story: Story, member: Shopper, runtime: Runtime, clock: MovableClock
) -> None:
    first = await story.ready(member)
    second = await story.ready(member)
    clock.advance(timedelta(days=2, hours=12))
    # a batch of one: the reminded (earliest) order must not take the only place again
    assert [await send_reminders(runtime.ordering, batch=1) for _ in range(3)] == [1, 1, 0]
    for order in (first, second):
        assert "PICKUP_REMINDER" in kinds(await outbox(runtime, order))


# ---------------------------------------------------------------- notifications


async def test_notifications_go_through_the_outbox_to_the_members_openid(
    story: Story, member: Shopper, cs: Api, runtime: Runtime, stores: dict[str, Any]
) -> None:
    notifier = runtime.notifier
    assert isinstance(notifier, FakeNotifier)
    notifier.clear()
    await consent(member)  # the review invitation is marketing
    collected = await story.picked_up(member)
    gone = await story.paid(member)
    assert (await cancel(member.api, gone))["errors"] == []

    first, second = order_key(collected), order_key(gone)
    assert await outbox(runtime, collected) == [
        ("ORDER_PAID", f"order:{first}:paid"),
        ("ORDER_READY_FOR_PICKUP", f"order:{first}:ready"),
        ("REVIEW_INVITATION", f"order:{first}:review"),
    ]
    assert sorted(await outbox(runtime, gone)) == [
        ("ORDER_CANCELLED", f"order:{second}:cancelled"),
        ("ORDER_PAID", f"order:{second}:paid"),
        ("ORDER_REFUNDED", f"order:{second}:refunded"),
    ]
    pending = (await read(cs, collected["id"]))["notifications"]
    assert {n["status"] for n in pending} == {"PENDING"}
    assert notifier.sent == []

    assert await deliver_due(runtime.outbox_deps) == 6
    assert await deliver_due(runtime.outbox_deps) == 0

    assert len(notifier.sent) == 6
    assert {sent.body["touser"] for sent in notifier.sent} == {member.openid}
    stored = await outbox(runtime, collected) + await outbox(runtime, gone)
    assert sorted(sent.dedupe_key for sent in notifier.sent) == sorted(k for _, k in stored)
    ready = next(s.body for s in notifier.sent if s.kind == "ORDER_READY_FOR_PICKUP")
    assert ready["template_id"] == "tmpl-order_ready_for_pickup"  # the development template
    assert ready["data"]["thing2"] == {"value": stores["SH-A"].name}
    assert re.fullmatch(r"[0-9]{6}", ready["data"]["character_string3"]["value"])
    assert ready["page"] == f"pages/order/detail?id={first}"
    for order in (collected, gone):
        seen = (await read(cs, order["id"]))["notifications"]
        assert [n["status"] for n in seen] == ["SENT", "SENT", "SENT"], seen
        assert sorted(n["kind"] for n in seen) == sorted(kinds(await outbox(runtime, order)))


async def test_review_invitations_need_the_members_wechat_marketing_consent(
    api: Api, story: Story, member: Shopper, runtime: Runtime
) -> None:
    """Marketing asks `can_contact` per purpose; transactional messages never do."""
    transactional = ["ORDER_PAID", "ORDER_READY_FOR_PICKUP"]
    never_asked = await story.picked_up(member, 1)
    assert kinds(await outbox(runtime, never_asked)) == transactional

    await consent(member, purpose="MARKETING_SMS")  # another channel's purpose
    sms_only = await story.picked_up(member, 1)
    assert kinds(await outbox(runtime, sms_only)) == transactional

    await consent(member)
    invited = await story.picked_up(member, 1)
    assert kinds(await outbox(runtime, invited)) == [*transactional, "REVIEW_INVITATION"]

    done = await member.api.data("mutation { unsubscribeAll { errors { code } } }")
    assert done["unsubscribeAll"]["errors"] == []
    unsubscribed = await story.picked_up(member, 1)
    assert kinds(await outbox(runtime, unsubscribed)) == transactional

    # Consent is the member's own: another member's grant reaches nobody else.
    other = await shopper(api, "open-member-2")
    await consent(other)
    await consent(member, granted=False)
    assert kinds(await outbox(runtime, await story.picked_up(member, 1))) == transactional
    assert kinds(await outbox(runtime, await story.picked_up(other, 1)))[-1] == "REVIEW_INVITATION"


# ---------------------------------------------------------------- AT_RISK, merges, export

POS_SALE = """mutation($input: RecordPosSalesInput!) { recordPosSales(input: $input) {
  reservationsAtRisk discrepancies errors { code message } } }"""


async def test_a_till_sale_below_the_reservations_puts_the_newest_order_at_risk(
    story: Story,
    member: Shopper,
    manager_a: Api,
    cs: Api,
    stores: dict[str, Any],
    mango: Variant,
) -> None:
    older = await story.paid(member)
    newer = await story.pending(member)

    sale = await manager_a.data(
        POS_SALE,
        {
            "input": {
                "locationId": lid(stores, "SH-A"),
                "posTransactionId": "till-1-0001",
                "lines": [{"variantId": vid(mango), "quantity": 7, "lineTotal": 0}],
            }
        },
    )
    assert sale["recordPosSales"] == {"reservationsAtRisk": 1, "discrepancies": 0, "errors": []}

    at_risk = await read(manager_a, newer["id"])
    assert at_risk["atRisk"] is True and at_risk["status"] == "PENDING_PAYMENT"
    last = at_risk["timeline"][-1]
    assert (last["fromStatus"], last["toStatus"], last["actor"]) == (
        "PENDING_PAYMENT",
        "PENDING_PAYMENT",
        "SYSTEM",
    )
    assert "at risk" in last["reason"]
    fine = await read(cs, older["id"])
    assert fine["atRisk"] is False and len(fine["timeline"]) == 2


MERGE = """mutation($s: ID!, $t: ID!) { mergeMembers(input: {sourceMemberId: $s,
  targetMemberId: $t, reason: "same person"}) { member { id } errors { code message } } }"""
EXPORT = "mutation { exportMyData { document errors { code message } } }"
MY_ORDERS = """query($first: Int, $after: String, $status: [OrderStatus!]) { me {
  orders(first: $first, after: $after, status: $status) {
    edges { cursor node { id status } } pageInfo { hasNextPage endCursor } } } }"""


@pytest.fixture
def orders_export(runtime: Runtime) -> None:
    """The shared test runtime may have lost the orders section of the member export
    (tests/api/test_member_privacy.py swaps in its own, then unregisters "orders"): restore
    it. test_a_new_runtime_exports_orders checks the wiring on a runtime of its own."""
    runtime.exporters.register_list("orders", export_orders)


async def test_a_new_runtime_exports_orders(
    story: Story, member: Shopper, settings: Settings
) -> None:
    order = await story.pending(member)
    sections = dict(Runtime(settings).exporters.lists())
    async with TortoiseUnitOfWork() as uow:
        items, after = await sections["orders"](uow, ExportScope(member.key, str), None)
    assert ([o["number"] for o in items], after) == ([order["number"]], None)


async def test_merged_members_orders_move_to_the_survivor_and_are_in_its_export(
    api: Api, story: Story, member: Shopper, cs: Api, orders_export: None
) -> None:
    target = await shopper(api, "open-survivor")
    moved = await story.paid(member)
    own = await story.pending(target, 1)

    done = (await cs.data(MERGE, {"s": member.id, "t": target.id}))["mergeMembers"]
    assert done["errors"] == [] and done["member"] == {"id": target.id}, done

    assert (await OrderRow.get(id=order_key(moved))).member_id == target.key
    listed = (await target.api.data(MY_ORDERS, {"first": 10}))["me"]["orders"]["edges"]
    assert [e["node"]["id"] for e in listed] == [own["id"], moved["id"]]
    assert (await read(target.api, moved["id"]))["status"] == "PAID"

    export = (await target.api.data(EXPORT))["exportMyData"]
    assert export["errors"] == []
    orders = export["document"]["orders"]
    assert sorted(o["number"] for o in orders) == sorted([moved["number"], own["number"]])
    entry = next(o for o in orders if o["number"] == moved["number"])
    assert (entry["status"], entry["total"], entry["fulfilment"]) == ("PAID", 2 * PRICE, "PICKUP")
    assert entry["lines"] == [
        {"sku": "M-1", "name": "Mango 1kg", "quantity": 2, "unitPrice": PRICE}
    ]


# ---------------------------------------------------------------- queries


async def test_my_orders_page_newest_first_and_filter_by_status(
    api: Api, story: Story, member: Shopper
) -> None:
    first = await story.pending(member, 1)
    second = await story.paid(member, 1)
    third = await story.pending(member, 1)
    someone = await shopper(api, "open-someone-else")
    await story.pending(someone, 1)

    page = (await member.api.data(MY_ORDERS, {"first": 2}))["me"]["orders"]
    assert [e["node"]["id"] for e in page["edges"]] == [third["id"], second["id"]]
    assert page["pageInfo"]["hasNextPage"] is True
    after = page["pageInfo"]["endCursor"]
    rest = (await member.api.data(MY_ORDERS, {"first": 2, "after": after}))["me"]["orders"]
    assert [e["node"]["id"] for e in rest["edges"]] == [first["id"]]
    assert rest["pageInfo"]["hasNextPage"] is False

    paid = (await member.api.data(MY_ORDERS, {"status": ["PAID"]}))["me"]["orders"]["edges"]
    assert [e["node"] for e in paid] == [{"id": second["id"], "status": "PAID"}]
    statuses = ["PAID", "PENDING_PAYMENT"]
    both = (await member.api.data(MY_ORDERS, {"status": statuses}))["me"]["orders"]["edges"]
    assert len(both) == 3
    none = (await member.api.data(MY_ORDERS, {"status": ["CANCELLED"]}))["me"]["orders"]
    assert none["edges"] == [] and none["pageInfo"]["hasNextPage"] is False

    bad = await member.api(MY_ORDERS, {"first": 2, "after": "garbage!"})
    assert bad.get("errors"), bad


ORDER_BY_ID = "query($id: ID!) { order(id: $id) { id status } }"


async def test_an_order_is_visible_to_its_member_its_store_and_cs_only(
    api: Api,
    story: Story,
    member: Shopper,
    manager_a: Api,
    clerk_a: Api,
    manager_b: Api,
    admin: Api,
    cs: Api,
    runtime: Runtime,
    stores: dict[str, Any],
) -> None:
    order = await story.paid(member)
    _, pos_a = await create_device(runtime.auth, stores["SH-A"].id, DeviceKind.POS)
    _, pos_b = await create_device(runtime.auth, stores["SH-B"].id, DeviceKind.POS)
    someone = await shopper(api, "open-someone-else")
    expected = {"id": order["id"], "status": "PAID"}

    for reader in (member.api, manager_a, clerk_a, admin, cs, api.as_(pos_a)):
        assert (await reader.data(ORDER_BY_ID, {"id": order["id"]}))["order"] == expected
    for outsider in (someone.api, manager_b, api.as_(pos_b)):
        assert (await outsider.data(ORDER_BY_ID, {"id": order["id"]}))["order"] is None
    assert (await cs.data(ORDER_BY_ID, {"id": encode_id("Order", new_id())}))["order"] is None

    anonymous = await api(ORDER_BY_ID, {"id": order["id"]})
    assert top_level_codes(anonymous) == ["UNAUTHENTICATED"]
    malformed = await cs(ORDER_BY_ID, {"id": "not-an-id"})
    assert top_level_codes(malformed) == ["INVALID_ID"]


CS_ORDERS = """query($m: ID, $s: [OrderStatus!], $first: Int, $after: String) {
  orders(memberId: $m, status: $s, first: $first, after: $after) {
    nodes { id status } pageInfo { hasNextPage endCursor } } }"""


async def test_cs_lists_orders_by_member_and_status(
    api: Api, story: Story, member: Shopper, cs: Api, manager_a: Api
) -> None:
    someone = await shopper(api, "open-someone-else")
    a1 = await story.pending(member, 1)
    a2 = await story.paid(member, 1)
    b1 = await story.paid(someone, 1)

    def ids(data: dict[str, Any]) -> list[str]:
        return [n["id"] for n in data["orders"]["nodes"]]

    assert ids(await cs.data(CS_ORDERS)) == [b1["id"], a2["id"], a1["id"]]
    assert ids(await cs.data(CS_ORDERS, {"m": member.id})) == [a2["id"], a1["id"]]
    assert ids(await cs.data(CS_ORDERS, {"s": ["PAID"]})) == [b1["id"], a2["id"]]
    assert ids(await cs.data(CS_ORDERS, {"m": member.id, "s": ["PAID"]})) == [a2["id"]]
    assert ids(await cs.data(CS_ORDERS, {"m": someone.id, "s": ["PENDING_PAYMENT"]})) == []
    page = await cs.data(CS_ORDERS, {"first": 1})
    assert ids(page) == [b1["id"]] and page["orders"]["pageInfo"]["hasNextPage"] is True
    after = await cs.data(CS_ORDERS, {"first": 5, "after": page["orders"]["pageInfo"]["endCursor"]})
    assert ids(after) == [a2["id"], a1["id"]]

    for outsider in (manager_a, member.api):
        assert top_level_codes(await outsider(CS_ORDERS)) == ["FORBIDDEN"]
    assert top_level_codes(await api(CS_ORDERS)) == ["UNAUTHENTICATED"]


QUEUE = """query($l: ID!, $s: [OrderStatus!], $first: Int) {
  pickupQueue(locationId: $l, statuses: $s, first: $first) { nodes { id status } } }"""


async def test_the_pickup_queue_holds_the_stores_open_paid_orders(
    api: Api,
    story: Story,
    member: Shopper,
    clerk_a: Api,
    manager_b: Api,
    cs: Api,
    runtime: Runtime,
    stores: dict[str, Any],
    mango: Variant,
) -> None:
    await story.pending(member, 1)
    paid = await story.paid(member, 1)
    preparing = await story.preparing(member, 1)
    ready = await story.ready(member, 1)
    await story.picked_up(member, 1)
    cancelled = await story.paid(member, 1)
    assert (await cancel(member.api, cancelled))["errors"] == []
    await receive(runtime, stores["SH-B"].id, mango, 5)
    at_b = await placed(member.api, order_input([(mango, 1)], pickup=lid(stores, "SH-B")))
    await pay_online(story.client, runtime, member, at_b)

    queue = (await clerk_a.data(QUEUE, {"l": lid(stores, "SH-A")}))["pickupQueue"]["nodes"]
    assert queue == [
        {"id": ready["id"], "status": "READY_FOR_PICKUP"},
        {"id": preparing["id"], "status": "PREPARING"},
        {"id": paid["id"], "status": "PAID"},
    ]
    only_ready = await clerk_a.data(QUEUE, {"l": lid(stores, "SH-A"), "s": ["READY_FOR_PICKUP"]})
    assert only_ready["pickupQueue"]["nodes"] == [{"id": ready["id"], "status": "READY_FOR_PICKUP"}]
    b_queue = (await manager_b.data(QUEUE, {"l": lid(stores, "SH-B")}))["pickupQueue"]["nodes"]
    assert b_queue == [{"id": at_b["id"], "status": "PAID"}]
    _, pos_a = await create_device(runtime.auth, stores["SH-A"].id, DeviceKind.POS)
    by_pos = await api.as_(pos_a).data(QUEUE, {"l": lid(stores, "SH-A")})
    assert len(by_pos["pickupQueue"]["nodes"]) == 3

    assert top_level_codes(
        await clerk_a(QUEUE, {"l": lid(stores, "SH-A"), "s": ["CANCELLED"]})
    ) == ["INVALID_INPUT"]
    for outsider in (manager_b, cs, member.api):
        assert top_level_codes(await outsider(QUEUE, {"l": lid(stores, "SH-A")})) == ["FORBIDDEN"]


QUEUE_DEEP = """query($l: ID!, $first: Int) { pickupQueue(locationId: $l, first: $first) {
  nodes { id number status total { amount } location { code }
    lines { sku quantity variant { code } product { name } } } } }"""


async def test_the_pickup_queue_costs_the_same_sql_for_2_or_20_orders(
    story: Story, member: Shopper, manager_a: Api, runtime: Runtime, stores: dict[str, Any]
) -> None:
    extra = await make_variants(runtime, ("K-1", "kiwi", 500), ("K-2", "kiwis", 900))
    for variant in extra:
        await receive(runtime, stores["SH-A"].id, variant, 100)
    for n in range(20):
        order = await placed(
            member.api,
            order_input(
                [(story.mango if n % 2 else extra[0], 1), (extra[1], 1 + n % 3)],
                pickup=lid(stores, "SH-A"),
            ),
        )
        await pay_online(story.client, runtime, member, order)

    with count_sql() as small_statements:
        small = await manager_a.data(QUEUE_DEEP, {"l": lid(stores, "SH-A"), "first": 2})
    with count_sql() as large_statements:
        large = await manager_a.data(QUEUE_DEEP, {"l": lid(stores, "SH-A"), "first": 20})

    assert len(small["pickupQueue"]["nodes"]) == 2
    assert len(large["pickupQueue"]["nodes"]) == 20
    for node in large["pickupQueue"]["nodes"]:
        assert node["location"] == {"code": "SH-A"}
        assert len(node["lines"]) == 2
        assert all(x["variant"]["code"] == x["sku"] for x in node["lines"])
        assert all(x["product"]["name"] == "Mango" for x in node["lines"])
    assert len(small_statements) == len(large_statements), (small_statements, large_statements)


MEMBER_ORDERS = """query($m: ID!, $first: Int!) { member(id: $m) { orders(first: $first) {
  nodes { id notifications { kind status attempts } } } } }"""


async def test_order_notifications_cost_the_same_sql_for_2_or_8_orders(
    story: Story, member: Shopper, cs: Api
) -> None:
    await consent(member)
    for _ in range(4):
        await story.picked_up(member, 1)
        await story.paid(member, 1)
    counted = []
    for first in (2, 8):
        with count_sql() as statements:
            seen = await cs.data(MEMBER_ORDERS, {"m": member.id, "first": first})
        nodes = seen["member"]["orders"]["nodes"]
        assert len(nodes) == first
        assert all(n["notifications"] for n in nodes)
        counted.append(len(statements))
    assert {n["kind"] for o in nodes for n in o["notifications"]} >= {
        "ORDER_PAID",
        "ORDER_READY_FOR_PICKUP",
        "REVIEW_INVITATION",
    }
    assert counted[0] == counted[1], counted


async def test_lifecycle_mutations_refuse_the_id_of_another_type(
    member: Shopper, stores: dict[str, Any], mango: Variant
) -> None:
    """Lifecycle mutations parse the order id first: another type's id is INVALID_ID."""
    payload = await step(member.api, "startPreparingOrder", vid(mango))
    assert refusal(payload)[0] == "INVALID_ID"
    payload = await place(member.api, order_input([(mango, 1)], pickup=lid(stores, "SH-A")))
    assert payload["errors"] == []
