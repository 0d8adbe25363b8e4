"""Personal-data rights (PIPL): consent, one-tap unsubscribe, export, erasure."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any, cast
from uuid import UUID

from domain.errors import MemberError, MemberErrorCode
from domain.events import ConsentsChanged, ExportScope, MemberErased, MemberErasing
from domain.identity.model import Principal, PrincipalKind
from domain.identity.services import revoke_sessions_in_uow
from domain.ids import new_id
from domain.members.deps import MemberDeps
from domain.members.model import (
    Channel,
    ConsentPurpose,
    ConsentRecord,
    Identity,
    Member,
    MemberMerge,
    MemberStatus,
    current_consents,
)
from domain.members.services import active_member, log_pii_access_in_uow, sorted_identities
from domain.uow import UnitOfWork

ERASED_NAME = ""


@dataclass(frozen=True)
class ConsentChange:
    purpose: ConsentPurpose
    granted: bool


def _policy_version(value: str) -> str:
    version = value.strip()
    if not version or len(version) > 32 or "\x00" in version:
        raise MemberError(
            MemberErrorCode.INVALID_INPUT,
            "`policyVersion` names the privacy policy shown (1-32 characters, e.g. 2026-10).",
            ["policyVersion"],
        )
    return version


async def update_consents(
    deps: MemberDeps,
    principal: Principal,
    changes: Sequence[ConsentChange],
    policy_version: str,
    channel: Channel,
) -> list[ConsentRecord]:
    """Append one record per change; returns the member's whole history."""
    version = clean_consent_changes(changes, policy_version)
    return await _append(deps, principal.id, changes, version, channel)


def clean_consent_changes(changes: Sequence[ConsentChange], policy_version: str) -> str:
    """The checks on one call's consent changes; returns the policy version, cleaned."""
    if len(changes) > len(ConsentPurpose):  # each purpose once: more is refused unread
        raise MemberError(
            MemberErrorCode.TOO_MANY_ITEMS,
            f"At most {len(ConsentPurpose)} changes.",
            ["changes"],
        )
    version = _policy_version(policy_version)
    if not changes:
        raise MemberError(MemberErrorCode.INVALID_INPUT, "Give at least one change.", ["changes"])
    if len({c.purpose for c in changes}) != len(changes):
        raise MemberError(
            MemberErrorCode.INVALID_INPUT, "Each purpose at most once per call.", ["changes"]
        )
    return version


async def unsubscribe_all(
    deps: MemberDeps, principal: Principal, channel: Channel
) -> list[ConsentRecord]:
    """One tap: withdraw every marketing purpose."""
    changes = [ConsentChange(p, False) for p in ConsentPurpose if p.is_marketing]
    return await _append(deps, principal.id, changes, "unsubscribe", channel)


async def _append(
    deps: MemberDeps,
    member_id: UUID,
    changes: Sequence[ConsentChange],
    version: str,
    channel: Channel,
) -> list[ConsentRecord]:
    async with deps.auth.uow() as uow:
        return await append_consents_in_uow(deps, uow, member_id, changes, version, channel)


async def append_consents_in_uow(
    deps: MemberDeps,
    uow: UnitOfWork,
    member_id: UUID,
    changes: Sequence[ConsentChange],
    version: str,
    channel: Channel,
) -> list[ConsentRecord]:
    """Record the changes (checked by `clean_consent_changes`) in the caller's transaction:
    the member's own call, or customer service acting for them (channel CS)."""
    now = deps.auth.clock.now()
    member = await active_member(uow, member_id)
    await uow.members.add_consents(
        [
            ConsentRecord(
                id=new_id(),
                member_id=member.id,
                purpose=c.purpose,
                granted=c.granted,
                policy_version=version,
                channel=channel,
                recorded_at=now,
            )
            for c in changes
        ]
    )
    await deps.events.dispatch(uow, ConsentsChanged(member.id))
    return await uow.members.consents_of([member.id])


EXPORT_FORMAT = "omnishelf.member-export/2"


async def export_member_data(deps: MemberDeps, principal: Principal) -> dict[str, Any]:
    """The whole export as one value (the GraphQL `exportMyData`): the stream, read."""
    return await export_of(deps, principal.id)


async def export_of(deps: MemberDeps, member_id: UUID) -> dict[str, Any]:
    """A member's whole export as one value (theirs, or read by CS for them: audited there)."""
    return cast(dict[str, Any], json.loads("".join([c async for c in _export(deps, member_id)])))


async def log_export_in_uow(
    deps: MemberDeps, uow: UnitOfWork, actor: str, member_id: UUID, reason: str
) -> Member:
    """Staff read a member's export for them: it unmasks every identifier, so it goes to the
    PII access log like a reveal. Returns the (active) member."""
    member = await active_member(uow, member_id)
    identities = await uow.members.identities_of([member.id])
    await log_pii_access_in_uow(deps, uow, actor, member.id, identities, f"export: {reason}"[:200])
    return member


async def export_stream(deps: MemberDeps, principal: Principal) -> AsyncIterator[str]:
    """The member's own export, streamed (`GET /me/export`)."""
    async for piece in _export(deps, principal.id):
        yield piece


async def _export(deps: MemberDeps, member_id: UUID) -> AsyncIterator[str]:
    """Everything we hold about the member, machine-readable, identifiers and addresses
    decrypted, as JSON text in pieces: the member's record and the summary sections first,
    then each list section (orders, points entries, subscriptions...) page by page, each page
    read in a transaction of its own. Memory stays bounded whatever the account's size."""
    async with deps.auth.uow() as uow:
        member = await active_member(uow, member_id)
        assert member.data_key is not None
        identities = sorted_identities(await uow.members.identities_of([member.id]))
        consents = await uow.members.consents_of([member.id])
        merges = await uow.members.merges_of(member.id)
        sections = await deps.exporters.collect(uow, member.id)
    key = member.data_key
    head = json.dumps(
        {**_header(deps, member, identities, consents, merges, key), **sections},
        ensure_ascii=False,
    )
    yield head[:-1]  # without its closing brace: the list sections follow
    scope = ExportScope(member.id, lambda sealed: deps.vault.decrypt(key, sealed))
    for name, exporter in deps.exporters.lists():
        yield f", {json.dumps(name)}: ["
        after: str | None = None
        first = True
        while True:
            async with deps.auth.uow() as uow:
                items, after = await exporter(uow, scope, after)
            for item in items:
                yield ("" if first else ", ") + json.dumps(item, ensure_ascii=False)
                first = False
            if after is None:
                break
        yield "]"
    yield "}"


def _header(
    deps: MemberDeps,
    member: Member,
    identities: Sequence[Identity],
    consents: Sequence[ConsentRecord],
    merges: Sequence[MemberMerge],
    key: str,
) -> dict[str, Any]:
    current = current_consents(list(consents))
    return {
        "format": EXPORT_FORMAT,
        "exportedAt": deps.auth.clock.now().isoformat(),
        "member": {
            "id": str(member.id),
            "displayName": member.display_name,
            "status": member.status.value,
            "createdChannel": member.created_channel.value,
            "createdAt": member.created_at.isoformat(),
            "birthday": {
                "month": member.birthday.month,
                "day": member.birthday.day,
                "year": member.birthday.year,
            }
            if member.birthday
            else None,
        },
        "identities": [
            {
                "kind": i.kind.value,
                "appId": i.app_id or None,
                "value": deps.vault.decrypt(key, i.ciphertext),
                "verified": i.verified,
                "verifiedBy": i.verified_by.value,
                "linkedAt": i.linked_at.isoformat(),
            }
            for i in identities
        ],
        "consents": {
            "current": {p.value: r.granted for p, r in current.items()},
            "history": [
                {
                    "purpose": r.purpose.value,
                    "granted": r.granted,
                    "policyVersion": r.policy_version,
                    "channel": r.channel.value,
                    "recordedAt": r.recorded_at.isoformat(),
                }
                for r in sorted(consents, key=lambda r: r.recorded_at)
            ],
        },
        "mergedFrom": [
            {
                "memberId": str(m.source_member_id),
                "at": m.created_at.isoformat() if m.created_at else None,
            }
            for m in merges
            if m.target_member_id == member.id
        ],
    }


async def delete_account(deps: MemberDeps, principal: Principal, confirm: bool) -> None:
    """Erase personal data: identifiers deleted, the member's data key destroyed (anything
    still encrypted under it is unreadable), sessions revoked. Orders and ledgers keep the
    bare member id, which now names no one. Refused (OPEN_ORDERS) while an order is paid and
    neither handed over nor refunded; unpaid orders are cancelled with the erasure."""
    if not confirm:
        raise MemberError(
            MemberErrorCode.CONFIRMATION_REQUIRED,
            "Deleting the account cannot be undone; send `confirm: true`.",
            ["confirm"],
        )
    async with deps.auth.uow() as uow:
        await erase_member_in_uow(deps, uow, principal.id)


async def erase_member_in_uow(deps: MemberDeps, uow: UnitOfWork, member_id: UUID) -> None:
    """`delete_account`'s erasure in the caller's transaction: the member's own request, or
    customer service's on their behalf (recorded there)."""
    now = deps.auth.clock.now()
    member = await active_member(uow, member_id)
    erasing = MemberErasing(member.id)
    await deps.events.dispatch(uow, erasing)
    if erasing.open_orders:
        raise MemberError(
            MemberErrorCode.OPEN_ORDERS,
            "These orders are paid and not collected yet: "
            f"{', '.join(erasing.open_orders)}. Collect them, or cancel them for a refund, "
            "then delete the account.",
        )
    await uow.members.delete_identities(member.id)
    await revoke_sessions_in_uow(uow, PrincipalKind.MEMBER, member.id, now, "erased")
    member.status, member.data_key = MemberStatus.ERASED, None
    member.display_name, member.erased_at, member.updated_at = ERASED_NAME, now, now
    member.birthday = None
    await uow.members.save(member)
    await deps.events.dispatch(uow, MemberErased(member.id))
