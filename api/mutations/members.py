from __future__ import annotations

from typing import Any, cast

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from api.context import Context
from api.errors import MemberError
from api.mutations import attempt
from api.permissions import CanServeMembers, IsCustomerService, IsMember
from api.relay import decode_id
from api.types.identity import AuthTokens
from api.types.members import Consents, Member, MemberMerge, MergeCandidate, RevealedIdentity
from domain.errors import MemberError as DomainMemberError
from domain.errors import MemberErrorCode
from domain.identity.model import Principal
from domain.members import candidates, login, merge, privacy, services
from domain.members.model import Channel, ConsentPurpose


def _principal(info: Info[Context, Any]) -> Principal:
    principal = info.context.principal
    assert principal is not None  # the permission class ran first
    return principal


@strawberry.type
class MemberLoginPayload:
    tokens: AuthTokens | None = None
    member: Member | None = None
    created: bool = strawberry.field(default=False, description="A first login made the member.")
    errors: list[MemberError] = strawberry.field(default_factory=list)


def _login_payload(result: Any, errors: list[Any]) -> MemberLoginPayload:
    if result is None:
        return MemberLoginPayload(errors=errors)
    member, pair, created = result
    return MemberLoginPayload(
        tokens=AuthTokens.from_domain(pair), member=Member.from_domain(member), created=created
    )


@strawberry.type
class MemberPayload:
    member: Member | None = None
    errors: list[MemberError] = strawberry.field(default_factory=list)


def _member_payload(member: Any, errors: list[Any]) -> MemberPayload:
    return MemberPayload(member=Member.from_domain(member) if member else None, errors=errors)


@strawberry.input
class LoginWithWechatInput:
    app_id: str
    code: str = strawberry.field(description="The code from wx.login().")


@strawberry.input
class PhoneInput:
    phone: str


@strawberry.input
class PhoneCodeInput:
    phone: str
    code: str = strawberry.field(description="The 6-digit code sent by SMS.")


@strawberry.type
class RequestPhoneCodePayload:
    expires_in_seconds: int | None = None
    errors: list[MemberError] = strawberry.field(default_factory=list)


@strawberry.input
class BindPhoneInput:
    wechat_phone_code: str = strawberry.field(description="The phone-number button's code.")
    app_id: str | None = strawberry.field(
        default=None, description="The mini-program; may be left out when only one is set up."
    )


@strawberry.input
class EnrolMemberInput:
    phone: str
    pos_card: str | None = None
    display_name: str | None = None


@strawberry.type
class EnrolMemberPayload:
    member: Member | None = None
    created: bool = False
    errors: list[MemberError] = strawberry.field(default_factory=list)


@strawberry.input
class MergeMembersInput:
    source_member_id: strawberry.ID = strawberry.field(description="The member absorbed.")
    target_member_id: strawberry.ID = strawberry.field(description="The member that remains.")
    reason: str


@strawberry.type
class MergeMembersPayload:
    member: Member | None = strawberry.field(default=None, description="The survivor.")
    merge: MemberMerge | None = None
    errors: list[MemberError] = strawberry.field(default_factory=list)


@strawberry.input
class RevealIdentifiersInput:
    member_id: strawberry.ID
    reason: str = strawberry.field(description="Why you need the data; it is logged.")


@strawberry.type
class RevealIdentifiersPayload:
    identities: list[RevealedIdentity] | None = None
    errors: list[MemberError] = strawberry.field(default_factory=list)


@strawberry.input
class ConsentChangeInput:
    purpose: ConsentPurpose
    granted: bool


@strawberry.input
class UpdateConsentsInput:
    changes: list[ConsentChangeInput]
    policy_version: str
    channel: Channel = Channel.MINI_PROGRAM


@strawberry.input
class UnsubscribeAllInput:
    channel: Channel = Channel.MINI_PROGRAM


@strawberry.type
class ConsentsPayload:
    consents: Consents | None = None
    errors: list[MemberError] = strawberry.field(default_factory=list)


strawberry.enum(candidates.CandidateAction, name="MergeCandidateAction")


@strawberry.input
class ResolveMergeCandidateInput:
    candidate_id: strawberry.ID
    action: candidates.CandidateAction
    reason: str


@strawberry.type
class ResolveMergeCandidatePayload:
    candidate: MergeCandidate | None = None
    errors: list[MemberError] = strawberry.field(default_factory=list)


@strawberry.type
class ExportMyDataPayload:
    document: JSON | None = strawberry.field(
        default=None, description="Everything we hold about you, as JSON."
    )
    download_url: str = strawberry.field(
        default="/me/export",
        description="The same document streamed (GET with your access token): for large "
        "accounts, and to save it as a file.",
    )
    errors: list[MemberError] = strawberry.field(default_factory=list)


@strawberry.input
class DeleteMyAccountInput:
    confirm: bool


@strawberry.type
class DeleteMyAccountPayload:
    ok: bool = False
    errors: list[MemberError] = strawberry.field(default_factory=list)


MAX_CONSENT_CHANGES = len(ConsentPurpose)


@strawberry.type
class MemberMutations:
    @strawberry.mutation(description="Mini-program login: exchange the wx.login() code.")
    async def login_with_wechat(
        self, info: Info[Context, Any], input: LoginWithWechatInput
    ) -> MemberLoginPayload:
        deps = info.context.runtime.members
        return _login_payload(
            *await attempt(
                MemberError, lambda: login.login_with_wechat(deps, input.app_id, input.code)
            )
        )

    @strawberry.mutation(description="Text a 6-digit login/verification code to a phone.")
    async def request_phone_code(
        self, info: Info[Context, Any], input: PhoneInput
    ) -> RequestPhoneCodePayload:
        deps, address = info.context.runtime.members, info.context.client_address
        ttl, errors = await attempt(
            MemberError, lambda: login.request_phone_code(deps, input.phone, address)
        )
        return RequestPhoneCodePayload(
            expires_in_seconds=int(ttl.total_seconds()) if ttl else None, errors=errors
        )

    @strawberry.mutation(description="H5 and kiosk login with an SMS code.")
    async def login_with_phone(
        self, info: Info[Context, Any], input: PhoneCodeInput
    ) -> MemberLoginPayload:
        deps = info.context.runtime.members
        return _login_payload(
            *await attempt(
                MemberError, lambda: login.login_with_phone(deps, input.phone, input.code)
            )
        )

    @strawberry.mutation(
        permission_classes=[IsMember],
        description="Bind a phone proven by SMS code; a member who already had it is merged in.",
    )
    async def verify_phone(self, info: Info[Context, Any], input: PhoneCodeInput) -> MemberPayload:
        deps, principal = info.context.runtime.members, _principal(info)
        return _member_payload(
            *await attempt(
                MemberError, lambda: login.verify_phone(deps, principal, input.phone, input.code)
            )
        )

    @strawberry.mutation(
        permission_classes=[IsMember],
        description="Bind the phone from the mini-program phone-number button.",
    )
    async def bind_phone(self, info: Info[Context, Any], input: BindPhoneInput) -> MemberPayload:
        deps, principal = info.context.runtime.members, _principal(info)
        return _member_payload(
            *await attempt(
                MemberError,
                lambda: login.bind_wechat_phone(
                    deps, principal, input.wechat_phone_code, input.app_id
                ),
            )
        )

    @strawberry.mutation(
        permission_classes=[CanServeMembers],
        description="At the till: the member with this phone, or a new unverified one.",
    )
    async def enrol_member(
        self, info: Info[Context, Any], input: EnrolMemberInput
    ) -> EnrolMemberPayload:
        deps, principal = info.context.runtime.members, _principal(info)
        result, errors = await attempt(
            MemberError,
            lambda: services.enrol_member(
                deps, principal, input.phone, input.pos_card, input.display_name
            ),
        )
        if result is None:
            return EnrolMemberPayload(errors=errors)
        member, created = result
        return EnrolMemberPayload(member=Member.from_domain(member), created=created)

    @strawberry.mutation(
        permission_classes=[IsCustomerService],
        description="Decide a merge candidate: MERGE (one person: the holder is merged into "
        "the claimant), RELEASE_PHONE (a recycled number: it moves to the claimant) or "
        "DISMISS. Idempotent; the decision, who and why stay on the case.",
    )
    async def resolve_merge_candidate(
        self, info: Info[Context, Any], input: ResolveMergeCandidateInput
    ) -> ResolveMergeCandidatePayload:
        deps, principal = info.context.runtime.members, _principal(info)

        async def run() -> Any:
            candidate_id = decode_id(input.candidate_id, "MergeCandidate", "candidateId")
            return await candidates.resolve_candidate(
                deps, principal, candidate_id, input.action, input.reason
            )

        done, errors = await attempt(MemberError, run)
        return ResolveMergeCandidatePayload(
            candidate=MergeCandidate.from_domain(done) if done else None, errors=errors
        )

    @strawberry.mutation(
        permission_classes=[IsCustomerService],
        description="Merge two records of one person; everything moves to the target.",
    )
    async def merge_members(
        self, info: Info[Context, Any], input: MergeMembersInput
    ) -> MergeMembersPayload:
        deps, principal = info.context.runtime.members, _principal(info)

        async def run() -> Any:
            source = decode_id(input.source_member_id, "Member", "sourceMemberId")
            target = decode_id(input.target_member_id, "Member", "targetMemberId")
            done = await merge.merge_members(deps, principal, source, target, input.reason)
            # A repeated merge returns the first one, whose target may have been merged on
            # since: the payload names the member that survives now.
            survivor = await services.resolve_member(
                info.context.runtime.repos.members, done.target_member_id
            )
            return done, survivor

        result, errors = await attempt(MemberError, run)
        if result is None:
            return MergeMembersPayload(errors=errors)
        done, survivor = result
        return MergeMembersPayload(
            member=Member.from_domain(survivor) if survivor else None,
            merge=MemberMerge.from_domain(done),
        )

    @strawberry.mutation(
        permission_classes=[IsCustomerService],
        description="Unmasked identifiers of a member (needs PII access; logged with the reason).",
    )
    async def reveal_identifiers(
        self, info: Info[Context, Any], input: RevealIdentifiersInput
    ) -> RevealIdentifiersPayload:
        deps, principal = info.context.runtime.members, _principal(info)

        async def run() -> Any:
            member_id = decode_id(input.member_id, "Member", "memberId")
            return await services.reveal_identifiers(deps, principal, member_id, input.reason)

        revealed, errors = await attempt(MemberError, run)
        if revealed is None:
            return RevealIdentifiersPayload(errors=errors)
        return RevealIdentifiersPayload(
            identities=[
                RevealedIdentity(
                    kind=i.kind, app_id=i.app_id or None, value=value, verified=i.verified
                )
                for i, value in revealed
            ]
        )

    @strawberry.mutation(permission_classes=[IsMember], description="Grant or withdraw consent.")
    async def update_consents(
        self, info: Info[Context, Any], input: UpdateConsentsInput
    ) -> ConsentsPayload:
        deps, principal = info.context.runtime.members, _principal(info)

        async def run() -> Any:
            if len(input.changes) > MAX_CONSENT_CHANGES:
                raise DomainMemberError(
                    MemberErrorCode.TOO_MANY_ITEMS,
                    f"At most {MAX_CONSENT_CHANGES} changes.",
                    ["changes"],
                )
            changes = [privacy.ConsentChange(c.purpose, c.granted) for c in input.changes]
            return await privacy.update_consents(
                deps, principal, changes, input.policy_version, input.channel
            )

        records, errors = await attempt(MemberError, run)
        return ConsentsPayload(
            consents=Consents.from_domain(records) if records is not None else None,
            errors=errors,
        )

    @strawberry.mutation(
        permission_classes=[IsMember], description="One tap: withdraw every marketing consent."
    )
    async def unsubscribe_all(
        self, info: Info[Context, Any], input: UnsubscribeAllInput | None = None
    ) -> ConsentsPayload:
        deps, principal = info.context.runtime.members, _principal(info)
        channel = input.channel if input else Channel.MINI_PROGRAM
        records, errors = await attempt(
            MemberError, lambda: privacy.unsubscribe_all(deps, principal, channel)
        )
        return ConsentsPayload(
            consents=Consents.from_domain(records) if records is not None else None,
            errors=errors,
        )

    @strawberry.mutation(
        permission_classes=[IsMember], description="Everything we hold about you, as JSON."
    )
    async def export_my_data(self, info: Info[Context, Any]) -> ExportMyDataPayload:
        deps, principal = info.context.runtime.members, _principal(info)
        document, errors = await attempt(
            MemberError, lambda: privacy.export_member_data(deps, principal)
        )
        return ExportMyDataPayload(document=cast(JSON | None, document), errors=errors)

    @strawberry.mutation(
        permission_classes=[IsMember],
        description="Erase your personal data and log out everywhere. Cannot be undone.",
    )
    async def delete_my_account(
        self, info: Info[Context, Any], input: DeleteMyAccountInput
    ) -> DeleteMyAccountPayload:
        deps, principal = info.context.runtime.members, _principal(info)
        _, errors = await attempt(
            MemberError, lambda: privacy.delete_account(deps, principal, input.confirm)
        )
        return DeleteMyAccountPayload(ok=not errors, errors=errors)
