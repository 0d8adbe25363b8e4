"""The outbox on a real database: enqueued with the caller's transaction, delivered at least
once, each message by one run at a time (SKIP LOCKED and a lease), retried with backoff."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import datetime, timedelta
from types import TracebackType
from uuid import UUID

import pytest

from domain.identity.model import Principal, PrincipalKind, StaffRole
from domain.ids import new_id
from domain.members.login import login_with_wechat
from domain.members.merge import merge_members
from domain.members.model import Channel, Member
from domain.outbox import (
    CLAIM_LEASE,
    Notification,
    NotifierError,
    OutboxDeps,
    OutboxMessage,
    OutboxStatus,
    deliver_due,
    enqueue,
)
from domain.pagination import PageRequest
from infra.db.uow import TortoiseUnitOfWork
from infra.jobs import JOBS, run_job
from infra.notifier import FakeNotifier
from infra.runtime import Runtime
from infra.settings import DEMO_WECHAT_APP
from tests.support import MovableClock

LINGER_SECONDS = 0.05
MEMBER = new_id()
ORDER = new_id()
# What the ORDER_READY_FOR_PICKUP and ORDER_PAID templates read.
DATA = {
    "order_number": "SH-A-0001",
    "code": "123456",
    "store": "Store SH-A",
    "deadline": "2026-01-03 18:00",
    "total": "1290",
}


def note(
    key: str,
    member_id: UUID | None = None,
    order_id: UUID | None = None,
    kind: str = "ORDER_READY_FOR_PICKUP",
) -> Notification:
    return Notification(
        kind=kind,
        member_id=member_id,
        order_id=order_id,
        data=DATA,
        dedupe_key=key,
    )


@pytest.fixture
async def notifier(runtime: Runtime) -> AsyncIterator[FakeNotifier]:
    assert isinstance(runtime.notifier, FakeNotifier)
    runtime.notifier.clear()
    yield runtime.notifier
    runtime.notifier.clear()


@pytest.fixture
def deps(runtime: Runtime, notifier: FakeNotifier) -> OutboxDeps:
    return runtime.outbox_deps


async def add(deps: OutboxDeps, *notifications: Notification) -> int:
    async with deps.uow() as uow:
        return await enqueue(uow, deps.clock, notifications)


async def message(runtime: Runtime, key: str) -> OutboxMessage:
    found = [
        m
        for m in (await runtime.repos.outbox.for_member(MEMBER, PageRequest(first=100))).items
        if m.dedupe_key == key
    ]
    assert len(found) == 1, found
    return found[0]


async def stored(runtime: Runtime) -> list[OutboxMessage]:
    return list((await runtime.repos.outbox.for_member(MEMBER, PageRequest(first=100))).items)


class LingeringUnitOfWork(TortoiseUnitOfWork):
    """Holds its locks a moment before committing, so concurrent runs really overlap."""

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await asyncio.sleep(LINGER_SECONDS)
        await super().__aexit__(exc_type, exc, tb)


class SlowNotifier(FakeNotifier):
    async def send(self, message: OutboxMessage, recipient_openid: str | None) -> None:
        await asyncio.sleep(0.001)
        await super().send(message, recipient_openid)


class RefusingNotifier(FakeNotifier):
    """The member refused the subscription: retrying cannot help."""

    async def send(self, message: OutboxMessage, recipient_openid: str | None) -> None:
        raise NotifierError("WeChat answered errcode 43101: user refuse to accept", permanent=True)


class CrashingNotifier(FakeNotifier):
    """Crashes (a bug, not a NotifierError) on one dedupe key, sends the others."""

    def __init__(self, crash_on: str):
        super().__init__()
        self.crash_on = crash_on

    async def send(self, message: OutboxMessage, recipient_openid: str | None) -> None:
        if message.dedupe_key == self.crash_on:
            raise RuntimeError("boom")
        await super().send(message, recipient_openid)


class SlowPastTheLease(FakeNotifier):
    """Each send takes longer than the claim's lease."""

    def __init__(self, clock: MovableClock):
        super().__init__()
        self.clock = clock

    async def send(self, message: OutboxMessage, recipient_openid: str | None) -> None:
        await super().send(message, recipient_openid)
        self.clock.advance(CLAIM_LEASE + timedelta(seconds=1))


# -- enqueue -----------------------------------------------------------------------------


async def test_enqueue_commits_with_the_unit_of_work(runtime: Runtime, deps: OutboxDeps) -> None:
    assert await add(deps, note("order:1:ready", MEMBER, ORDER)) == 1
    [m] = await runtime.repos.outbox.for_orders([ORDER])
    assert (m.kind, m.member_id, m.dedupe_key) == (
        "ORDER_READY_FOR_PICKUP",
        MEMBER,
        "order:1:ready",
    )
    assert m.data == DATA
    assert (m.status, m.attempts, m.last_error, m.sent_at) == (OutboxStatus.PENDING, 0, None, None)
    assert m.next_attempt_at == m.created_at


async def test_enqueue_rolls_back_with_the_unit_of_work(runtime: Runtime, deps: OutboxDeps) -> None:
    with pytest.raises(RuntimeError):
        async with deps.uow() as uow:
            assert await enqueue(uow, deps.clock, [note("order:1:ready", MEMBER, ORDER)]) == 1
            raise RuntimeError("the state change failed")
    assert await runtime.repos.outbox.for_orders([ORDER]) == []


async def test_a_dedupe_key_is_stored_once(runtime: Runtime, deps: OutboxDeps) -> None:
    assert await add(deps, note("order:1:ready", MEMBER)) == 1
    assert await add(deps, note("order:1:ready", MEMBER)) == 0
    assert await add(deps, note("order:1:paid", MEMBER), note("order:1:paid", MEMBER)) == 1
    assert sorted(m.dedupe_key for m in await stored(runtime)) == ["order:1:paid", "order:1:ready"]


async def test_a_duplicate_does_not_abort_the_callers_transaction(
    runtime: Runtime, deps: OutboxDeps
) -> None:
    await add(deps, note("order:1:ready", MEMBER))
    async with deps.uow() as uow:
        assert await enqueue(uow, deps.clock, [note("order:1:ready", MEMBER)]) == 0
        # On PostgreSQL a failed INSERT would make every later statement fail.
        assert await enqueue(uow, deps.clock, [note("order:1:reminder", MEMBER)]) == 1
    assert len(await stored(runtime)) == 2


async def test_concurrent_transactions_enqueue_one_message(
    runtime: Runtime, deps: OutboxDeps
) -> None:
    async def racer() -> int:
        async with deps.uow() as uow:
            new = await enqueue(uow, deps.clock, [note("order:1:ready", MEMBER)])
            await asyncio.sleep(LINGER_SECONDS)  # still uncommitted while the other inserts
            return new

    assert sorted(await asyncio.gather(racer(), racer())) == [0, 1]
    assert len(await stored(runtime)) == 1


def test_a_notification_refuses_what_the_table_cannot_hold() -> None:
    with pytest.raises(ValueError):
        note("x" * 151)
    with pytest.raises(ValueError):
        note("order:1:ready", kind="")
    with pytest.raises(ValueError):
        Notification("ORDER_PAID", None, None, {"total": 100}, "k")  # type: ignore[dict-item]


# -- delivery ----------------------------------------------------------------------------


async def test_deliver_due_sends_and_marks_sent(
    runtime: Runtime, deps: OutboxDeps, notifier: FakeNotifier, clock: MovableClock
) -> None:
    await add(deps, note("order:1:ready", MEMBER, ORDER), note("order:1:paid", MEMBER, ORDER))
    before = clock.now()
    assert await deliver_due(deps) == 2
    assert sorted(sent.dedupe_key for sent in notifier.sent) == ["order:1:paid", "order:1:ready"]
    assert notifier.sent[0].body["template_id"] == "tmpl-order_ready_for_pickup"
    assert notifier.sent[0].body["page"] == f"pages/order/detail?id={ORDER}"
    for m in await runtime.repos.outbox.for_orders([ORDER]):
        assert (m.status, m.attempts, m.last_error) == (OutboxStatus.SENT, 1, None)
        assert m.sent_at is not None and before <= m.sent_at <= clock.now()
    assert await deliver_due(deps) == 0
    assert len(notifier.sent) == 2


async def test_the_recipient_is_the_members_wechat_openid(
    runtime: Runtime, deps: OutboxDeps, notifier: FakeNotifier
) -> None:
    member, _, _ = await login_with_wechat(runtime.members, DEMO_WECHAT_APP, "test:oOpenid123")
    await add(deps, note("order:1:ready", member.id), note("order:2:ready", new_id()))
    assert await deliver_due(deps) == 2
    touser = {sent.dedupe_key: sent.body["touser"] for sent in notifier.sent}
    assert touser == {"order:1:ready": "oOpenid123", "order:2:ready": None}  # no such member


async def test_a_member_merged_twice_is_reached_through_the_survivor(
    runtime: Runtime, deps: OutboxDeps, notifier: FakeNotifier
) -> None:
    """Issue 13: recipients followed one merge hop (resolve_member follows sixteen): a message
    to a member merged into one that was merged again went to nobody."""
    first = await new_member(runtime, Channel.POS)
    middle = await new_member(runtime, Channel.POS)
    survivor, _, _ = await login_with_wechat(runtime.members, DEMO_WECHAT_APP, "test:oSurvivor1")
    await merge_members(runtime.members, CS_AGENT, first.id, middle.id, "same person")
    await merge_members(runtime.members, CS_AGENT, middle.id, survivor.id, "same person")
    await add(deps, note("order:9:ready", first.id))
    assert await deliver_due(deps) == 1
    assert [sent.body["touser"] for sent in notifier.sent] == ["oSurvivor1"]


async def test_the_job_delivers(runtime: Runtime, deps: OutboxDeps, notifier: FakeNotifier) -> None:
    job = next(job for job in JOBS if job.name == "deliver_outbox")
    assert job.every_seconds == 10
    await add(deps, note("order:1:ready", MEMBER))
    await run_job(runtime, job)
    assert [sent.dedupe_key for sent in notifier.sent] == ["order:1:ready"]


def _delay(m: OutboxMessage, since: datetime, until: datetime) -> tuple[timedelta, timedelta]:
    return m.next_attempt_at - until, m.next_attempt_at - since


async def test_failures_retry_with_backoff_then_give_up(
    runtime: Runtime, deps: OutboxDeps, notifier: FakeNotifier, clock: MovableClock
) -> None:
    deps = replace(deps, max_attempts=3)
    await add(deps, note("order:1:ready", MEMBER))
    notifier.fail_next(10)
    for attempt, backoff in ((1, timedelta(seconds=30)), (2, timedelta(seconds=60))):
        since = clock.now()
        assert await deliver_due(deps) == 0
        m = await message(runtime, "order:1:ready")
        assert (m.status, m.attempts) == (OutboxStatus.PENDING, attempt)
        assert m.last_error == "fake notifier told to fail"
        earliest, latest = _delay(m, since, clock.now())
        assert earliest <= backoff <= latest
        assert await deliver_due(deps) == 0  # not due yet: not even tried
        assert (await message(runtime, "order:1:ready")).attempts == attempt
        clock.advance(backoff + timedelta(seconds=1))
    assert await deliver_due(deps) == 0
    m = await message(runtime, "order:1:ready")
    assert (m.status, m.attempts, m.last_error) == (
        OutboxStatus.FAILED,
        3,
        "fake notifier told to fail",
    )
    clock.advance(timedelta(days=1))
    assert await deliver_due(deps) == 0
    assert notifier.sent == []


async def test_a_retry_can_succeed(
    runtime: Runtime, deps: OutboxDeps, notifier: FakeNotifier, clock: MovableClock
) -> None:
    await add(deps, note("order:1:ready", MEMBER))
    notifier.fail_next(1)
    assert await deliver_due(deps) == 0
    clock.advance(timedelta(seconds=31))
    assert await deliver_due(deps) == 1
    m = await message(runtime, "order:1:ready")
    assert (m.status, m.attempts, len(notifier.sent)) == (OutboxStatus.SENT, 2, 1)


def test_backoff_doubles_up_to_an_hour(deps: OutboxDeps) -> None:
    delays = [deps.retry_delay(n) for n in (1, 2, 3, 8, 100)]
    assert delays == [
        timedelta(seconds=30),
        timedelta(seconds=60),
        timedelta(seconds=120),
        timedelta(hours=1),
        timedelta(hours=1),
    ]


async def test_a_permanent_failure_gives_up_at_once(runtime: Runtime, deps: OutboxDeps) -> None:
    await add(deps, note("order:1:ready", MEMBER))
    assert await deliver_due(replace(deps, notifier=RefusingNotifier())) == 0
    m = await message(runtime, "order:1:ready")
    assert (m.status, m.attempts) == (OutboxStatus.FAILED, 1)
    assert m.last_error is not None and "43101" in m.last_error


async def test_a_crashing_send_is_a_failure_and_the_others_go_out(
    runtime: Runtime, deps: OutboxDeps
) -> None:
    crashing = CrashingNotifier(crash_on="order:1:ready")
    await add(deps, note("order:1:ready", MEMBER), note("order:2:ready", MEMBER))
    assert await deliver_due(replace(deps, notifier=crashing)) == 1
    assert [sent.dedupe_key for sent in crashing.sent] == ["order:2:ready"]
    m = await message(runtime, "order:1:ready")
    assert (m.status, m.last_error) == (OutboxStatus.PENDING, "RuntimeError")


async def test_one_run_drains_a_backlog_batch_after_batch(
    runtime: Runtime, deps: OutboxDeps
) -> None:
    await add(deps, *(note(f"order:{i}:ready", MEMBER) for i in range(7)))
    assert await deliver_due(deps, batch=3) == 7  # three claims: 3 + 3 + 1
    assert {m.status for m in await stored(runtime)} == {OutboxStatus.SENT}
    await add(deps, *(note(f"order:{i}:paid", MEMBER) for i in range(7)))
    assert await deliver_due(deps, batch=3, max_batches=2) == 6  # bounded per run


# -- concurrency and the lease -----------------------------------------------------------


async def test_concurrent_runs_send_each_message_once(runtime: Runtime, deps: OutboxDeps) -> None:
    slow = SlowNotifier()
    deps = replace(deps, uow=LingeringUnitOfWork, notifier=slow)
    keys = [f"order:{i}:ready" for i in range(12)]
    await add(deps, *(note(k, MEMBER) for k in keys))

    async def worker() -> int:
        total = 0
        while sent := await deliver_due(deps, batch=3):
            total += sent
        return total

    results = await asyncio.gather(worker(), worker())
    assert sum(results) == 12
    assert Counter(sent.dedupe_key for sent in slow.sent) == dict.fromkeys(keys, 1)
    assert {m.status for m in await stored(runtime)} == {OutboxStatus.SENT}


async def test_an_expired_lease_is_sent_again(
    runtime: Runtime, deps: OutboxDeps, notifier: FakeNotifier, clock: MovableClock
) -> None:
    await add(deps, note("order:1:ready", MEMBER))
    # A run claims the message and dies before recording anything (sent or not).
    async with deps.uow() as uow:
        now = clock.now()
        [claimed] = await uow.outbox.claim_due(now, 10, now + CLAIM_LEASE)
    assert (claimed.status, claimed.attempts) == (OutboxStatus.SENDING, 1)
    assert await deliver_due(deps) == 0  # still leased
    clock.advance(CLAIM_LEASE + timedelta(seconds=1))
    assert await deliver_due(deps) == 1
    m = await message(runtime, "order:1:ready")
    assert (m.status, m.attempts) == (OutboxStatus.SENT, 2)
    assert [sent.dedupe_key for sent in notifier.sent] == ["order:1:ready"]


async def test_a_message_out_of_attempts_is_not_sent_again_after_its_lease(
    runtime: Runtime, deps: OutboxDeps, notifier: FakeNotifier, clock: MovableClock
) -> None:
    deps = replace(deps, max_attempts=1)
    await add(deps, note("order:1:ready", MEMBER))
    async with deps.uow() as uow:
        now = clock.now()
        await uow.outbox.claim_due(now, 10, now + CLAIM_LEASE)
    clock.advance(CLAIM_LEASE + timedelta(seconds=1))
    assert await deliver_due(deps) == 0
    m = await message(runtime, "order:1:ready")
    assert (m.status, m.attempts) == (OutboxStatus.FAILED, 2)
    assert m.last_error == "no outcome recorded for the last attempt"
    assert notifier.sent == []


async def test_a_run_stops_sending_when_its_lease_is_over(
    runtime: Runtime, deps: OutboxDeps, clock: MovableClock
) -> None:
    slow = SlowPastTheLease(clock)
    await add(deps, note("order:1:ready", MEMBER), note("order:2:ready", MEMBER))
    assert await deliver_due(replace(deps, notifier=slow)) == 1
    # The other message is claimable again at once, by this run's successor or another.
    assert await deliver_due(replace(deps, notifier=slow)) == 1
    assert sorted(sent.dedupe_key for sent in slow.sent) == ["order:1:ready", "order:2:ready"]


async def test_a_late_failure_does_not_undo_a_send(
    runtime: Runtime, deps: OutboxDeps, clock: MovableClock
) -> None:
    await add(deps, note("order:1:ready", MEMBER))
    async with deps.uow() as uow:
        now = clock.now()
        [first] = await uow.outbox.claim_due(now, 10, now + CLAIM_LEASE)
    clock.advance(CLAIM_LEASE + timedelta(seconds=1))
    assert await deliver_due(deps) == 1  # the second claim sends it
    async with deps.uow() as uow:  # the first run finally reports its failure
        await uow.outbox.mark_failed(first.id, "timed out", clock.now())
    assert (await message(runtime, "order:1:ready")).status is OutboxStatus.SENT


# -- listing -----------------------------------------------------------------------------


async def test_lists_by_order_and_by_member(runtime: Runtime, deps: OutboxDeps) -> None:
    other_order, other_member = new_id(), new_id()
    await add(deps, note("order:1:paid", MEMBER, ORDER, kind="ORDER_PAID"))
    await add(deps, note("order:1:ready", MEMBER, ORDER))
    await add(deps, note("order:2:paid", MEMBER, other_order, kind="ORDER_PAID"))
    await add(deps, note("order:3:paid", other_member, new_id(), kind="ORDER_PAID"))

    by_order = await runtime.repos.outbox.for_orders([ORDER])
    assert [m.dedupe_key for m in by_order] == ["order:1:paid", "order:1:ready"]

    first = await runtime.repos.outbox.for_member(MEMBER, PageRequest(first=2))
    assert [m.dedupe_key for m in first.items] == ["order:2:paid", "order:1:ready"]
    assert first.has_next and not first.has_previous
    rest = await runtime.repos.outbox.for_member(MEMBER, PageRequest(first=2, after=first.keys[-1]))
    assert [m.dedupe_key for m in rest.items] == ["order:1:paid"]
    assert not rest.has_next and rest.has_previous


CS_AGENT = Principal(kind=PrincipalKind.STAFF, id=new_id(), role=StaffRole.CS_AGENT)


async def new_member(runtime: Runtime, channel: Channel) -> Member:
    from domain.members.services import new_member as create

    async with runtime.unit_of_work() as uow:
        return await create(runtime.members, uow, channel)
