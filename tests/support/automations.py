"""Automations over the API (tests/api/test_automation*.py): define one as ADMIN, move it
(pause, resume, archive), run the job, read what it did, a member's consent, a store in another
time zone; and their shared fixtures (registered by tests/conftest.py as a plugin): the store's
morning, a stocked variant, PostgreSQL only."""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from uuid import UUID

import pytest

from api.relay import decode_id
from domain.catalog.model import Variant
from domain.locations.model import Location
from domain.locations.services import LocationDraft, create_location
from infra.db.models.outbox import OutboxMessageRow
from infra.jobs import find_job, run_job
from infra.runtime import Runtime
from tests.support.api import Api
from tests.support.clock import MovableClock
from tests.support.db import is_postgres
from tests.support.orders import make_variants, receive
from tests.support.shoppers import Shopper

ERRORS = "errors { code field message }"
AUTOMATION = """id name status trigger { kind days } conditions { tiers minOrders }
  action { kind couponTemplateId points channel text tagId } frequencyCap { messages days }
  quietHours { start end }"""
CREATE = f"""mutation($i: AutomationInput!) {{ createAutomation(input: {{automation: $i}}) {{
  automation {{ {AUTOMATION} }} {ERRORS} }} }}"""
SEND = """memberId outcome action periodKey messageKey couponId pointsEntryId detail dueAt
  automationId tagId"""
ONE = f"""query($id: ID!) {{ automation(id: $id) {{ name status
  runs {{ done pending blockedConsent blockedCap skipped failed }}
  sends(first: 20) {{ nodes {{ {SEND} }} }} }} }}"""
MOVE = """mutation($id: ID!) {{ {op}(input: {{id: $id}}) {{ automation {{ status }}
  errors {{ code field }} }} }}"""
DRY = """query($id: ID!) { dryRunAutomation(id: $id) { candidates wouldHit blockedConsent
  blockedCap deferredQuietHours skippedConditions } }"""
CONSENT = """mutation($c: [ConsentChangeInput!]!) { updateConsents(input: {changes: $c,
  policyVersion: "2026-01", channel: MINI_PROGRAM}) { errors { code } } }"""


def automation_input(**fields: Any) -> dict[str, Any]:
    return {
        "name": "首单关怀",
        "trigger": {"kind": "FIRST_ORDER_HANDED_OVER"},
        "action": {"kind": "SEND_MESSAGE", "channel": "WECHAT", "text": "感谢首单"},
        **fields,
    }


async def create(admin: Api, **fields: Any) -> dict[str, Any]:
    payload = (await admin.data(CREATE, {"i": automation_input(**fields)}))["createAutomation"]
    assert payload["errors"] == [], payload
    made: dict[str, Any] = payload["automation"]
    return made


def automation_key(automation: dict[str, Any]) -> UUID:
    return decode_id(automation["id"], "Automation")


async def move(admin: Api, op: str, automation: dict[str, Any]) -> dict[str, Any]:
    """pauseAutomation, resumeAutomation or archiveAutomation: its payload."""
    done = await admin.data(MOVE.format(op=op), {"id": automation["id"]})
    payload: dict[str, Any] = done[op]
    return payload


async def run(runtime: Runtime) -> int:
    job = find_job("run_automations")
    assert job is not None
    return await run_job(runtime, job)


async def consent(who: Shopper, purpose: str = "MARKETING_WECHAT", granted: bool = True) -> None:
    done = await who.api.data(CONSENT, {"c": [{"purpose": purpose, "granted": granted}]})
    assert done["updateConsents"]["errors"] == [], done


async def detail(admin: Api, automation: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = (await admin.data(ONE, {"id": automation["id"]}))["automation"]
    return found


async def messages(who: Shopper | None = None) -> list[OutboxMessageRow]:
    query = OutboxMessageRow.filter(kind="AUTOMATION_MESSAGE")
    if who is not None:
        query = query.filter(member_id=who.key)
    return list(await query)


async def berlin_store(runtime: Runtime, stores: dict[str, Any]) -> Location:
    """A store open around the clock in Europe/Berlin (7 or 6 hours behind Shanghai)."""
    return await create_location(
        runtime.locations,
        replace(
            LocationDraft(
                code="BER-1",
                name="Store Berlin",
                type=stores["SH-A"].type,
                address="1 Test Str",
                city="Berlin",
                latitude=52.52,
                longitude=13.40,
                opening_hours={
                    d: [("00:00", "23:59")]
                    for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
                },
                pickup_enabled=True,
            ),
            timezone="Europe/Berlin",
        ),
    )


@pytest.fixture
def store_morning(clock: MovableClock) -> None:
    """Store-local 10:00, outside the default quiet hours, whatever the hour of the run (a
    module takes it with `pytestmark = pytest.mark.usefixtures("store_morning")`)."""
    clock.put(clock.today(), hour=10)


@pytest.fixture
async def mango(runtime: Runtime, stores: dict[str, Any]) -> Variant:
    """A variant with 50 on the shelf of SH-A."""
    [variant] = await make_variants(runtime, ("MANGO", "1kg", 3000))
    await receive(runtime, stores["SH-A"].id, variant, 50)
    return variant


@pytest.fixture
def postgres(runtime: Runtime) -> None:
    if not is_postgres(runtime.settings.database_url):
        pytest.skip("races need PostgreSQL's row locks (SQLite runs one writer at a time)")
