"""The SEND_SMS automation action over the API, on PostgreSQL and SQLite: a text through the
outbox to the SMS port (the development fake, the external boundary), only with the member's
MARKETING_SMS consent, once per trigger period however often the jobs run, counted in the
frequency cap with WeChat messages, put off by quiet hours, on the member's timeline; the
outbox row holds the text, never the phone number (decrypted only when the text is sent)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest

from domain.catalog.model import Variant
from infra.jobs import find_job, run_job
from infra.runtime import Runtime
from infra.sms import FakeSmsSender
from tests.support import MovableClock
from tests.support.api import Api, relogin
from tests.support.automations import DRY, consent, create, detail, messages, run
from tests.support.referrals import handed_over
from tests.support.shoppers import Shopper, shopper

pytestmark = pytest.mark.usefixtures("store_morning")
TEXT = "周末会员日, 全场九折"
SMS = {"kind": "SEND_SMS", "text": TEXT}
TIMELINE = """query($id: ID!) { node(id: $id) { ... on Member {
  automationSends { nodes { automationId action outcome messageKey } } } } }"""


@pytest.fixture
def texts(runtime: Runtime) -> FakeSmsSender:
    assert isinstance(runtime.sms, FakeSmsSender)
    runtime.sms.outbox.clear()
    return runtime.sms


async def deliver(runtime: Runtime) -> int:
    job = find_job("deliver_outbox")
    assert job is not None
    return await run_job(runtime, job)


def texts_to(sms: FakeSmsSender, phone_e164: str) -> list[str]:
    return [s.text for s in sms.outbox if s.phone_e164 == phone_e164]


async def _buyer(api: Api, name: str, phone: str, *purposes: str) -> Shopper:
    who = await shopper(api, name, phone=phone)
    for purpose in purposes:
        await consent(who, purpose)
    return who


async def test_a_text_goes_through_the_outbox_to_the_members_phone_once(
    client: httpx.AsyncClient,
    api: Api,
    admin: Api,
    clerk_a: Api,
    runtime: Runtime,
    stores: dict[str, Any],
    mango: Variant,
    texts: FakeSmsSender,
) -> None:
    made = await create(admin, action=SMS)
    assert made["action"]["kind"] == "SEND_SMS" and made["action"]["channel"] == "SMS"
    who = await _buyer(api, "sms-1", "13800138001", "MARKETING_SMS")
    await handed_over(client, runtime, clerk_a, who, stores, mango)
    for _ in range(2):  # run twice: one send, one message, one text
        await run(runtime)
        await deliver(runtime)
    assert texts_to(texts, "+8613800138001") == [TEXT]
    [send] = (await detail(admin, made))["sends"]["nodes"]
    assert (send["action"], send["outcome"]) == ("SEND_SMS", "DONE")
    [message] = await messages(who)
    assert message.dedupe_key == send["messageKey"] and message.status == "SENT"
    assert message.data == {"text": TEXT, "channel": "SMS"}  # no number in the outbox
    cs = await relogin(api, "admin")
    [seen] = (await cs.data(TIMELINE, {"id": who.id}))["node"]["automationSends"]["nodes"]
    assert seen == {
        "automationId": made["id"],
        "action": "SEND_SMS",
        "outcome": "DONE",
        "messageKey": send["messageKey"],
    }


async def test_without_sms_consent_nothing_is_sent(
    client: httpx.AsyncClient,
    api: Api,
    admin: Api,
    clerk_a: Api,
    runtime: Runtime,
    stores: dict[str, Any],
    mango: Variant,
    texts: FakeSmsSender,
) -> None:
    made = await create(admin, action=SMS)
    silent = await _buyer(api, "sms-2", "13800138002")
    wechat_only = await _buyer(api, "sms-3", "13800138003", "MARKETING_WECHAT")
    for who in (silent, wechat_only):
        await handed_over(client, runtime, clerk_a, who, stores, mango)
    dry = (await admin.data(DRY, {"id": made["id"]}))["dryRunAutomation"]
    assert (dry["candidates"], dry["blockedConsent"], dry["wouldHit"]) == (2, 2, 0)
    await run(runtime)
    await deliver(runtime)
    found = await detail(admin, made)
    assert [s["outcome"] for s in found["sends"]["nodes"]] == ["BLOCKED_CONSENT"] * 2
    assert await messages() == []
    assert texts.outbox == []


async def test_a_text_counts_in_the_cap_with_wechat_messages(
    client: httpx.AsyncClient,
    api: Api,
    admin: Api,
    clerk_a: Api,
    runtime: Runtime,
    stores: dict[str, Any],
    mango: Variant,
    texts: FakeSmsSender,
) -> None:
    cap = {"messages": 1, "days": 7}
    by_text = await create(admin, name="text", action=SMS, frequencyCap=cap)
    by_wechat = await create(admin, name="wechat", frequencyCap=cap)
    who = await _buyer(api, "sms-4", "13800138004", "MARKETING_SMS", "MARKETING_WECHAT")
    await handed_over(client, runtime, clerk_a, who, stores, mango)
    await run(runtime)
    await deliver(runtime)
    outcomes = [
        (await detail(admin, a))["sends"]["nodes"][0]["outcome"] for a in (by_text, by_wechat)
    ]
    assert sorted(outcomes) == ["BLOCKED_CAP", "DONE"]
    assert len(await messages(who)) == 1
    sent_by_text = outcomes[0] == "DONE"
    assert len(texts_to(texts, "+8613800138004")) == (1 if sent_by_text else 0)


async def test_quiet_hours_put_a_text_off_to_their_end(
    client: httpx.AsyncClient,
    api: Api,
    admin: Api,
    clerk_a: Api,
    runtime: Runtime,
    stores: dict[str, Any],
    mango: Variant,
    texts: FakeSmsSender,
    clock: MovableClock,
) -> None:
    await create(admin, action=SMS)
    who = await _buyer(api, "sms-5", "13800138005", "MARKETING_SMS")
    await handed_over(client, runtime, clerk_a, who, stores, mango)
    today = clock.today()
    clock.put(today, hour=22)
    await run(runtime)
    await deliver(runtime)
    assert texts.outbox == []
    clock.put(today + timedelta(days=1), hour=9)
    await run(runtime)
    await deliver(runtime)
    assert texts_to(texts, "+8613800138005") == [TEXT]


async def test_a_member_without_a_phone_gets_no_text_and_the_outbox_says_why(
    client: httpx.AsyncClient,
    api: Api,
    admin: Api,
    clerk_a: Api,
    runtime: Runtime,
    stores: dict[str, Any],
    mango: Variant,
    texts: FakeSmsSender,
) -> None:
    await create(admin, action=SMS)
    who = await shopper(api, "sms-6")
    await consent(who, "MARKETING_SMS")
    await handed_over(client, runtime, clerk_a, who, stores, mango)
    await run(runtime)
    await deliver(runtime)
    [message] = await messages(who)
    assert (message.status, message.last_error) == ("FAILED", "the member has no phone number")
    assert texts.outbox == []
