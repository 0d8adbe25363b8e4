"""Member rules without a database: merging, consent and identifiers, over the fakes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest

from domain.clock import FrozenClock
from domain.errors import AuthError, MemberError, MemberErrorCode
from domain.events import MembersMerged
from domain.identity.model import Principal, PrincipalKind, StaffRole, TokenPair
from domain.identity.services import authenticate
from domain.ids import new_id
from domain.members.deps import MemberDeps
from domain.members.identifiers import mask, normalise, normalise_phone
from domain.members.login import bind_wechat_phone, login_with_wechat
from domain.members.merge import merge_in_uow, merge_members
from domain.members.model import (
    Channel,
    ConsentPurpose,
    ConsentRecord,
    IdentityKind,
    Member,
    MemberStatus,
    can_contact,
    current_consents,
)
from domain.members.privacy import (
    ConsentChange,
    delete_account,
    unsubscribe_all,
    update_consents,
)
from domain.members.services import enrol_member, member_principal
from domain.uow import UnitOfWork
from tests.fakes.deps import database_of, member_deps

APP = "wx-demo"
CS = Principal(kind=PrincipalKind.STAFF, id=new_id(), role=StaffRole.CS_AGENT)
MARKETING = {ConsentPurpose.MARKETING_SMS, ConsentPurpose.MARKETING_WECHAT}


@pytest.fixture
def frozen() -> FrozenClock:
    return FrozenClock(datetime(2026, 3, 1, 9, 0, tzinfo=UTC))


@pytest.fixture
def deps(frozen: FrozenClock) -> MemberDeps:
    return member_deps(frozen)


async def wechat_member(
    deps: MemberDeps, openid: str, unionid: str | None = None, app: str = APP
) -> tuple[Member, TokenPair]:
    code = f"test:{openid}:{unionid}" if unionid else f"test:{openid}"
    member, pair, _ = await login_with_wechat(deps, app, code)
    return member, pair


async def stored(deps: MemberDeps, member_id: UUID) -> Member:
    member = await database_of(deps).members.get(member_id)
    assert member is not None
    return member


async def grant(deps: MemberDeps, member: Member, *purposes: ConsentPurpose) -> None:
    await update_consents(
        deps,
        member_principal(member),
        [ConsentChange(p, True) for p in purposes],
        "2026-01",
        Channel.MINI_PROGRAM,
    )


async def merge_error(deps: MemberDeps, source: UUID, target: UUID) -> MemberError:
    with pytest.raises(MemberError) as caught:
        await merge_members(deps, CS, source, target, "same person")
    return caught.value


# --------------------------------------------------------------------------- merging


async def test_merge_moves_identities_and_consents_reencrypted_under_the_target_key(
    deps: MemberDeps,
) -> None:
    source, _ = await wechat_member(deps, "open-src", "union-src")
    target, _ = await wechat_member(deps, "open-tgt")
    await grant(deps, source, ConsentPurpose.MARKETING_SMS)
    assert source.data_key != target.data_key

    await merge_members(deps, CS, source.id, target.id, "same person, two phones")

    db = database_of(deps)
    assert await db.members.identities_of([source.id]) == []
    moved = await db.members.identities_of([target.id])
    assert target.data_key is not None
    assert {deps.vault.decrypt(target.data_key, i.ciphertext) for i in moved} == {
        "open-src",
        "union-src",
        "open-tgt",
    }
    assert all(i.ciphertext.startswith(f"enc:{target.data_key}:") for i in moved)
    assert all(i.member_id == target.id for i in moved)
    assert await db.members.consents_of([source.id]) == []
    consents = await db.members.consents_of([target.id])
    assert [(c.purpose, c.granted) for c in consents] == [(ConsentPurpose.MARKETING_SMS, True)]
    assert can_contact(consents, ConsentPurpose.MARKETING_SMS)


async def test_merge_retires_the_source_and_revokes_only_its_sessions(deps: MemberDeps) -> None:
    source, source_tokens = await wechat_member(deps, "open-src")
    target, target_tokens = await wechat_member(deps, "open-tgt")
    await authenticate(deps.auth, source_tokens.access_token)

    await merge_members(deps, CS, source.id, target.id, "duplicate")

    gone = await stored(deps, source.id)
    assert gone.status is MemberStatus.MERGED
    assert gone.merged_into == target.id
    assert gone.data_key is None  # the absorbed key is destroyed
    with pytest.raises(AuthError) as caught:
        await authenticate(deps.auth, source_tokens.access_token)
    assert caught.value.code.value == "UNAUTHENTICATED"
    survivor = await authenticate(deps.auth, target_tokens.access_token)
    assert survivor.id == target.id
    kept = await stored(deps, target.id)
    assert kept.status is MemberStatus.ACTIVE and kept.data_key == target.data_key


async def test_merge_is_recorded_with_counts_and_dispatched_to_handlers(
    deps: MemberDeps,
) -> None:
    source, _ = await wechat_member(deps, "open-src", "union-src")
    await wechat_member(deps, "open-src", "union-src")  # a second login: a second session
    target, _ = await wechat_member(deps, "open-tgt")
    await grant(deps, source, ConsentPurpose.ANALYTICS, ConsentPurpose.MARKETING_WECHAT)
    seen: list[tuple[MembersMerged, bool]] = []

    async def handler(uow: UnitOfWork, event: MembersMerged) -> None:
        # Inside the merge's transaction: the merge row is already visible to the handler.
        merges = await uow.members.merges_of(event.source_member_id)
        seen.append((event, [m.id for m in merges] == [event.merge_id]))

    deps.events.register(MembersMerged, handler)
    merge = await merge_members(deps, CS, source.id, target.id, "  duplicate account  ")

    assert merge.source_member_id == source.id and merge.target_member_id == target.id
    assert merge.reason == "duplicate account"
    assert merge.actor == CS.label
    assert merge.moved == {"identities": 2, "consents": 2, "sessions_revoked": 2}
    assert seen == [(MembersMerged(source.id, target.id, merge.id), True)]
    recorded = await database_of(deps).members.merges_of(target.id)
    assert [m.id for m in recorded] == [merge.id]


async def test_merge_locks_both_members_in_id_order(deps: MemberDeps) -> None:
    first, _ = await wechat_member(deps, "open-1")
    second, _ = await wechat_member(deps, "open-2")
    assert first.id < second.id
    await merge_members(deps, CS, second.id, first.id, "duplicate")
    assert database_of(deps).members.locked == [[first.id, second.id]]


async def test_merge_in_uow_is_part_of_the_callers_transaction(deps: MemberDeps) -> None:
    source, _ = await wechat_member(deps, "open-src")
    target, _ = await wechat_member(deps, "open-tgt")

    with pytest.raises(RuntimeError):
        async with deps.auth.uow() as uow:
            await merge_in_uow(deps, uow, source.id, target.id, "login", "SYSTEM")
            raise RuntimeError("the caller failed after the merge")

    assert (await stored(deps, source.id)).status is MemberStatus.ACTIVE
    async with deps.auth.uow() as uow:
        merge = await merge_in_uow(deps, uow, source.id, target.id, "login", "SYSTEM")
    assert merge.actor == "SYSTEM"
    assert (await stored(deps, source.id)).status is MemberStatus.MERGED


async def test_merging_a_member_into_itself_is_refused(deps: MemberDeps) -> None:
    member, _ = await wechat_member(deps, "open-1")
    error = await merge_error(deps, member.id, member.id)
    assert error.code is MemberErrorCode.MERGE_INTO_SELF
    assert error.field == ["targetMemberId"]
    assert (await stored(deps, member.id)).status is MemberStatus.ACTIVE


async def test_repeating_a_merge_returns_the_first_merge(deps: MemberDeps) -> None:
    source, _ = await wechat_member(deps, "open-src")
    target, _ = await wechat_member(deps, "open-tgt")
    events: list[MembersMerged] = []

    async def record(uow: UnitOfWork, event: MembersMerged) -> None:
        events.append(event)

    deps.events.register(MembersMerged, record)
    first = await merge_members(deps, CS, source.id, target.id, "duplicate")
    again = await merge_members(deps, CS, source.id, target.id, "duplicate, again")

    assert again.id == first.id
    assert again.reason == "duplicate"
    assert len(events) == 1
    assert len(database_of(deps).tables.merges) == 1


async def test_a_source_merged_into_another_member_is_refused(deps: MemberDeps) -> None:
    source, _ = await wechat_member(deps, "open-src")
    first_target, _ = await wechat_member(deps, "open-t1")
    other, _ = await wechat_member(deps, "open-t2")
    await merge_members(deps, CS, source.id, first_target.id, "duplicate")

    error = await merge_error(deps, source.id, other.id)
    assert error.code is MemberErrorCode.MEMBER_MERGED
    assert error.field == ["sourceMemberId"]
    assert (await stored(deps, source.id)).merged_into == first_target.id


async def test_a_merged_target_is_refused(deps: MemberDeps) -> None:
    absorbed, _ = await wechat_member(deps, "open-1")
    survivor, _ = await wechat_member(deps, "open-2")
    third, _ = await wechat_member(deps, "open-3")
    await merge_members(deps, CS, absorbed.id, survivor.id, "duplicate")

    error = await merge_error(deps, third.id, absorbed.id)
    assert error.code is MemberErrorCode.MEMBER_MERGED
    assert error.field == ["targetMemberId"]
    # the reverse of a done merge: the target (the absorbed one) is merged
    reverse = await merge_error(deps, survivor.id, absorbed.id)
    assert reverse.code is MemberErrorCode.MEMBER_MERGED
    assert (await stored(deps, third.id)).status is MemberStatus.ACTIVE


async def test_erased_members_cannot_be_merged(deps: MemberDeps) -> None:
    erased, _ = await wechat_member(deps, "open-gone")
    active, _ = await wechat_member(deps, "open-here")
    await delete_account(deps, member_principal(erased), confirm=True)

    as_source = await merge_error(deps, erased.id, active.id)
    assert (as_source.code, as_source.field) == (MemberErrorCode.MEMBER_ERASED, ["sourceMemberId"])
    as_target = await merge_error(deps, active.id, erased.id)
    assert (as_target.code, as_target.field) == (MemberErrorCode.MEMBER_ERASED, ["targetMemberId"])
    assert (await stored(deps, active.id)).status is MemberStatus.ACTIVE


async def test_unknown_members_are_not_found(deps: MemberDeps) -> None:
    member, _ = await wechat_member(deps, "open-1")
    unknown = new_id()
    as_source = await merge_error(deps, unknown, member.id)
    assert (as_source.code, as_source.field) == (MemberErrorCode.NOT_FOUND, ["sourceMemberId"])
    as_target = await merge_error(deps, member.id, unknown)
    assert (as_target.code, as_target.field) == (MemberErrorCode.NOT_FOUND, ["targetMemberId"])


@pytest.mark.parametrize("reason", ["", "   ", "ab", "x" * 201])
async def test_a_merge_needs_a_reason(deps: MemberDeps, reason: str) -> None:
    source, _ = await wechat_member(deps, "open-src")
    target, _ = await wechat_member(deps, "open-tgt")
    with pytest.raises(MemberError) as caught:
        await merge_members(deps, CS, source.id, target.id, reason)
    assert (caught.value.code, caught.value.field) == (MemberErrorCode.INVALID_INPUT, ["reason"])
    assert (await stored(deps, source.id)).status is MemberStatus.ACTIVE


async def test_a_failing_handler_rolls_the_whole_merge_back(deps: MemberDeps) -> None:
    source, source_tokens = await wechat_member(deps, "open-src", "union-src")
    target, _ = await wechat_member(deps, "open-tgt")
    await grant(deps, source, ConsentPurpose.MARKETING_SMS)
    db = database_of(deps)
    identities_before = await db.members.identities_of([source.id])
    rollbacks = db.rollbacks

    async def points_move_fails(uow: UnitOfWork, event: MembersMerged) -> None:
        raise RuntimeError("the points context could not move its rows")

    deps.events.register(MembersMerged, points_move_fails)
    with pytest.raises(RuntimeError):
        await merge_members(deps, CS, source.id, target.id, "duplicate")

    assert db.rollbacks == rollbacks + 1
    assert await stored(deps, source.id) == source  # status, merged_into and data key
    assert await db.members.identities_of([source.id]) == identities_before
    assert [i.member_id for i in await db.members.identities_of([target.id])] == [target.id]
    assert len(await db.members.consents_of([source.id])) == 1
    assert await db.members.merges_of(source.id) == []
    assert (await authenticate(deps.auth, source_tokens.access_token)).id == source.id


async def test_wechat_login_folds_the_openid_member_into_the_unionid_member(
    deps: MemberDeps,
) -> None:
    # The same person used two mini-programs before WeChat told us their unionid.
    shop_member, _ = await wechat_member(deps, "open-shop", "union-1", app="wx-shop")
    demo_member, demo_tokens = await wechat_member(deps, "open-demo")
    assert shop_member.id != demo_member.id

    member, _, created = await login_with_wechat(deps, APP, "test:open-demo:union-1")

    assert created is False and member.id == shop_member.id
    absorbed = await stored(deps, demo_member.id)
    assert (absorbed.status, absorbed.merged_into) == (MemberStatus.MERGED, shop_member.id)
    [merge] = await database_of(deps).members.merges_of(demo_member.id)
    assert merge.actor == "SYSTEM"
    with pytest.raises(AuthError):
        await authenticate(deps.auth, demo_tokens.access_token)


async def test_binding_a_phone_merges_the_member_who_held_it(deps: MemberDeps) -> None:
    pos_member, _ = await enrol_member(deps, CS, "13800138000", "CARD-0001")
    wechat, _ = await wechat_member(deps, "open-1")

    await bind_wechat_phone(deps, member_principal(wechat), "test-phone:+8613800138000", None)

    absorbed = await stored(deps, pos_member.id)
    assert (absorbed.status, absorbed.merged_into) == (MemberStatus.MERGED, wechat.id)
    identities = await database_of(deps).members.identities_of([wechat.id])
    assert {i.kind for i in identities} == {
        IdentityKind.WECHAT_OPENID,
        IdentityKind.PHONE,
        IdentityKind.POS_CARD,
    }
    # every identifier, the bound phone included, is readable under the survivor's key
    assert wechat.data_key is not None
    assert {deps.vault.decrypt(wechat.data_key, i.ciphertext) for i in identities} == {
        "open-1",
        "+8613800138000",
        "CARD-0001",
    }


# --------------------------------------------------------------------------- consent


def record(
    purpose: ConsentPurpose, granted: bool, at: datetime, version: str = "2026-01"
) -> ConsentRecord:
    return ConsentRecord(
        id=new_id(),
        member_id=UUID(int=1),
        purpose=purpose,
        granted=granted,
        policy_version=version,
        channel=Channel.MINI_PROGRAM,
        recorded_at=at,
    )


def test_current_consents_picks_the_latest_record_per_purpose() -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    sms_grant = record(ConsentPurpose.MARKETING_SMS, True, t0)
    sms_withdraw = record(ConsentPurpose.MARKETING_SMS, False, t0 + timedelta(days=2), "2026-02")
    analytics = record(ConsentPurpose.ANALYTICS, True, t0 + timedelta(days=1))
    # Given out of order: the time decides, not the list position.
    current = current_consents([sms_withdraw, analytics, sms_grant])
    assert current == {
        ConsentPurpose.MARKETING_SMS: sms_withdraw,
        ConsentPurpose.ANALYTICS: analytics,
    }
    assert current_consents([]) == {}


def test_can_contact_needs_a_current_grant() -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    sms = ConsentPurpose.MARKETING_SMS
    assert can_contact([], sms) is False
    granted = [record(sms, True, t0)]
    assert can_contact(granted, sms) is True
    assert can_contact(granted, ConsentPurpose.MARKETING_WECHAT) is False
    withdrawn = [*granted, record(sms, False, t0 + timedelta(minutes=1))]
    assert can_contact(withdrawn, sms) is False
    again = [*withdrawn, record(sms, True, t0 + timedelta(minutes=2))]
    assert can_contact(again, sms) is True


async def test_consent_changes_are_appended_and_the_latest_counts(
    deps: MemberDeps, frozen: FrozenClock
) -> None:
    member, _ = await wechat_member(deps, "open-1")
    principal = member_principal(member)
    sms = ConsentPurpose.MARKETING_SMS

    history = await update_consents(
        deps, principal, [ConsentChange(sms, True)], " 2026-01 ", Channel.H5
    )
    assert can_contact(list(history), sms)
    frozen.advance(timedelta(days=3))
    history = await update_consents(
        deps, principal, [ConsentChange(sms, False)], "2026-02", Channel.MINI_PROGRAM
    )

    assert [(r.purpose, r.granted, r.policy_version, r.channel) for r in history] == [
        (sms, True, "2026-01", Channel.H5),
        (sms, False, "2026-02", Channel.MINI_PROGRAM),
    ]
    assert not can_contact(list(history), sms)
    assert all(r.member_id == member.id for r in history)


async def test_unsubscribe_all_withdraws_marketing_but_not_analytics(
    deps: MemberDeps, frozen: FrozenClock
) -> None:
    member, _ = await wechat_member(deps, "open-1")
    await grant(deps, member, *ConsentPurpose)
    frozen.advance(timedelta(minutes=5))

    history = await unsubscribe_all(deps, member_principal(member), Channel.KIOSK)

    current = current_consents(list(history))
    for purpose in ConsentPurpose:
        assert can_contact(list(history), purpose) is (purpose not in MARKETING), purpose
    assert current[ConsentPurpose.ANALYTICS].policy_version == "2026-01"
    withdrawals = [r for r in history if not r.granted]
    assert {r.purpose for r in withdrawals} == MARKETING
    assert {r.channel for r in withdrawals} == {Channel.KIOSK}
    assert len(history) == len(ConsentPurpose) + 2


@pytest.mark.parametrize(
    ("changes", "version", "field"),
    [
        ([], "2026-01", "changes"),
        (
            [
                ConsentChange(ConsentPurpose.ANALYTICS, True),
                ConsentChange(ConsentPurpose.ANALYTICS, False),
            ],
            "2026-01",
            "changes",
        ),
        ([ConsentChange(ConsentPurpose.ANALYTICS, True)], "", "policyVersion"),
        ([ConsentChange(ConsentPurpose.ANALYTICS, True)], "   ", "policyVersion"),
        ([ConsentChange(ConsentPurpose.ANALYTICS, True)], "v" * 33, "policyVersion"),
        ([ConsentChange(ConsentPurpose.ANALYTICS, True)], "2026\x0001", "policyVersion"),
    ],
)
async def test_consent_updates_are_validated(
    deps: MemberDeps, changes: list[ConsentChange], version: str, field: str
) -> None:
    member, _ = await wechat_member(deps, "open-1")
    with pytest.raises(MemberError) as caught:
        await update_consents(deps, member_principal(member), changes, version, Channel.H5)
    assert (caught.value.code, caught.value.field) == (MemberErrorCode.INVALID_INPUT, [field])
    assert await database_of(deps).members.consents_of([member.id]) == []


async def test_an_absorbed_member_cannot_record_consent(deps: MemberDeps) -> None:
    source, _ = await wechat_member(deps, "open-src")
    target, _ = await wechat_member(deps, "open-tgt")
    await merge_members(deps, CS, source.id, target.id, "duplicate")
    with pytest.raises(MemberError) as caught:
        await grant(deps, source, ConsentPurpose.ANALYTICS)
    assert caught.value.code is MemberErrorCode.MEMBER_MERGED


# --------------------------------------------------------------------------- identifiers


@pytest.mark.parametrize(
    "raw",
    [
        "13800138000",
        "138 0013 8000",
        " 138-0013-8000 ",
        "+86 138-0013-8000",
        "+8613800138000",
        "8613800138000",
        "008613800138000",  # the international prefix dialled from China
        "(+86) 138 0013 8000",
    ],
)
def test_mainland_phone_spellings_share_one_e164_form(raw: str) -> None:
    assert normalise_phone(raw) == "+8613800138000"


@pytest.mark.parametrize(
    ("raw", "e164"),
    [("+1 415 555 2671", "+14155552671"), ("+44 20 7946 0958", "+442079460958")],
)
def test_foreign_numbers_keep_their_country(raw: str, e164: str) -> None:
    assert normalise_phone(raw) == e164


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "abc",
        "12345",
        "10086",  # a service number, not a subscriber
        "1380013800",  # one digit short
        "138001380001",  # one digit long
        "23800138000",  # no such mobile prefix
        "+86 123",
        "1" * 40,
    ],
)
def test_invalid_phones_are_refused(raw: str) -> None:
    with pytest.raises(MemberError) as caught:
        normalise_phone(raw)
    assert (caught.value.code, caught.value.field) == (MemberErrorCode.INVALID_PHONE, ["phone"])


@pytest.mark.parametrize(
    ("kind", "value", "masked"),
    [
        (IdentityKind.PHONE, "+8613800138000", "138****8000"),
        (IdentityKind.EMAIL, "alice@example.com", "a***@example.com"),
        (IdentityKind.POS_CARD, "CARD-7788", "****7788"),
        (IdentityKind.WECHAT_OPENID, "o6_bmjrPTlm6_2sgVt7hMZOPfL2M", "o6_b****L2M"),
        (IdentityKind.WECHAT_UNIONID, "union-123456", "unio****456"),
        (IdentityKind.ALIPAY_USER_ID, "2088102146225135", "2088****135"),
        (IdentityKind.DOUYIN_OPENID, "short-id", "****"),  # too short to show any of it
    ],
)
def test_masks_hide_the_middle_of_each_kind(kind: IdentityKind, value: str, masked: str) -> None:
    assert mask(kind, value) == masked


def test_foreign_phone_masks_hide_the_subscriber_number() -> None:
    masked = mask(IdentityKind.PHONE, "+14155552671")
    assert masked.endswith("2671") and "****" in masked
    assert "4155552671" not in masked


@pytest.mark.parametrize(
    ("kind", "raw", "value"),
    [
        (IdentityKind.POS_CARD, " card-7788 ", "CARD-7788"),
        (IdentityKind.EMAIL, " Alice@Example.COM ", "alice@example.com"),
        (IdentityKind.WECHAT_OPENID, "o6_bmjrPTlm6", "o6_bmjrPTlm6"),
    ],
)
def test_other_identifiers_have_one_spelling(kind: IdentityKind, raw: str, value: str) -> None:
    assert normalise(kind, raw) == value


@pytest.mark.parametrize(
    ("kind", "raw"),
    [
        (IdentityKind.POS_CARD, "C1"),
        (IdentityKind.POS_CARD, "CARD 7788"),
        (IdentityKind.EMAIL, "not-an-email"),
        (IdentityKind.WECHAT_OPENID, "has space"),
    ],
)
def test_malformed_identifiers_are_refused(kind: IdentityKind, raw: str) -> None:
    with pytest.raises(MemberError) as caught:
        normalise(kind, raw)
    assert caught.value.code is MemberErrorCode.INVALID_IDENTIFIER
