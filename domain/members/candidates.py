"""Customer service's queue of phones claimed by one account and held by another that has a
platform identity of its own: merge the two (one person), move the phone (a recycled
number), or dismiss. Nothing merges such accounts by itself."""

from __future__ import annotations

from enum import StrEnum
from uuid import UUID

from domain.errors import MemberError, MemberErrorCode
from domain.identity.model import Principal
from domain.ids import new_id
from domain.members.deps import MemberDeps
from domain.members.model import CandidateState, IdentityKind, Member, MergeCandidate
from domain.members.services import PhoneHeldElsewhere, link_identity, resolve_member
from domain.pagination import Page, PageRequest
from domain.uow import UnitOfWork


class CandidateAction(StrEnum):
    MERGE = "MERGE"
    RELEASE_PHONE = "RELEASE_PHONE"
    DISMISS = "DISMISS"


OUTCOME = {
    CandidateAction.MERGE: CandidateState.MERGED,
    CandidateAction.RELEASE_PHONE: CandidateState.PHONE_RELEASED,
    CandidateAction.DISMISS: CandidateState.DISMISSED,
}


async def queue_candidate(deps: MemberDeps, claimant_id: UUID, held: PhoneHeldElsewhere) -> None:
    """Record the case (once while it is open), in a transaction of its own: the binding
    that found it was refused and rolled back."""
    async with deps.auth.uow() as uow:
        hash_ = held.identity.lookup_hash
        if await uow.members.open_merge_candidate(claimant_id, held.holder_id, hash_):
            return
        await uow.members.add_merge_candidate(
            MergeCandidate(
                new_id(),
                claimant_id,
                held.holder_id,
                hash_,
                held.identity.masked,
                held.verified_by,
                CandidateState.OPEN,
                deps.auth.clock.now(),
            )
        )


def _check_agent(actor: Principal) -> None:
    if not actor.has_pii_access:
        raise MemberError(
            MemberErrorCode.FORBIDDEN, "Only CS_AGENT or ADMIN staff work merge candidates."
        )


async def merge_candidates(
    deps: MemberDeps, actor: Principal, state: CandidateState | None, page: PageRequest
) -> Page[MergeCandidate]:
    _check_agent(actor)
    async with deps.auth.uow() as uow:
        return await uow.members.merge_candidates(state, page)


async def resolve_candidate(
    deps: MemberDeps, actor: Principal, candidate_id: UUID, action: CandidateAction, reason: str
) -> MergeCandidate:
    """Decide an OPEN case (the decider, time and reason stay on it). Deciding it again the
    same way answers the same case; another way is CANDIDATE_RESOLVED."""
    _check_agent(actor)
    why = reason.strip()
    if not 3 <= len(why) <= 200:
        raise MemberError(
            MemberErrorCode.INVALID_INPUT, "Give a reason (3-200 characters).", ["reason"]
        )
    async with deps.auth.uow() as uow:
        candidate = await uow.members.get_merge_candidate(candidate_id, lock=True)
        if candidate is None:
            raise MemberError(MemberErrorCode.NOT_FOUND, "Unknown candidate.", ["candidateId"])
        if candidate.state is not CandidateState.OPEN:
            if candidate.state is OUTCOME[action]:
                return candidate
            raise MemberError(
                MemberErrorCode.CANDIDATE_RESOLVED,
                f"This case was already decided ({candidate.state.value}).",
                ["candidateId"],
            )
        claimant = await _live(uow, candidate.claimant_id)
        holder = await _live(uow, candidate.holder_id)
        if action is CandidateAction.MERGE:
            await _merge(deps, uow, candidate, holder, claimant, actor, why)
        elif action is CandidateAction.RELEASE_PHONE:
            await _release(deps, uow, candidate, holder, claimant)
        candidate.state, candidate.decided_by = OUTCOME[action], actor.label
        candidate.decided_at, candidate.reason = deps.auth.clock.now(), why
        await uow.members.save_merge_candidate(candidate)
        return candidate


async def _live(uow: UnitOfWork, member_id: UUID) -> Member:
    member = await resolve_member(uow.members, member_id)  # merged since: its survivor
    if member is None or member.data_key is None:
        raise MemberError(
            MemberErrorCode.MEMBER_ERASED,
            "One of the two accounts was deleted; dismiss the case.",
            ["candidateId"],
        )
    return member


async def _merge(
    deps: MemberDeps,
    uow: UnitOfWork,
    candidate: MergeCandidate,
    holder: Member,
    claimant: Member,
    actor: Principal,
    why: str,
) -> None:
    """One person: the holder is absorbed by the claimant, whose phone is now verified."""
    from domain.members.merge import merge_in_uow  # merge imports the services module

    if holder.id != claimant.id:
        await merge_in_uow(
            deps, uow, holder.id, claimant.id, f"{candidate.masked}: {why}", actor.label
        )
    phone = await uow.members.identity_by_hash(candidate.identity_hash)
    if phone is not None and not phone.verified:
        phone.verified, phone.verified_by = True, candidate.verified_by
        await uow.members.save_identity(phone)


async def _release(
    deps: MemberDeps,
    uow: UnitOfWork,
    candidate: MergeCandidate,
    holder: Member,
    claimant: Member,
) -> None:
    """A recycled number: it leaves the old account (which keeps everything else) for the
    member who proved it."""
    phone = await uow.members.identity_by_hash(candidate.identity_hash)
    if phone is None or phone.member_id != holder.id or holder.data_key is None:
        raise MemberError(
            MemberErrorCode.CANDIDATE_RESOLVED,
            "The number is no longer on the other account; the member can bind it again.",
            ["candidateId"],
        )
    number = deps.vault.decrypt(holder.data_key, phone.ciphertext)
    await uow.members.delete_identity(phone.id)
    await link_identity(deps, uow, claimant, IdentityKind.PHONE, number, candidate.verified_by)
