"""The member code's rules on the fakes: what a code carries, when it is refused, and that a
use is once (tests/api/test_member_codes.py drives the same over GraphQL on both databases)."""

from __future__ import annotations

import base64
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest

from domain.aftersales.deps import MemberCodeDeps
from domain.aftersales.member_codes import (
    decode_member_code,
    issue_member_code,
    lookup_by_member_code,
    read_member_code,
    use_member_code_in_uow,
)
from domain.clock import FrozenClock
from domain.errors import AfterSaleError, AfterSaleErrorCode
from domain.identity.model import DeviceKind, Principal, PrincipalKind
from domain.ids import new_id
from domain.members.model import Channel, Member, MemberStatus
from infra.runtime import Runtime
from infra.security.signing import HmacSigner
from tests.fakes.database import FakeDatabase
from tests.fakes.deps import member_code_deps

START = datetime(2026, 12, 6, 4, 0, 30, 500_000, tzinfo=UTC)
TILL = Principal(kind=PrincipalKind.DEVICE, id=new_id(), device_kind=DeviceKind.POS)


def member(status: MemberStatus = MemberStatus.ACTIVE, merged_into: UUID | None = None) -> Member:
    return Member(new_id(), status, "Li Lei", Channel.MINI_PROGRAM, START, START, "k", merged_into)


@pytest.fixture
def frozen() -> FrozenClock:
    return FrozenClock(START)


@pytest.fixture
def database() -> FakeDatabase:
    return FakeDatabase()


@pytest.fixture
def deps(database: FakeDatabase, frozen: FrozenClock) -> MemberCodeDeps:
    return member_code_deps(database, frozen)


def refused(error: pytest.ExceptionInfo[AfterSaleError]) -> AfterSaleErrorCode:
    assert error.value.field == ["memberCode"]
    return error.value.code  # type: ignore[return-value]


def test_a_code_carries_its_member_and_a_minute(deps: MemberCodeDeps, frozen: FrozenClock) -> None:
    owner = new_id()
    code = issue_member_code(deps, owner)
    assert len(code.code) == 42 and code.code == code.code.upper()
    assert code.expires_at == (START + timedelta(seconds=60)).replace(microsecond=0)
    assert read_member_code(deps, code.code) == code
    assert read_member_code(deps, code.code.lower()).member_id == owner
    frozen.advance(timedelta(seconds=59))
    assert read_member_code(deps, code.code).member_id == owner
    frozen.advance(timedelta(seconds=1))  # past expiresAt
    with pytest.raises(AfterSaleError) as error:
        read_member_code(deps, code.code)
    assert refused(error) is AfterSaleErrorCode.MEMBER_CODE_EXPIRED
    # Decoding alone (a retried sale) still knows whose it was.
    assert decode_member_code(deps, code.code).member_id == owner


def test_only_our_signature_is_accepted(deps: MemberCodeDeps) -> None:
    code = issue_member_code(deps, new_id()).code
    raw = base64.b32decode(code + "=" * 6)
    other_member = base64.b32encode(new_id().bytes + raw[16:]).decode().rstrip("=")
    longer = base64.b32encode(raw[:16] + (2**32 - 1).to_bytes(4, "big") + raw[20:])
    other_key = issue_member_code(replace(deps, signer=HmacSigner(b"another key")), new_id())
    for bad in (other_member, longer.decode().rstrip("="), other_key.code, code[:-2], "", "1!"):
        with pytest.raises(AfterSaleError) as error:
            read_member_code(deps, bad)
        assert refused(error) is AfterSaleErrorCode.INVALID_MEMBER_CODE, bad


async def test_a_code_is_used_once_and_a_rollback_gives_it_back(
    deps: MemberCodeDeps, database: FakeDatabase
) -> None:
    owner = member()
    await database.members.add(owner)
    code = read_member_code(deps, issue_member_code(deps, owner.id).code)
    with pytest.raises(RuntimeError):  # the sale failed after using the code
        async with database() as uow:
            await use_member_code_in_uow(deps, uow, TILL, code)
            raise RuntimeError("stock ran out")
    async with database() as uow:
        assert (await use_member_code_in_uow(deps, uow, TILL, code)).id == owner.id
    async with database() as uow:
        with pytest.raises(AfterSaleError) as error:
            await use_member_code_in_uow(deps, uow, TILL, code)
    assert refused(error) is AfterSaleErrorCode.MEMBER_CODE_USED
    with pytest.raises(AfterSaleError) as error:
        await lookup_by_member_code(deps, TILL, code.code)
    assert refused(error) is AfterSaleErrorCode.MEMBER_CODE_USED


async def test_merges_are_followed_and_other_members_refused(
    deps: MemberCodeDeps, database: FakeDatabase
) -> None:
    survivor = member()
    absorbed = member(MemberStatus.MERGED, survivor.id)
    erased = member(MemberStatus.ERASED)
    for m in (survivor, absorbed, erased):
        await database.members.add(m)
    code = issue_member_code(deps, absorbed.id).code
    assert (await lookup_by_member_code(deps, TILL, code)).id == survivor.id
    read = read_member_code(deps, code)
    async with database() as uow:
        with pytest.raises(AfterSaleError) as error:  # the till named someone else
            await use_member_code_in_uow(deps, uow, TILL, read, erased.id)
        assert refused(error) is AfterSaleErrorCode.INVALID_MEMBER_CODE
        # Naming the absorbed member (looked up before the merge) is the same person.
        assert (await use_member_code_in_uow(deps, uow, TILL, read, absorbed.id)).id == survivor.id
    with pytest.raises(AfterSaleError) as error:
        await lookup_by_member_code(deps, TILL, issue_member_code(deps, erased.id).code)
    assert refused(error) is AfterSaleErrorCode.INVALID_MEMBER_CODE


async def test_members_do_not_present_codes(deps: MemberCodeDeps, database: FakeDatabase) -> None:
    owner = member()
    await database.members.add(owner)
    code = issue_member_code(deps, owner.id).code
    as_member = Principal(kind=PrincipalKind.MEMBER, id=owner.id)
    with pytest.raises(AfterSaleError) as error:
        await lookup_by_member_code(deps, as_member, code)
    assert refused(error) is AfterSaleErrorCode.FORBIDDEN


def test_the_code_key_is_its_own(runtime: Runtime) -> None:
    """Derived from JWT_SECRET (production refuses the development one) for this purpose
    only: a pickup QR signature is not a member code's."""
    member_codes, pickup_qr = runtime.member_codes.signer, runtime.ordering.signer
    assert member_codes.sign("same message") != pickup_qr.sign("same message")
