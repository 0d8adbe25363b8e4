"""Member use cases shared by every channel: create, find, bind identifiers, POS and CS."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from uuid import UUID

from domain.errors import MemberError, MemberErrorCode
from domain.identity.model import Principal, PrincipalKind
from domain.ids import new_id
from domain.members.deps import MemberDeps
from domain.members.identifiers import (
    PHONE_SUFFIX_NAMESPACE,
    lookup_namespace,
    mask,
    normalise,
    normalise_phone,
    phone_suffix,
)
from domain.members.model import (
    Channel,
    Identity,
    IdentityKind,
    Member,
    MemberStatus,
    PiiAccess,
    VerifiedBy,
)
from domain.members.ports import MemberRepository
from domain.pagination import Page, PageRequest
from domain.uow import UnitOfWork

MAX_MERGE_HOPS = 16
# Proof of ownership strong enough to take an identifier over from another member (merge).
PROVES_OWNERSHIP = frozenset({VerifiedBy.WECHAT, VerifiedBy.SMS})
# Identities a platform vouches for: an account with one is somebody's own, not a record a
# till made from a phone number.
PLATFORM_KINDS = frozenset(
    {
        IdentityKind.WECHAT_OPENID,
        IdentityKind.WECHAT_UNIONID,
        IdentityKind.ALIPAY_USER_ID,
        IdentityKind.DOUYIN_OPENID,
    }
)


class PhoneHeldElsewhere(MemberError):
    """The phone is proven by this member but held by an account with a platform identity
    of its own (a recycled number, or one person with two accounts): CS decides."""

    def __init__(self, holder_id: UUID, identity: Identity, verified_by: VerifiedBy):
        super().__init__(
            MemberErrorCode.PHONE_IN_USE,
            f"{identity.masked} belongs to another account. Customer service will check "
            "it and move the number to you, or merge the two accounts if they are both yours.",
            ["phone"],
        )
        self.holder_id, self.identity, self.verified_by = holder_id, identity, verified_by


def member_principal(member: Member, session_id: UUID | None = None) -> Principal:
    return Principal(kind=PrincipalKind.MEMBER, id=member.id, session_id=session_id)


def identity_hash(deps: MemberDeps, kind: IdentityKind, app_id: str, value: str) -> str:
    return deps.vault.lookup_hash(lookup_namespace(kind, app_id), value)


def suffix_hash(deps: MemberDeps, kind: IdentityKind, value: str) -> str | None:
    """The index CS searches a phone's last 4 digits by; None for other identifiers."""
    if kind is not IdentityKind.PHONE:
        return None
    return deps.vault.lookup_hash(PHONE_SUFFIX_NAMESPACE, phone_suffix(value))


def clean_display_name(value: str | None, fallback: str = "") -> str:
    name = (value or fallback).strip()
    if len(name) > 64 or "\x00" in name:
        raise MemberError(
            MemberErrorCode.INVALID_INPUT,
            "`displayName` is at most 64 characters.",
            ["displayName"],
        )
    return name


async def new_member(
    deps: MemberDeps, uow: UnitOfWork, channel: Channel, display_name: str = ""
) -> Member:
    now = deps.auth.clock.now()
    member = Member(
        id=new_id(),
        status=MemberStatus.ACTIVE,
        display_name=display_name,
        created_channel=channel,
        created_at=now,
        updated_at=now,
        data_key=deps.vault.new_member_key(),
    )
    await uow.members.add(member)
    return member


async def find_member(
    deps: MemberDeps, uow: UnitOfWork, kind: IdentityKind, value: str, app_id: str = ""
) -> tuple[Member, Identity] | None:
    identity = await uow.members.identity_by_hash(identity_hash(deps, kind, app_id, value))
    if identity is None:
        return None
    member = await uow.members.get(identity.member_id)
    return (member, identity) if member is not None else None


async def resolve_member(members: MemberRepository, member_id: UUID) -> Member | None:
    """Follow `mergedInto` so an absorbed member's id keeps pointing at the survivor."""
    member = await members.get(member_id)
    hops = 0
    while member is not None and member.merged_into is not None and hops < MAX_MERGE_HOPS:
        member = await members.get(member.merged_into)
        hops += 1
    return member


async def surviving_member_in_uow(uow: UnitOfWork, member_id: UUID) -> Member | None:
    """`resolve_member` inside the caller's transaction (another context's use case)."""
    return await resolve_member(uow.members, member_id)


async def surviving_members_in_uow(
    uow: UnitOfWork, member_ids: Sequence[UUID]
) -> dict[UUID, Member | None]:
    """`surviving_member_in_uow` for many, by the id asked: one read, then the merge chains
    of those absorbed followed one by one (few: a merge is rare)."""
    found = {m.id: m for m in await uow.members.get_many(sorted(set(member_ids)))}
    survivors: dict[UUID, Member | None] = {}
    for member_id in member_ids:
        member = found.get(member_id)
        if member is not None and member.merged_into is not None:
            member = await resolve_member(uow.members, member_id)
        survivors[member_id] = member
    return survivors


async def display_names_in_uow(uow: UnitOfWork, member_ids: Sequence[UUID]) -> dict[UUID, str]:
    """The members' display names, by id, in one read (another context's export)."""
    return {m.id: m.display_name for m in await uow.members.get_many(member_ids)}


async def identity_hashes_in_uow(uow: UnitOfWork, member_id: UUID) -> list[str]:
    """The keyed lookup hashes of the member's identifiers (no identifier can be read back
    from them): growth keeps an erased member's to know them when they return."""
    return [i.lookup_hash for i in await uow.members.identities_of([member_id])]


async def member_since_in_uow(uow: UnitOfWork, member: Member) -> datetime:
    """When the person behind a OneID became a member: the earliest creation of the member
    and of every account merged into it (a duplicate made yesterday and merged into a
    member of last year is last year's member, not a new one)."""
    since, seen, todo = member.created_at, {member.id}, [member.id]
    while todo and len(seen) <= MAX_MERGE_HOPS * 8:
        for merge in await uow.members.merges_of(todo.pop()):
            source = merge.source_member_id
            if source in seen:
                continue
            seen.add(source)
            found = await uow.members.get(source)
            if found is not None:
                since = min(since, found.created_at)
                todo.append(source)
    return since


async def active_member(uow: UnitOfWork, member_id: UUID, field_name: str = "memberId") -> Member:
    member = await uow.members.get(member_id)
    if member is None:
        raise MemberError(MemberErrorCode.NOT_FOUND, "Unknown member.", [field_name])
    if member.status is MemberStatus.ERASED:
        raise MemberError(
            MemberErrorCode.MEMBER_ERASED, "This member erased their account.", [field_name]
        )
    if member.status is MemberStatus.MERGED:
        raise MemberError(
            MemberErrorCode.MEMBER_MERGED,
            f"This member was merged into member {member.merged_into}; use that one.",
            [field_name],
        )
    return member


async def link_identity(
    deps: MemberDeps,
    uow: UnitOfWork,
    member: Member,
    kind: IdentityKind,
    value: str,
    verified_by: VerifiedBy,
    app_id: str = "",
) -> Identity:
    assert member.data_key is not None, "active members always have a data key"
    identity = Identity(
        id=new_id(),
        member_id=member.id,
        kind=kind,
        app_id=app_id,
        lookup_hash=identity_hash(deps, kind, app_id, value),
        ciphertext=deps.vault.encrypt(member.data_key, value),
        masked=mask(kind, value),
        verified=verified_by is not VerifiedBy.NONE,
        verified_by=verified_by,
        linked_at=deps.auth.clock.now(),
        suffix_hash=suffix_hash(deps, kind, value),
    )
    await uow.members.add_identity(identity)
    return identity


async def bind_identifier(
    deps: MemberDeps,
    uow: UnitOfWork,
    member: Member,
    kind: IdentityKind,
    value: str,
    verified_by: VerifiedBy,
    actor: str,
    app_id: str = "",
) -> bool:
    """Attach an identifier to the member; True when its holder was merged into the member
    (whose name it then keeps if the member had none: read the member again).

    If another member holds it and this binding proves ownership (WeChat or SMS), that
    member is the same person, merged into this one in this transaction, when it is only a
    record made at a till (no platform identity). A phone held by an account with a WeChat,
    Alipay or Douyin identity of its own is PhoneHeldElsewhere: a recycled number would
    otherwise take the old owner's account over.
    """
    from domain.members.merge import merge_in_uow  # merge imports this module

    found = await find_member(deps, uow, kind, value, app_id)
    if found is None:
        await link_identity(deps, uow, member, kind, value, verified_by, app_id)
        return False
    holder, identity = found
    merged = holder.id != member.id
    if merged:
        if verified_by not in PROVES_OWNERSHIP:
            raise MemberError(
                MemberErrorCode.IDENTIFIER_TAKEN,
                f"{identity.masked} belongs to another member; verify it by SMS or WeChat "
                "to merge the two accounts.",
                [kind.value.lower()],
            )
        if kind is IdentityKind.PHONE:
            others = await uow.members.identities_of([holder.id])
            if any(i.kind in PLATFORM_KINDS and i.verified for i in others):
                raise PhoneHeldElsewhere(holder.id, identity, verified_by)
        await merge_in_uow(
            deps,
            uow,
            holder.id,
            member.id,
            f"{kind.value} {identity.masked} verified by {verified_by.value}",
            actor,
        )
        # The merge moved and re-encrypted the identity under the survivor's key: work on
        # the stored row, not the copy read before (its ciphertext names a destroyed key).
        moved = await uow.members.identity_by_hash(identity.lookup_hash)
        assert moved is not None and moved.member_id == member.id
        identity = moved
    if verified_by is not VerifiedBy.NONE and not identity.verified:
        identity.verified, identity.verified_by = True, verified_by
        await uow.members.save_identity(identity)
    return merged


async def lookup_member(
    deps: MemberDeps, phone: str | None, pos_card: str | None
) -> tuple[Member, list[Identity]] | None:
    """POS and store staff: the member behind a phone number or a member card."""
    kind, raw = _one_identifier(phone, pos_card)
    value = normalise(kind, raw)
    async with deps.auth.uow() as uow:
        found = await find_member(deps, uow, kind, value)
        if found is None:
            return None
        member = found[0]
        return member, await uow.members.identities_of([member.id])


def _one_identifier(phone: str | None, pos_card: str | None) -> tuple[IdentityKind, str]:
    if (phone is None) == (pos_card is None):
        raise MemberError(
            MemberErrorCode.INVALID_INPUT, "Give exactly one of `phone` or `posCard`.", ["phone"]
        )
    return (
        (IdentityKind.PHONE, phone) if phone is not None else (IdentityKind.POS_CARD, str(pos_card))
    )


async def enrol_member(
    deps: MemberDeps,
    actor: Principal,
    phone: str,
    pos_card: str | None = None,
    display_name: str | None = None,
) -> tuple[Member, bool]:
    """At the till: the member with this phone, or a new unverified one. Returns (member,
    created). A card already on another member is refused, never silently moved."""
    number = normalise_phone(phone)
    card = normalise(IdentityKind.POS_CARD, pos_card) if pos_card else None
    name = clean_display_name(display_name)
    async with deps.auth.uow() as uow:
        found = await find_member(deps, uow, IdentityKind.PHONE, number)
        created = found is None
        member = found[0] if found else await new_member(deps, uow, Channel.POS, name)
        if created:
            await link_identity(deps, uow, member, IdentityKind.PHONE, number, VerifiedBy.NONE)
        if card is not None:
            await bind_identifier(
                deps, uow, member, IdentityKind.POS_CARD, card, VerifiedBy.CARD, actor.label
            )
    return member, created


# CS search by a phone's last 4 digits: at most this many members (the oldest ids), and at
# most SUFFIX_SEARCHES such searches per agent a minute: the digits narrow, they never list.
MAX_SUFFIX_MATCHES = 20
SUFFIX_SEARCHES = (30, 60)
LAST4 = re.compile(r"[0-9]{4}")
ORDER_NUMBER = re.compile(r"[0-9A-Z]{16}")


async def search_members(
    deps: MemberDeps, search: str, page: PageRequest, actor: Principal | None = None
) -> Page[Member]:
    """CS search, one box: an exact phone or card number; the last 4 digits of a phone (at
    most MAX_SUFFIX_MATCHES members, rate limited per searcher); an order number (its member,
    or its survivor); else a fragment of the display name."""
    text = search.strip()
    if not text or len(text) > 64 or "\x00" in text:
        raise MemberError(MemberErrorCode.INVALID_INPUT, "`search` is 1-64 characters.", ["search"])
    async with deps.auth.uow() as uow:
        for kind in (IdentityKind.PHONE, IdentityKind.POS_CARD):
            try:
                value = normalise(kind, text)
            except MemberError:
                continue
            found = await find_member(deps, uow, kind, value)
            if found is not None:
                return _one_page([found[0]])
        if LAST4.fullmatch(text):
            await _count_suffix_search(deps, actor)
            digits = deps.vault.lookup_hash(PHONE_SUFFIX_NAMESPACE, text)
            return _one_page(await uow.members.by_phone_suffix(digits, MAX_SUFFIX_MATCHES))
        if ORDER_NUMBER.fullmatch(text.upper()):
            order = await uow.orders.by_number(text.upper())
            if order is not None and order.member_id is not None:
                member = await resolve_member(uow.members, order.member_id)
                return _one_page([member] if member is not None else [])
        return await uow.members.search_by_name(text, page)


def _one_page(members: Sequence[Member]) -> Page[Member]:
    return Page(
        items=list(members), keys=[str(m.id) for m in members], has_next=False, has_previous=False
    )


async def _count_suffix_search(deps: MemberDeps, actor: Principal | None) -> None:
    limit, window = SUFFIX_SEARCHES
    who = actor.label if actor is not None else "anonymous"
    wait = await deps.auth.limiter.hit(f"cs:last4:{who}", limit, window)
    if wait:
        raise MemberError(
            MemberErrorCode.TOO_MANY_REQUESTS,
            f"Too many searches by the last 4 digits. Try again in {wait} seconds.",
            ["search"],
        )


async def index_phone_suffixes(deps: MemberDeps, batch: int = 500) -> int:
    """Backfill the last-4 index of phones linked before it existed (`0023_cs_desk`): decrypt
    each with its member's key, store the keyed hash. Returns how many it indexed; erased
    members have no phones, so every phone left has a key."""
    done = 0
    while True:
        before = done
        async with deps.auth.uow() as uow:
            phones = await uow.members.phones_without_suffix(batch)
            keys = {
                m.id: m.data_key for m in await uow.members.get_many([p.member_id for p in phones])
            }
            for phone in phones:
                key = keys.get(phone.member_id)
                if key is None:
                    continue
                value = deps.vault.decrypt(key, phone.ciphertext)
                phone.suffix_hash = suffix_hash(deps, IdentityKind.PHONE, value)
                await uow.members.save_identity(phone)
                done += 1
        if len(phones) < batch or done == before:
            return done


async def reveal_identifiers(
    deps: MemberDeps, actor: Principal, member_id: UUID, reason: str
) -> list[tuple[Identity, str]]:
    """Unmasked identifiers for staff with PII access; every call is written to the log."""
    if not actor.has_pii_access:
        raise MemberError(
            MemberErrorCode.FORBIDDEN, "Your role may not see unmasked personal data."
        )
    why = reason.strip()
    if not 3 <= len(why) <= 200:
        raise MemberError(
            MemberErrorCode.INVALID_INPUT,
            "Say why you need the data (3-200 characters); it is logged.",
            ["reason"],
        )
    async with deps.auth.uow() as uow:
        member = await resolve_member(uow.members, member_id)  # a merged id means its survivor
        if member is None:
            raise MemberError(MemberErrorCode.NOT_FOUND, "Unknown member.", ["memberId"])
        identities = await uow.members.identities_of([member.id])
        key = member.data_key
        revealed = [(i, deps.vault.decrypt(key, i.ciphertext)) for i in identities] if key else []
        await log_pii_access_in_uow(deps, uow, actor.label, member.id, identities, why)
    return revealed


async def log_pii_access_in_uow(
    deps: MemberDeps,
    uow: UnitOfWork,
    actor: str,
    member_id: UUID,
    identities: Sequence[Identity],
    reason: str,
) -> None:
    """Write one unmasked read of the member's identifiers to the PII access log."""
    await log_pii_reads_in_uow(
        deps, uow, actor, {member_id: [i.kind.value for i in identities]}, reason
    )


async def log_pii_reads_in_uow(
    deps: MemberDeps,
    uow: UnitOfWork,
    actor: str,
    kinds_by_member: Mapping[UUID, Sequence[str]],
    reason: str,
) -> None:
    """Write unmasked reads of several members' data (what kinds of it, by member) to the PII
    access log: one entry per member, one statement for all."""
    now = deps.auth.clock.now()
    entries = [
        PiiAccess(
            id=new_id(),
            actor=actor,
            member_id=member_id,
            kinds=sorted(set(kinds)),
            reason=reason,
            created_at=now,
        )
        for member_id, kinds in kinds_by_member.items()
    ]
    if entries:
        await uow.members.add_pii_access(*entries)


async def pii_access_log(
    deps: MemberDeps, actor: Principal, page: PageRequest, mine: bool = False
) -> Page[PiiAccess]:
    """ADMIN reads every unmasked read (or, `mine`, their own); anyone else with PII access
    (a CS agent) only their own reveals."""
    own = mine or not actor.is_admin
    async with deps.auth.uow() as uow:
        return await uow.members.list_pii_access(page, actor.label if own else None)


async def wechat_openid(deps: MemberDeps, member_id: UUID, app_id: str) -> str | None:
    """The member's openid under the WeChat app `app_id` (a merged id means its survivor), or
    None: an erased or closed account, or one that never signed in to that app."""
    async with deps.auth.uow() as uow:
        member = await resolve_member(uow.members, member_id)
        if member is None or not member.is_active or member.data_key is None:
            return None
        identities = await uow.members.identities_of([member.id])
    found = openid_identity(identities, app_id)
    return deps.vault.decrypt(member.data_key, found.ciphertext) if found else None


def openid_identity(
    identities: Sequence[Identity], app_id: str, *, other_apps: bool = False
) -> Identity | None:
    """The member's (first linked) openid of WeChat app `app_id`; with `other_apps`, one of
    another app when there is none of that one (a message reaches them there; a payment
    cannot: WeChat Pay wants the openid of the paying app)."""
    openids = sorted(
        (
            i
            for i in identities
            if i.kind is IdentityKind.WECHAT_OPENID and (other_apps or i.app_id == app_id)
        ),
        key=lambda i: (i.app_id != app_id, i.linked_at),
    )
    return openids[0] if openids else None


def sorted_identities(identities: Sequence[Identity]) -> list[Identity]:
    return sorted(identities, key=lambda i: (list(IdentityKind).index(i.kind), i.linked_at))
