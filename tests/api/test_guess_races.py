"""Brute-force limits hold under concurrency, across two API processes (issue 12, item 4).

Before: 301 concurrent wrong `loginWithPhone` guesses compared 21-40 of them with the code
(limit 5: the count was read, then written), and 300 concurrent wrong `completePickup` made
147 look-ups before the store locked (limit 20: counted after the look-up). On PostgreSQL
half the guesses go to a second `omnishelf serve` process; on SQLite (one writer) all go
through this one."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from domain.identity.model import DeviceKind
from domain.identity.services import create_device
from domain.ordering.deps import OrderPolicy
from infra.db.models.members import PhoneCodeRow
from infra.runtime import Runtime
from tests.support import MovableClock, is_postgres
from tests.support.api import Api, login
from tests.support.members import PHONE_LOGIN, send_code, wrong
from tests.support.orders import COMPLETE, READ, Story, lid, make_variants, pickup_of, receive
from tests.support.payloads import refusal
from tests.support.processes import second_api
from tests.support.shoppers import shopper

GUESSES = 300
PHONE, PHONE_E164 = "13700137000", "+8613700137000"
Send = Callable[[str, dict[str, Any]], Awaitable[dict[str, Any]]]


@asynccontextmanager
async def two_doors(api: Api, runtime: Runtime) -> AsyncIterator[list[Send]]:
    """Ways in for one caller: this process, and another process on PostgreSQL."""

    async def here(query: str, variables: dict[str, Any]) -> dict[str, Any]:
        return await api(query, variables)

    if not is_postgres(runtime.settings.database_url):
        yield [here]
        return
    async with second_api(runtime.settings) as client:

        async def there(query: str, variables: dict[str, Any]) -> dict[str, Any]:
            headers = {"Authorization": f"Bearer {api.token}"} if api.token else {}
            response = await client.post(
                "/graphql", json={"query": query, "variables": variables}, headers=headers
            )
            assert response.status_code == 200, response.text
            body: dict[str, Any] = response.json()
            return body

        yield [here, there]


async def storm(doors: list[Send], query: str, variables: list[dict[str, Any]]) -> list[Any]:
    return await asyncio.gather(*(doors[n % len(doors)](query, v) for n, v in enumerate(variables)))


async def test_concurrent_wrong_phone_codes_compare_at_most_five_times(
    api: Api, runtime: Runtime
) -> None:
    code = await send_code(api, runtime, PHONE, PHONE_E164)
    async with two_doors(api, runtime) as doors:
        bodies = await storm(doors, PHONE_LOGIN, [{"phone": PHONE, "code": wrong(code)}] * GUESSES)
    answers = Counter(
        e["code"] for body in bodies for e in body["data"]["loginWithPhone"]["errors"]
    )
    # Each INVALID_CODE is one comparison made; the rest were refused before comparing.
    assert answers["INVALID_CODE"] == 5, answers
    assert set(answers) <= {"INVALID_CODE", "TOO_MANY_ATTEMPTS", "TOO_MANY_REQUESTS"}, answers
    assert [row.attempts for row in await PhoneCodeRow.all()] == [5]
    # The code is burnt: the right one no longer opens the account.
    right = (await api.data(PHONE_LOGIN, {"phone": PHONE, "code": code}))["loginWithPhone"]
    assert [e["code"] for e in right["errors"]] == ["TOO_MANY_ATTEMPTS"]


@pytest.fixture
async def ready(
    client: httpx.AsyncClient, runtime: Runtime, stores: dict[str, Any], manager_a: Api, api: Api
) -> tuple[Story, Any, dict[str, Any], str]:
    (mango,) = await make_variants(runtime, ("RACE-1", "1kg", 1990))
    await receive(runtime, stores["SH-A"].id, mango, 10)
    member = await shopper(api, "race-victim")
    story = Story(client, runtime, stores, mango, manager_a)
    order = await story.ready(member)
    return story, member, order, (await pickup_of(member, order))["code"]


async def test_concurrent_wrong_pickup_codes_look_up_at_most_the_limit(
    api: Api, runtime: Runtime, stores: dict[str, Any], manager_a: Api, admin: Api, ready: Any
) -> None:
    _, _, order, code = ready
    at_a = lid(stores, "SH-A")
    _, till = await create_device(runtime.auth, stores["SH-A"].id, DeviceKind.POS)
    guesses = [f"{n:06d}" for n in range(GUESSES + 1) if f"{n:06d}" != code][:GUESSES]
    async with two_doors(api.as_(till), runtime) as doors:
        bodies = await storm(doors, COMPLETE, [{"l": at_a, "c": g} for g in guesses])
    answers = Counter(refusal(b["data"]["completePickup"])[0] for b in bodies)
    limit = OrderPolicy().wrong_codes_per_store
    assert answers == {"INVALID_PICKUP_CODE": limit, "TOO_MANY_ATTEMPTS": GUESSES - limit}
    assert (await admin.data(READ, {"id": order["id"]}))["order"]["status"] == "READY_FOR_PICKUP"

    # Locked: the right code waits too, until a manager of the store lifts the lock.
    locked = (await manager_a.data(COMPLETE, {"l": at_a, "c": code}))["completePickup"]
    assert refusal(locked)[0] == "TOO_MANY_ATTEMPTS"
    lift = """mutation($i: LiftPickupCodeLockInput!) { liftPickupCodeLock(input: $i) {
      ok errors { code field } } }"""
    short = await manager_a.data(lift, {"i": {"locationId": at_a, "reason": "x"}})
    assert short["liftPickupCodeLock"]["errors"] == [{"code": "INVALID_INPUT", "field": ["reason"]}]
    lifted = await manager_a.data(
        lift,
        {"i": {"locationId": at_a, "reason": "customer at the counter with ID"}},
    )
    assert lifted["liftPickupCodeLock"] == {"ok": True, "errors": []}
    audit = await admin.data("{ staffActions { nodes { actor action subject reason } } }")
    [entry] = audit["staffActions"]["nodes"]
    assert entry["action"] == "LIFT_PICKUP_LOCK" and entry["actor"].startswith("STAFF:")
    assert entry["subject"] == f"location:{stores['SH-A'].id}"

    # A hand-over retried with its key answers the same order, and counts no wrong code.
    hand = """mutation($l: ID!, $c: String!, $k: String) { completePickup(input:
      {locationId: $l, pickupCode: $c, idempotencyKey: $k}) {
        order { id status } errors { code } } }"""
    first = await manager_a.data(hand, {"l": at_a, "c": code, "k": "hand-1"})
    again = await manager_a.data(hand, {"l": at_a, "c": code, "k": "hand-1"})
    assert first["completePickup"]["order"] == {"id": order["id"], "status": "PICKED_UP"}
    assert again == first
    timeline = (await admin.data(READ, {"id": order["id"]}))["order"]["timeline"]
    assert [e["toStatus"] for e in timeline].count("PICKED_UP") == 1


async def test_a_lost_or_expired_code_is_handed_over_by_a_manager_after_a_lookup(
    api: Api,
    runtime: Runtime,
    clock: MovableClock,
    stores: dict[str, Any],
    manager_a: Api,
    clerk_a: Api,
    admin: Api,
    ready: Any,
) -> None:
    _, member, order, code = ready
    at_a = lid(stores, "SH-A")
    other = await shopper(api, "someone-else")
    deadline = (await admin.data(READ, {"id": order["id"]}))["order"]["pickupDeadline"]
    assert deadline is not None
    clock.advance(OrderPolicy().pickup_window)  # past the deadline, before the unclaimed job
    manager_a, clerk_a, admin = [  # their access tokens expired meanwhile
        api.as_((await login(api, name, "correct-horse-battery"))["tokens"]["accessToken"])
        for name in ("manager-a", "clerk-a", "admin")
    ]
    expired = (await manager_a.data(COMPLETE, {"l": at_a, "c": code}))["completePickup"]
    assert refusal(expired) == ("PICKUP_CODE_EXPIRED", ["pickupCode"])

    without = """mutation($i: HandOverWithoutCodeInput!) { handOverWithoutCode(input: $i) {
      order { id status } errors { code field } } }"""

    def input_(member_id: str, reason: str = "lost the phone; ID checked") -> dict[str, Any]:
        return {"i": {"orderId": order["id"], "memberId": member_id, "reason": reason}}

    for caller, member_id, expected in (
        (clerk_a, member.id, ("FORBIDDEN", ["orderId"])),
        (manager_a, other.id, ("FORBIDDEN", ["memberId"])),
    ):
        answer = (await caller.data(without, input_(member_id)))["handOverWithoutCode"]
        assert (answer["errors"][0]["code"], answer["errors"][0]["field"]) == expected
    assert (await admin.data(READ, {"id": order["id"]}))["order"]["status"] == "READY_FOR_PICKUP"
    done = (await manager_a.data(without, input_(member.id)))["handOverWithoutCode"]
    assert done == {"order": {"id": order["id"], "status": "PICKED_UP"}, "errors": []}
    last = (await admin.data(READ, {"id": order["id"]}))["order"]["timeline"][-1]
    assert last["toStatus"] == "PICKED_UP"
    assert last["reason"] == "handed over without code: lost the phone; ID checked"
