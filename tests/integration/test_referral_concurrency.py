"""Referral rewards racing each other on PostgreSQL, through concurrent API requests (each
its own transaction on its own pooled connection): the referrer's monthly counter is one
conditional update, so hand-overs of many invitees' first orders never pay the referrer over
the cap; the invitee's referral row is locked, so two of the invitee's orders handed over at
once reward once."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from domain.catalog.model import Variant
from domain.identity.model import StaffRole
from infra.db.models.referrals import ReferralMonthRow, ReferralProgramRow, ReferralRow
from infra.runtime import Runtime
from tests.support import is_postgres
from tests.support.api import Api, staff_api
from tests.support.orders import (
    complete,
    lid,
    make_variants,
    order_input,
    pay_online,
    pickup_of,
    placed,
    receive,
    stepped,
)
from tests.support.referrals import (
    CREATE_PROGRAM,
    balance,
    code_of,
    create_program,
    invited,
    program_input,
)
from tests.support.shoppers import Shopper, shopper


@pytest.fixture(autouse=True)
def postgres_only(runtime: Runtime) -> None:
    if not is_postgres(runtime.settings.database_url):
        pytest.skip("concurrency is decided by PostgreSQL's row locks")


async def _ready(
    client: httpx.AsyncClient,
    runtime: Runtime,
    clerk: Api,
    who: Shopper,
    stores: dict[str, Any],
    variant: Variant,
) -> str:
    """A paid pickup order ready at SH-A; its pickup code."""
    order = await placed(who.api, order_input([(variant, 1)], pickup=lid(stores, "SH-A")))
    await pay_online(client, runtime, who, order)
    await stepped(clerk, "startPreparingOrder", order["id"])
    await stepped(clerk, "markOrderReadyForPickup", order["id"])
    code: str = (await pickup_of(who, order))["code"]
    return code


async def test_concurrent_first_orders_never_pay_the_referrer_over_the_monthly_cap(
    client: httpx.AsyncClient, api: Api, admin: Api, runtime: Runtime, stores: dict[str, Any]
) -> None:
    [mango] = await make_variants(runtime, ("MANGO", "1kg", 3000))
    await receive(runtime, stores["SH-A"].id, mango, 50)
    clerk = await staff_api(api, runtime, "race-clerk", StaffRole.STORE_CLERK, [stores["SH-A"]])
    await create_program(admin, runtime, monthlyCap=3, referrerPoints=200, inviteePoints=10)
    alice = await shopper(api, "race-alice")
    code = await code_of(alice)
    invitees = [(await invited(api, f"race-{n}", code))[0] for n in range(10)]
    codes = [await _ready(client, runtime, clerk, who, stores, mango) for who in invitees]

    done = await asyncio.gather(*(complete(clerk, stores, c) for c in codes))

    assert [d["errors"] for d in done] == [[]] * 10
    assert await balance(alice) == 3 * 200  # exactly the cap, whoever won
    rows = await ReferralRow.filter(referrer_id=alice.key)
    assert sorted(r.referrer_paid for r in rows) == [False] * 7 + [True] * 3
    assert {r.status.value for r in rows} == {"REWARDED"}
    assert await ReferralMonthRow.filter(referrer_id=alice.key).values_list(
        "rewarded", flat=True
    ) == [3]


async def test_two_orders_of_one_invitee_handed_over_at_once_reward_once(
    client: httpx.AsyncClient, api: Api, admin: Api, runtime: Runtime, stores: dict[str, Any]
) -> None:
    [mango] = await make_variants(runtime, ("MANGO", "1kg", 3000))
    await receive(runtime, stores["SH-A"].id, mango, 50)
    clerk = await staff_api(api, runtime, "twin-clerk", StaffRole.STORE_CLERK, [stores["SH-A"]])
    await create_program(admin, runtime, referrerPoints=200)
    alice = await shopper(api, "twin-alice")
    bob, _ = await invited(api, "twin-bob", await code_of(alice))
    codes = [await _ready(client, runtime, clerk, bob, stores, mango) for _ in range(4)]

    done = await asyncio.gather(*(complete(clerk, stores, c) for c in codes))

    assert [d["errors"] for d in done] == [[]] * 4
    assert await balance(alice) == 200
    [row] = await ReferralRow.filter(invitee_id=bob.key)
    assert row.status.value == "REWARDED" and row.order_id is not None
    assert await ReferralMonthRow.filter(referrer_id=alice.key).values_list(
        "rewarded", flat=True
    ) == [1]


async def test_admins_activating_programs_at_once_leave_one_active(
    api: Api, admin: Api, runtime: Runtime
) -> None:
    """The check `_none_active` reads before writing; the unique `active_slot` decides a race:
    every loser is refused with PROGRAM_ACTIVE (never an internal error) and writes nothing."""
    given = [{"program": program_input(runtime, name=f"第{n}期")} for n in range(6)]

    bodies = await asyncio.gather(*(admin(CREATE_PROGRAM, {"i": i}) for i in given))

    created = [
        b
        for b in bodies
        if ((b.get("data") or {}).get("createReferralProgram") or {}).get("program")
    ]
    assert len(created) == 1
    refused = [b for b in bodies if b not in created]
    assert [[e["code"] for e in b["data"]["createReferralProgram"]["errors"]] for b in refused] == [
        ["PROGRAM_ACTIVE"]
    ] * 5, refused
    assert await ReferralProgramRow.filter(status="ACTIVE").count() == 1
    assert await ReferralProgramRow.all().count() == 1
