"""Merges and first logins racing each other on a real database.

On PostgreSQL the racers run in separate transactions on separate connections: the merge
locks both members (FOR UPDATE, in id order) and the unique keys on identities and merges
decide the rest. A MembersMerged handler that lingers holds the locks a while, so the
racers really overlap. SQLite serialises writers; the same invariants must hold there.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable
from typing import TypeVar
from uuid import UUID

import pytest

from domain.errors import MemberError, MemberErrorCode
from domain.events import MembersMerged
from domain.identity.model import Principal, PrincipalKind, StaffRole
from domain.ids import new_id
from domain.members.login import login_with_wechat
from domain.members.merge import merge_members
from domain.members.model import MemberMerge, MemberStatus
from domain.uow import UnitOfWork
from infra.db.models.members import MemberIdentityRow, MemberMergeRow, MemberRow
from infra.runtime import Runtime

T = TypeVar("T")

CS = Principal(kind=PrincipalKind.STAFF, id=new_id(), role=StaffRole.CS_AGENT)
LINGER_SECONDS = 0.05


async def outcome(action: Awaitable[T]) -> T | MemberError:
    try:
        return await action
    except MemberError as error:
        return error


def successes(results: list[MemberMerge | MemberError]) -> list[MemberMerge]:
    return [r for r in results if isinstance(r, MemberMerge)]


def failures(results: list[MemberMerge | MemberError]) -> list[MemberError]:
    return [r for r in results if isinstance(r, MemberError)]


@pytest.fixture
async def merge_events(runtime: Runtime) -> AsyncIterator[list[MembersMerged]]:
    """Every MembersMerged dispatched; the handler holds the merge's locks a little while."""
    seen: list[MembersMerged] = []

    async def linger(uow: UnitOfWork, event: MembersMerged) -> None:
        seen.append(event)
        await asyncio.sleep(LINGER_SECONDS)

    runtime.events.register(MembersMerged, linger)
    try:
        yield seen
    finally:
        runtime.events.unregister(MembersMerged, linger)


async def make_members(runtime: Runtime, count: int) -> list[UUID]:
    """Members with two identities each (an openid and a unionid)."""
    ids = []
    for i in range(count):
        member, _, created = await login_with_wechat(
            runtime.members, "wx-demo", f"test:open-{i}:union-{i}"
        )
        assert created
        ids.append(member.id)
    return ids


def merge(runtime: Runtime, source: UUID, target: UUID) -> Awaitable[MemberMerge | MemberError]:
    return outcome(merge_members(runtime.members, CS, source, target, "duplicate"))


async def assert_consistent(runtime: Runtime) -> dict[UUID, MemberRow]:
    """The merge invariants, read straight from the tables."""
    members = {row.id: row for row in await MemberRow.all()}
    identities = await MemberIdentityRow.all()
    merges = await MemberMergeRow.all()
    active = {i for i, row in members.items() if row.status == MemberStatus.ACTIVE}
    absorbed = {i for i, row in members.items() if row.status == MemberStatus.MERGED}
    assert active, "somebody must survive"

    for identity in identities:
        owner = members[identity.member_id]
        assert owner.id in active, f"identity {identity.id} sits on a {owner.status} member"
        assert owner.data_key is not None
        runtime.vault.decrypt(owner.data_key, identity.ciphertext)  # sealed with the owner's key
    for member_id in absorbed:
        row = members[member_id]
        assert row.data_key is None
        hops, current = 0, row
        while current.status == MemberStatus.MERGED:
            assert current.merged_into_id is not None
            current = members[current.merged_into_id]
            hops += 1
            assert hops <= len(members), "merged_into chains must not loop"
        assert current.id in active
    for member_id in active:
        assert members[member_id].merged_into_id is None
    # one merge row per absorbed member, each pointing at where it went
    assert sorted(m.source_member_id for m in merges) == sorted(absorbed)
    return members


async def test_opposite_merges_at_once_one_wins(
    runtime: Runtime, merge_events: list[MembersMerged]
) -> None:
    a, b = await make_members(runtime, 2)

    results = list(await asyncio.gather(merge(runtime, a, b), merge(runtime, b, a)))

    [won] = successes(results)
    [lost] = failures(results)
    assert lost.code in (MemberErrorCode.MEMBER_MERGED, MemberErrorCode.MERGE_INTO_SELF), lost
    members = await assert_consistent(runtime)
    statuses = sorted(str(m.status) for m in members.values())
    assert statuses == ["ACTIVE", "MERGED"]
    survivor = won.target_member_id
    assert await MemberIdentityRow.filter(member_id=survivor).count() == 4
    assert await MemberMergeRow.all().count() == 1
    assert [e.merge_id for e in merge_events] == [won.id]


async def test_identical_merges_at_once_make_one_merge(
    runtime: Runtime, merge_events: list[MembersMerged]
) -> None:
    a, b = await make_members(runtime, 2)

    results = list(await asyncio.gather(*(merge(runtime, a, b) for _ in range(3))))

    done = successes(results)
    assert done, results
    assert len({m.id for m in done}) == 1  # a repeat returns the first merge
    assert all(e.code is MemberErrorCode.MEMBER_MERGED for e in failures(results)), results
    await assert_consistent(runtime)
    assert await MemberMergeRow.all().count() == 1
    assert len(merge_events) == 1
    row = await MemberRow.get(id=a)
    assert (row.status, row.merged_into_id) == (MemberStatus.MERGED, b)


async def test_two_members_merged_into_one_at_once_both_succeed(
    runtime: Runtime, merge_events: list[MembersMerged]
) -> None:
    a, b, c = await make_members(runtime, 3)

    results = list(await asyncio.gather(merge(runtime, a, c), merge(runtime, b, c)))

    assert failures(results) == []
    await assert_consistent(runtime)
    assert await MemberIdentityRow.filter(member_id=c).count() == 6
    assert await MemberMergeRow.filter(target_member_id=c).count() == 2
    assert len(merge_events) == 2


async def test_a_ring_of_merges_at_once_stays_consistent(
    runtime: Runtime, merge_events: list[MembersMerged]
) -> None:
    ids = await make_members(runtime, 10)

    results = list(
        await asyncio.gather(
            *(merge(runtime, ids[i], ids[(i + 1) % len(ids)]) for i in range(len(ids)))
        )
    )

    done = successes(results)
    # A full ring can never complete: somebody must stay ACTIVE.
    assert 1 <= len(done) < len(ids), results
    assert all(e.code is MemberErrorCode.MEMBER_MERGED for e in failures(results)), results
    members = await assert_consistent(runtime)
    absorbed = {i for i, m in members.items() if m.status == MemberStatus.MERGED}
    assert absorbed == {m.source_member_id for m in done}
    assert await MemberIdentityRow.all().count() == 2 * len(ids)
    assert sorted(e.merge_id for e in merge_events) == sorted(m.id for m in done)


async def test_first_wechat_logins_at_once_make_one_member(runtime: Runtime) -> None:
    people, racers = 4, 3

    async def login(person: int) -> tuple[UUID, bool]:
        member, _, created = await login_with_wechat(
            runtime.members, "wx-demo", f"test:open-{person}:union-{person}"
        )
        return member.id, created

    results = await asyncio.gather(
        *(login(person) for person in range(people) for _ in range(racers))
    )

    for person in range(people):
        mine = results[person * racers : (person + 1) * racers]
        assert len({member_id for member_id, _ in mine}) == 1, mine
        assert [created for _, created in mine].count(True) == 1, mine
    assert await MemberRow.all().count() == people
    assert await MemberIdentityRow.all().count() == 2 * people
    await assert_consistent(runtime)
