from __future__ import annotations

from typing import cast

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from api.context import Context
from api.errors import MemberUserError
from api.mutations import actor, mutate
from api.permissions import CanServeMembers, IsCustomerService, IsMember
from api.relay import decode_id
from api.types.identity import AuthTokens
from api.types.members import Consents, Member, MemberMerge, MergeCandidate, RevealedIdentity
from domain.identity.model import TokenPair
from domain.members import birthday, candidates, login, merge, privacy, services
from domain.members.model import Channel, ConsentPurpose, ConsentRecord, Identity
from domain.members.model import Member as DomainMember
from domain.members.model import MemberMerge as DomainMerge


@strawberry.type
class MemberLoginPayload:
    tokens: AuthTokens | None = None
    member: Member | None = None
    created: bool = strawberry.field(default=False, description="A first login made the member.")
    errors: list[MemberUserError] = strawberry.field(default_factory=list)


def _logged_in(result: tuple[DomainMember, TokenPair, bool]) -> MemberLoginPayload:
    member, pair, created = result
    return MemberLoginPayload(
        tokens=AuthTokens.from_domain(pair), member=Member.from_domain(member), created=created
    )


@strawberry.type
class BindPhonePayload:
    member: Member | None = strawberry.field(
        default=None, description="The member after the binding (with the name a merge gave it)."
    )
    merged: bool = strawberry.field(
        default=False,
        description="The phone belonged to a member made at a till, now merged into this one.",
    )
    errors: list[MemberUserError] = strawberry.field(default_factory=list)


def _bound(result: tuple[DomainMember, bool]) -> BindPhonePayload:
    member, merged = result
    return BindPhonePayload(member=Member.from_domain(member), merged=merged)


def _consents(records: list[ConsentRecord]) -> ConsentsPayload:
    return ConsentsPayload(consents=Consents.from_domain(records))


REFERRAL_CODE_HELP = (
    "The inviter's referral code (from the share's `ref` or `scene`): a first login of a new "
    "person is attributed to them; anything else is recorded as refused, and login goes on."
)
DEVICE_HELP = "The client's device fingerprint, compared (hashed) against referral rings."


GUIDE_CODE_HELP = (
    "A shopping guide's code (from the guide's share `guide` or `scene`): binds the member to "
    "that guide unless they have one (first touch wins); an unknown code is ignored."
)


def _referred(
    code: str | None, device: str | None, guide: str | None = None
) -> login.Referred | None:
    code, guide = (code or "").strip(), (guide or "").strip()
    return login.Referred(code[:64], device, guide[:64]) if code or guide else None


@strawberry.input
class LoginWithWechatInput:
    app_id: str
    code: str = strawberry.field(description="The code from wx.login().")
    display_name: str | None = strawberry.field(
        default=None,
        description="The nickname typed in WeChat's nickname field (at most 64 characters): "
        "names a member created by this login; a returning member keeps theirs.",
    )
    referral_code: str | None = strawberry.field(default=None, description=REFERRAL_CODE_HELP)
    device_fingerprint: str | None = strawberry.field(default=None, description=DEVICE_HELP)
    guide_code: str | None = strawberry.field(default=None, description=GUIDE_CODE_HELP)


@strawberry.input
class PhoneInput:
    phone: str


@strawberry.input
class PhoneCodeInput:
    phone: str
    code: str = strawberry.field(description="The 6-digit code sent by SMS.")
    referral_code: str | None = strawberry.field(
        default=None, description=f"loginWithPhone only. {REFERRAL_CODE_HELP}"
    )
    device_fingerprint: str | None = strawberry.field(
        default=None, description=f"loginWithPhone only. {DEVICE_HELP}"
    )
    guide_code: str | None = strawberry.field(
        default=None, description=f"loginWithPhone only. {GUIDE_CODE_HELP}"
    )


@strawberry.type
class RequestPhoneCodePayload:
    expires_in_seconds: int | None = None
    errors: list[MemberUserError] = strawberry.field(default_factory=list)


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
    errors: list[MemberUserError] = strawberry.field(default_factory=list)


@strawberry.input
class MergeMembersInput:
    source_member_id: strawberry.ID = strawberry.field(description="The member absorbed.")
    target_member_id: strawberry.ID = strawberry.field(description="The member that remains.")
    reason: str


@strawberry.type
class MergeMembersPayload:
    member: Member | None = strawberry.field(default=None, description="The survivor.")
    merge: MemberMerge | None = None
    errors: list[MemberUserError] = strawberry.field(default_factory=list)


@strawberry.input
class RevealIdentifiersInput:
    member_id: strawberry.ID
    reason: str = strawberry.field(description="Why you need the data; it is logged.")


@strawberry.type
class RevealIdentifiersPayload:
    identities: list[RevealedIdentity] | None = None
    errors: list[MemberUserError] = strawberry.field(default_factory=list)


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
    errors: list[MemberUserError] = strawberry.field(default_factory=list)


strawberry.enum(candidates.CandidateAction, name="MergeCandidateAction")


@strawberry.input
class ResolveMergeCandidateInput:
    candidate_id: strawberry.ID
    action: candidates.CandidateAction
    reason: str


@strawberry.type
class ResolveMergeCandidatePayload:
    candidate: MergeCandidate | None = None
    errors: list[MemberUserError] = strawberry.field(default_factory=list)


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
    errors: list[MemberUserError] = strawberry.field(default_factory=list)


@strawberry.input
class BirthdayInput:
    month: int
    day: int
    year: int | None = strawberry.field(default=None, description="1900 to this year.")


@strawberry.type
class MemberPayload:
    member: Member | None = None
    errors: list[MemberUserError] = strawberry.field(default_factory=list)


@strawberry.input
class DeleteMyAccountInput:
    confirm: bool


@strawberry.type
class DeleteMyAccountPayload:
    ok: bool = False
    errors: list[MemberUserError] = strawberry.field(default_factory=list)


@strawberry.type
class MemberMutations:
    @strawberry.mutation(description="Mini-program login: exchange the wx.login() code.")
    async def login_with_wechat(
        self, info: Info[Context, object], input: LoginWithWechatInput
    ) -> MemberLoginPayload:
        deps = info.context.runtime.members
        return await mutate(
            MemberLoginPayload,
            MemberUserError,
            lambda: login.login_with_wechat(
                deps,
                input.app_id,
                input.code,
                input.display_name,
                _referred(input.referral_code, input.device_fingerprint, input.guide_code),
            ),
            _logged_in,
        )

    @strawberry.mutation(description="Text a 6-digit login/verification code to a phone.")
    async def request_phone_code(
        self, info: Info[Context, object], input: PhoneInput
    ) -> RequestPhoneCodePayload:
        deps, address = info.context.runtime.members, info.context.client_address
        return await mutate(
            RequestPhoneCodePayload,
            MemberUserError,
            lambda: login.request_phone_code(deps, input.phone, address),
            lambda ttl: RequestPhoneCodePayload(expires_in_seconds=int(ttl.total_seconds())),
        )

    @strawberry.mutation(description="H5 and kiosk login with an SMS code.")
    async def login_with_phone(
        self, info: Info[Context, object], input: PhoneCodeInput
    ) -> MemberLoginPayload:
        deps = info.context.runtime.members
        return await mutate(
            MemberLoginPayload,
            MemberUserError,
            lambda: login.login_with_phone(
                deps,
                input.phone,
                input.code,
                referred=_referred(input.referral_code, input.device_fingerprint, input.guide_code),
            ),
            _logged_in,
        )

    @strawberry.mutation(
        permission_classes=[IsMember],
        description="Bind a phone proven by SMS code; a member who already had it is merged in.",
    )
    async def verify_phone(
        self, info: Info[Context, object], input: PhoneCodeInput
    ) -> BindPhonePayload:
        deps, caller = info.context.runtime.members, actor(info)
        return await mutate(
            BindPhonePayload,
            MemberUserError,
            lambda: login.verify_phone(deps, caller, input.phone, input.code),
            _bound,
        )

    @strawberry.mutation(
        permission_classes=[IsMember],
        description="Bind the phone from the mini-program phone-number button; a member made "
        "at a till who had it is merged in (`merged`).",
    )
    async def bind_phone(
        self, info: Info[Context, object], input: BindPhoneInput
    ) -> BindPhonePayload:
        deps, caller = info.context.runtime.members, actor(info)
        return await mutate(
            BindPhonePayload,
            MemberUserError,
            lambda: login.bind_wechat_phone(deps, caller, input.wechat_phone_code, input.app_id),
            _bound,
        )

    @strawberry.mutation(
        permission_classes=[CanServeMembers],
        description="At the till: the member with this phone, or a new unverified one.",
    )
    async def enrol_member(
        self, info: Info[Context, object], input: EnrolMemberInput
    ) -> EnrolMemberPayload:
        deps, caller = info.context.runtime.members, actor(info)
        return await mutate(
            EnrolMemberPayload,
            MemberUserError,
            lambda: services.enrol_member(
                deps, caller, input.phone, input.pos_card, input.display_name
            ),
            lambda enrolled: EnrolMemberPayload(
                member=Member.from_domain(enrolled[0]), created=enrolled[1]
            ),
        )

    @strawberry.mutation(
        permission_classes=[IsCustomerService],
        description="Decide a merge candidate: MERGE (one person: the holder is merged into "
        "the claimant), RELEASE_PHONE (a recycled number: it moves to the claimant) or "
        "DISMISS. Idempotent; the decision, who and why stay on the case.",
    )
    async def resolve_merge_candidate(
        self, info: Info[Context, object], input: ResolveMergeCandidateInput
    ) -> ResolveMergeCandidatePayload:
        deps, caller = info.context.runtime.members, actor(info)
        return await mutate(
            ResolveMergeCandidatePayload,
            MemberUserError,
            lambda: candidates.resolve_candidate(
                deps,
                caller,
                decode_id(input.candidate_id, "MergeCandidate", "candidateId"),
                input.action,
                input.reason,
            ),
            lambda done: ResolveMergeCandidatePayload(candidate=MergeCandidate.from_domain(done)),
        )

    @strawberry.mutation(
        permission_classes=[IsCustomerService],
        description="Merge two records of one person; everything moves to the target.",
    )
    async def merge_members(
        self, info: Info[Context, object], input: MergeMembersInput
    ) -> MergeMembersPayload:
        deps, caller = info.context.runtime.members, actor(info)

        async def run() -> tuple[DomainMerge, DomainMember | None]:
            source = decode_id(input.source_member_id, "Member", "sourceMemberId")
            target = decode_id(input.target_member_id, "Member", "targetMemberId")
            done = await merge.merge_members(deps, caller, source, target, input.reason)
            # A repeated merge returns the first one, whose target may have been merged on
            # since: the payload names the member that survives now.
            survivor = await services.resolve_member(
                info.context.runtime.repos.members, done.target_member_id
            )
            return done, survivor

        def present(result: tuple[DomainMerge, DomainMember | None]) -> MergeMembersPayload:
            done, survivor = result
            return MergeMembersPayload(
                member=Member.from_domain(survivor) if survivor else None,
                merge=MemberMerge.from_domain(done),
            )

        return await mutate(MergeMembersPayload, MemberUserError, run, present)

    @strawberry.mutation(
        permission_classes=[IsCustomerService],
        description="Unmasked identifiers of a member (needs PII access; logged with the reason).",
    )
    async def reveal_identifiers(
        self, info: Info[Context, object], input: RevealIdentifiersInput
    ) -> RevealIdentifiersPayload:
        deps, caller = info.context.runtime.members, actor(info)

        def present(revealed: list[tuple[Identity, str]]) -> RevealIdentifiersPayload:
            return RevealIdentifiersPayload(
                identities=[
                    RevealedIdentity(
                        kind=i.kind, app_id=i.app_id or None, value=value, verified=i.verified
                    )
                    for i, value in revealed
                ]
            )

        return await mutate(
            RevealIdentifiersPayload,
            MemberUserError,
            lambda: services.reveal_identifiers(
                deps, caller, decode_id(input.member_id, "Member", "memberId"), input.reason
            ),
            present,
        )

    @strawberry.mutation(permission_classes=[IsMember], description="Grant or withdraw consent.")
    async def update_consents(
        self, info: Info[Context, object], input: UpdateConsentsInput
    ) -> ConsentsPayload:
        deps, caller = info.context.runtime.members, actor(info)
        return await mutate(
            ConsentsPayload,
            MemberUserError,
            lambda: privacy.update_consents(
                deps,
                caller,
                [privacy.ConsentChange(c.purpose, c.granted) for c in input.changes],
                input.policy_version,
                input.channel,
            ),
            _consents,
        )

    @strawberry.mutation(
        permission_classes=[IsMember], description="One tap: withdraw every marketing consent."
    )
    async def unsubscribe_all(
        self, info: Info[Context, object], input: UnsubscribeAllInput | None = None
    ) -> ConsentsPayload:
        deps, caller = info.context.runtime.members, actor(info)
        channel = input.channel if input else Channel.MINI_PROGRAM
        return await mutate(
            ConsentsPayload,
            MemberUserError,
            lambda: privacy.unsubscribe_all(deps, caller, channel),
            _consents,
        )

    @strawberry.mutation(
        permission_classes=[IsMember],
        description="Your birthday (Feb 29 allowed): for birthday greetings and gifts.",
    )
    async def set_my_birthday(
        self, info: Info[Context, object], input: BirthdayInput
    ) -> MemberPayload:
        deps, caller = info.context.runtime.members, actor(info)
        return await mutate(
            MemberPayload,
            MemberUserError,
            lambda: birthday.set_my_birthday(deps, caller, input.month, input.day, input.year),
            lambda member: MemberPayload(member=Member.from_domain(member)),
        )

    @strawberry.mutation(
        permission_classes=[IsMember], description="Forget your birthday (no birthday gifts)."
    )
    async def clear_my_birthday(self, info: Info[Context, object]) -> MemberPayload:
        deps, caller = info.context.runtime.members, actor(info)
        return await mutate(
            MemberPayload,
            MemberUserError,
            lambda: birthday.clear_my_birthday(deps, caller),
            lambda member: MemberPayload(member=Member.from_domain(member)),
        )

    @strawberry.mutation(
        permission_classes=[IsMember], description="Everything we hold about you, as JSON."
    )
    async def export_my_data(self, info: Info[Context, object]) -> ExportMyDataPayload:
        deps, caller = info.context.runtime.members, actor(info)
        return await mutate(
            ExportMyDataPayload,
            MemberUserError,
            lambda: privacy.export_member_data(deps, caller),
            lambda document: ExportMyDataPayload(document=cast(JSON, document)),
        )

    @strawberry.mutation(
        permission_classes=[IsMember],
        description="Erase your personal data and log out everywhere. Cannot be undone.",
    )
    async def delete_my_account(
        self, info: Info[Context, object], input: DeleteMyAccountInput
    ) -> DeleteMyAccountPayload:
        deps, caller = info.context.runtime.members, actor(info)
        return await mutate(
            DeleteMyAccountPayload,
            MemberUserError,
            lambda: privacy.delete_account(deps, caller, input.confirm),
            lambda _: DeleteMyAccountPayload(ok=True),
        )
