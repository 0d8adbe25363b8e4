"""Merging duplicate members: one transaction, rows locked in id order, idempotent."""

from __future__ import annotations

from uuid import UUID

from domain.errors import MemberError, MemberErrorCode
from domain.events import MembersMerged
from domain.identity.model import Principal, PrincipalKind
from domain.identity.services import revoke_sessions_in_uow
from domain.ids import new_id
from domain.members.deps import MemberDeps
from domain.members.model import Member, MemberMerge, MemberStatus
from domain.uow import UnitOfWork

MAX_ABSORBED = 100  # a record that absorbed more is a data problem, not a person


def _check(source: Member | None, target: Member | None) -> tuple[Member, Member]:
    if source is None:
        raise MemberError(MemberErrorCode.NOT_FOUND, "Unknown source member.", ["sourceMemberId"])
    if target is None:
        raise MemberError(MemberErrorCode.NOT_FOUND, "Unknown target member.", ["targetMemberId"])
    for member, field in ((source, "sourceMemberId"), (target, "targetMemberId")):
        if member.status is MemberStatus.ERASED:
            raise MemberError(
                MemberErrorCode.MEMBER_ERASED, "An erased member cannot be merged.", [field]
            )
    if target.status is MemberStatus.MERGED:
        raise MemberError(
            MemberErrorCode.MEMBER_MERGED,
            f"The target was itself merged into member {target.merged_into}; merge into that one.",
            ["targetMemberId"],
        )
    return source, target


async def merge_in_uow(
    deps: MemberDeps, uow: UnitOfWork, source_id: UUID, target_id: UUID, reason: str, actor: str
) -> MemberMerge:
    """Absorb `source` into `target` inside the caller's transaction."""
    if source_id == target_id:
        raise MemberError(
            MemberErrorCode.MERGE_INTO_SELF,
            "A member cannot be merged into itself.",
            ["targetMemberId"],
        )
    locked = {m.id: m for m in await uow.members.lock([source_id, target_id])}
    source, target = _check(locked.get(source_id), locked.get(target_id))
    if source.status is MemberStatus.MERGED:
        previous = [
            m for m in await uow.members.merges_of(source.id) if m.source_member_id == source.id
        ]
        if source.merged_into == target.id and previous:
            return previous[0]  # the same merge again: nothing more to do
        raise MemberError(
            MemberErrorCode.MEMBER_MERGED,
            f"The source was already merged into member {source.merged_into}.",
            ["sourceMemberId"],
        )
    assert source.data_key is not None and target.data_key is not None
    source_key, target_key = source.data_key, target.data_key
    now = deps.auth.clock.now()
    identities = await uow.members.identities_of([source.id])
    for identity in identities:
        # Re-encrypt under the survivor's key: the absorbed key is destroyed below.
        plaintext = deps.vault.decrypt(source.data_key, identity.ciphertext)
        identity.ciphertext = deps.vault.encrypt(target.data_key, plaintext)
        identity.member_id = target.id
        await uow.members.save_identity(identity)
    consents = await uow.members.move_consents(source.id, target.id)
    sessions = await revoke_sessions_in_uow(
        uow, PrincipalKind.MEMBER, source.id, now, "member merged"
    )
    if (not target.display_name and source.display_name) or (
        target.birthday is None and source.birthday is not None
    ):  # keep the name and the birthday known; the survivor's win where set
        target.display_name = target.display_name or source.display_name
        target.birthday = target.birthday or source.birthday
        target.updated_at = now
        await uow.members.save(target)
    source.status, source.merged_into, source.data_key = MemberStatus.MERGED, target.id, None
    source.updated_at = now
    await uow.members.save(source)
    merge = MemberMerge(
        id=new_id(),
        source_member_id=source.id,
        target_member_id=target.id,
        reason=reason,
        actor=actor,
        moved={"identities": len(identities), "consents": consents, "sessions_revoked": sessions},
        created_at=now,
    )
    await uow.members.add_merge(merge)

    def reseal(ciphertext: str) -> str:
        return deps.vault.encrypt(target_key, deps.vault.decrypt(source_key, ciphertext))

    await deps.events.dispatch(uow, MembersMerged(source.id, target.id, merge.id, reseal))
    return merge


async def merge_members(
    deps: MemberDeps, actor: Principal, source_id: UUID, target_id: UUID, reason: str
) -> MemberMerge:
    """CS: merge two records of one person. Everything of `source` moves to `target`."""
    why = reason.strip()
    if not 3 <= len(why) <= 200:
        raise MemberError(
            MemberErrorCode.INVALID_INPUT, "Give a reason (3-200 characters).", ["reason"]
        )
    async with deps.auth.uow() as uow:
        return await merge_in_uow(deps, uow, source_id, target_id, why, actor.label)


async def absorbed_into_in_uow(uow: UnitOfWork, member_id: UUID) -> list[UUID]:
    """Every member merged into this one, directly or through others merged into it (their
    records stay, pointing here): whose past purchases are now this member's."""
    found: list[UUID] = []
    frontier = [member_id]
    while frontier and len(found) < MAX_ABSORBED:
        current = frontier.pop()
        for merge in await uow.members.merges_of(current):
            if merge.target_member_id == current and merge.source_member_id not in found:
                found.append(merge.source_member_id)
                frontier.append(merge.source_member_id)
    return found
