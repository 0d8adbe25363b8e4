from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, cast

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from api.context import Context
from api.relay import Node, encode_id
from api.types.coupons import CouponView
from domain.aftersales import member_codes
from domain.aftersales.member_codes import issue_member_code
from domain.identity.model import Principal, PrincipalKind, StaffRole
from domain.live import mask_name
from domain.members import model as m
from domain.members.model import Channel, ConsentPurpose, IdentityKind, MemberStatus, VerifiedBy
from domain.members.services import sorted_identities
from domain.ordering.model import OrderStatus

if TYPE_CHECKING:
    from api.types.aftersales import AfterSaleConnection
    from api.types.assists import AssistTask
    from api.types.automations import AutomationSendConnection
    from api.types.coupons import CouponConnection
    from api.types.desk import StaffNote
    from api.types.facts import MemberFacts, MemberRfm
    from api.types.guides import MemberGuide
    from api.types.orders import OrderConnection
    from api.types.points import Points
    from api.types.referrals import Referrals, ReferralShare
    from api.types.reviews import ReviewConnection
    from api.types.subscriptions import SubscriptionConnection
    from api.types.tags import MemberTag

for _enum in (MemberStatus, Channel, IdentityKind, VerifiedBy, ConsentPurpose):
    strawberry.enum(_enum)


@strawberry.type(description="One identifier of a member, masked (138****5678).")
class MemberIdentity:
    kind: IdentityKind
    app_id: str | None = strawberry.field(description="The mini-program of an openid.")
    masked: str
    verified: bool
    verified_by: VerifiedBy
    linked_at: datetime

    @classmethod
    def from_domain(cls, identity: m.Identity) -> MemberIdentity:
        return cls(
            kind=identity.kind,
            app_id=identity.app_id or None,
            masked=identity.masked,
            verified=identity.verified,
            verified_by=identity.verified_by,
            linked_at=identity.linked_at,
        )


@strawberry.type(description="An unmasked identifier; reading it was written to the PII log.")
class RevealedIdentity:
    kind: IdentityKind
    app_id: str | None
    value: str
    verified: bool


@strawberry.type
class ConsentRecord:
    purpose: ConsentPurpose
    granted: bool
    policy_version: str
    channel: Channel
    recorded_at: datetime

    @classmethod
    def from_domain(cls, record: m.ConsentRecord) -> ConsentRecord:
        return cls(
            purpose=record.purpose,
            granted=record.granted,
            policy_version=record.policy_version,
            channel=record.channel,
            recorded_at=record.recorded_at,
        )


@strawberry.type(description="Where a purpose stands now; no record means not granted.")
class ConsentState:
    purpose: ConsentPurpose
    granted: bool
    policy_version: str | None
    recorded_at: datetime | None


@strawberry.type
class Consents:
    current: list[ConsentState]
    history: list[ConsentRecord]

    @classmethod
    def from_domain(cls, records: list[m.ConsentRecord]) -> Consents:
        latest = m.current_consents(records)
        return cls(
            current=[
                ConsentState(
                    purpose=p,
                    granted=bool(latest.get(p) and latest[p].granted),
                    policy_version=latest[p].policy_version if p in latest else None,
                    recorded_at=latest[p].recorded_at if p in latest else None,
                )
                for p in ConsentPurpose
            ],
            history=[ConsentRecord.from_domain(r) for r in records],
        )


@strawberry.type(description="A member code to show at the till.")
class MemberCode:
    code: str = strawberry.field(description="42 characters of A-Z and 2-7.")
    expires_at: datetime

    @classmethod
    def from_domain(cls, code: member_codes.MemberCode) -> MemberCode:
        return cls(code=code.code, expires_at=code.expires_at)


@strawberry.type(description="A member's birthday; the year only if they gave it.")
class Birthday:
    month: int
    day: int
    year: int | None

    @classmethod
    def from_domain(cls, birthday: m.Birthday) -> Birthday:
        return cls(month=birthday.month, day=birthday.day, year=birthday.year)


@strawberry.type(description="A person, across every channel and identifier (OneID).")
class Member(Node):
    display_name: str
    status: MemberStatus
    created_channel: Channel
    created_at: datetime
    key: strawberry.Private[Any]
    merged_into_key: strawberry.Private[Any]
    born: strawberry.Private[m.Birthday | None]
    # Looked up at the till with the member's code: the till may see their points.
    shown_code: strawberry.Private[bool] = False

    @classmethod
    def from_domain(cls, member: m.Member) -> Member:
        return cls(
            id=encode_id("Member", member.id),
            display_name=member.display_name,
            status=member.status,
            created_channel=member.created_channel,
            created_at=member.created_at,
            key=member.id,
            merged_into_key=member.merged_into,
            born=member.birthday,
        )

    @classmethod
    def for_viewer(cls, member: m.Member, viewer: Principal | None) -> Member:
        """As `from_domain`; an integration key (members:read) sees the name masked (王**), as
        every identifier is for everyone (138****5678)."""
        shown = cls.from_domain(member)
        if viewer is not None and viewer.kind is PrincipalKind.API_KEY:
            shown.display_name = mask_name(member.display_name) or ""
        return shown

    @strawberry.field(description="The birthday, if given (the member, and staff with PII access).")
    def birthday(self, info: Info[Context, Any]) -> Birthday | None:
        actor = info.context.principal
        if self.born is None or actor is None:
            return None
        if (actor.is_member and actor.id == self.key) or actor.has_pii_access:
            return Birthday.from_domain(self.born)
        return None

    @strawberry.field(
        description="The loyalty tier (MEMBER, SILVER...): the same as `points { tier { name } }`."
    )
    async def tier(self, info: Info[Context, Any]) -> str:
        account = await info.context.loaders.points_account.load(self.key)
        return info.context.runtime.loyalty.policy.tier_of(account)

    @strawberry.field(description="Every identifier of the member, masked.")
    async def identities(self, info: Info[Context, Any]) -> list[MemberIdentity]:
        found = await info.context.loaders.identities_by_member.load(self.key)
        return [MemberIdentity.from_domain(i) for i in sorted_identities(found)]

    @strawberry.field(description="Consent per purpose now, and every change.")
    async def consents(self, info: Info[Context, Any]) -> Consents:
        return Consents.from_domain(await info.context.loaders.consents_by_member.load(self.key))

    @strawberry.field(description="Orders of the member, newest first (the member and CS).")
    async def orders(
        self,
        info: Info[Context, Any],
        first: int | None = None,
        after: str | None = None,
        status: list[OrderStatus] | None = None,
    ) -> Annotated[OrderConnection, strawberry.lazy("api.types.orders")] | None:
        from api.arguments import page_args as _page
        from api.order_queries import list_orders

        actor = info.context.principal
        if actor is None or not (
            (actor.is_member and actor.id == self.key) or actor.has_pii_access
        ):
            return None
        return await list_orders(
            info, _page(first, after), member_id=self.key, statuses=tuple(status or ())
        )

    @strawberry.field(description="After-sales of the member, newest first (the member and CS).")
    async def after_sales(
        self,
        info: Info[Context, Any],
        first: int | None = None,
        after: str | None = None,
    ) -> Annotated[AfterSaleConnection, strawberry.lazy("api.types.aftersales")] | None:
        from api.arguments import page_args as _page
        from api.types.aftersales import AfterSale, AfterSaleConnection
        from domain.aftersales.services import after_sales_of_member

        actor = info.context.principal
        if actor is None or not (
            (actor.is_member and actor.id == self.key) or actor.has_pii_access
        ):
            return None
        deps = info.context.runtime.aftersales
        page = await after_sales_of_member(deps, self.key, _page(first, after))
        return AfterSaleConnection.from_page(page, AfterSale.from_domain)

    @strawberry.field(
        description="Points and tier (the member, CS, and the till that looked the member up "
        "with their member code)."
    )
    async def points(
        self, info: Info[Context, Any]
    ) -> Annotated[Points, strawberry.lazy("api.types.points")] | None:
        from api.types.points import Points
        from domain.loyalty.services import summary

        actor = info.context.principal
        if actor is None or not (
            (actor.is_member and actor.id == self.key) or actor.has_pii_access or self.shown_code
        ):
            return None
        deps = info.context.runtime.loyalty
        return Points.from_domain(await summary(deps, self.key), deps.policy.tiers)

    @strawberry.field(description="Subscriptions with their next deliveries (member and CS).")
    async def subscriptions(
        self, info: Info[Context, Any], first: int | None = None, after: str | None = None
    ) -> Annotated[SubscriptionConnection, strawberry.lazy("api.types.subscriptions")] | None:
        from api.arguments import page_args as _page
        from api.types.subscriptions import Subscription, SubscriptionConnection

        actor = info.context.principal
        if actor is None or not (
            (actor.is_member and actor.id == self.key) or actor.has_pii_access
        ):
            return None
        page = await info.context.runtime.repos.subscriptions.for_member(
            self.key, _page(first, after)
        )
        return SubscriptionConnection.from_page(page, Subscription.from_domain)

    @strawberry.field(description="Reviews the member wrote, in every state, newest first.")
    async def reviews(
        self, info: Info[Context, Any], first: int | None = None, after: str | None = None
    ) -> Annotated[ReviewConnection, strawberry.lazy("api.types.reviews")] | None:
        from api.arguments import page_args as _page
        from api.types.reviews import Review, ReviewConnection

        actor = info.context.principal
        if actor is None or not (
            (actor.is_member and actor.id == self.key) or actor.has_pii_access
        ):
            return None
        page = await info.context.runtime.repos.reviews.for_member(self.key, _page(first, after))
        return ReviewConnection.from_page(page, Review.from_domain)

    @strawberry.field(
        description="Coupons, newest first (the member and CS): AVAILABLE (also those held by "
        "an unpaid order) while valid, USED, or EXPIRED; each says what it takes off. The till "
        "that looked the member up with their member code sees the AVAILABLE ones."
    )
    async def coupons(
        self,
        info: Info[Context, Any],
        status: CouponView = CouponView.AVAILABLE,
        first: int | None = None,
        after: str | None = None,
    ) -> Annotated[CouponConnection, strawberry.lazy("api.types.coupons")] | None:
        from api.arguments import page_args as _page
        from api.types.coupons import Coupon, CouponConnection
        from domain.promotions.coupons import coupons_of_member

        actor = info.context.principal
        till = self.shown_code and status is CouponView.AVAILABLE  # the member's consent
        if actor is None or not (
            (actor.is_member and actor.id == self.key) or actor.has_pii_access or till
        ):
            return None
        deps = info.context.runtime.coupons
        page = await coupons_of_member(deps, self.key, status, _page(first, after))
        return CouponConnection.from_page(page, Coupon.from_pair)

    @strawberry.field(
        description="Friend-assist (助力) tasks the member started, newest first (the member "
        "and CS)."
    )
    async def assist_tasks(
        self, info: Info[Context, Any]
    ) -> list[Annotated[AssistTask, strawberry.lazy("api.types.assists")]] | None:
        from api.types.assists import AssistTask
        from domain.growth.assists import tasks_of_member

        actor = info.context.principal
        if actor is None or not (
            (actor.is_member and actor.id == self.key) or actor.has_pii_access
        ):
            return None
        views = await tasks_of_member(info.context.runtime.assists, self.key)
        return [AssistTask.from_domain(v) for v in views]

    @strawberry.field(
        description="The member's referral code and share payload (老带新; only the member)."
    )
    async def referral(
        self, info: Info[Context, Any]
    ) -> Annotated[ReferralShare, strawberry.lazy("api.types.referrals")] | None:
        from api.types.referrals import ReferralShare
        from domain.growth.referrals import share

        actor = info.context.principal
        if actor is None or not (actor.is_member and actor.id == self.key):
            return None
        return ReferralShare.from_domain(await share(info.context.runtime.referrals, self.key))

    @strawberry.field(
        description="The member's exclusive shopping guide (导购): the member sees the name; "
        "CS, ADMIN and staff of the guide's store see the guide and the store; null otherwise."
    )
    async def guide(
        self, info: Info[Context, Any]
    ) -> Annotated[MemberGuide, strawberry.lazy("api.types.guides")] | None:
        from api.types.guides import MemberGuide
        from domain.growth.guides import visible_guide

        actor = info.context.principal
        loaded = await info.context.loaders.guide_of_member.load(self.key)
        found = visible_guide(actor, self.key, loaded)
        if found is None:
            return None
        return MemberGuide.from_domain(found, staff=actor is not None and not actor.is_member)

    @strawberry.field(
        description="Whom the member invited (counts and the latest), and who invited them: "
        "the member, and CS (who also see refused invitations with their reasons)."
    )
    async def referrals(
        self, info: Info[Context, Any]
    ) -> Annotated[Referrals, strawberry.lazy("api.types.referrals")] | None:
        from api.types.referrals import Referrals
        from domain.growth.referrals import member_referrals, summary

        actor = info.context.principal
        deps = info.context.runtime.referrals
        if actor is not None and actor.is_member and actor.id == self.key:
            return Referrals.from_domain(await summary(deps, self.key), cs=False)
        if actor is None or not actor.has_role(StaffRole.ADMIN, StaffRole.CS_AGENT):
            return None
        return Referrals.from_domain(await member_referrals(deps, actor, self.key), cs=True)

    @strawberry.field(
        description="What engagement automations did to the member (a grant, a message, or "
        "why not), newest first, each naming its automation: CS and ADMIN; null otherwise."
    )
    async def automation_sends(
        self, info: Info[Context, Any], first: int | None = None, after: str | None = None
    ) -> Annotated[AutomationSendConnection, strawberry.lazy("api.types.automations")] | None:
        from api.arguments import page_args
        from api.types.automations import AutomationSend, AutomationSendConnection
        from domain.engagement.automations import sends_to_member

        actor = info.context.principal
        if actor is None or not actor.has_role(StaffRole.ADMIN, StaffRole.CS_AGENT):
            return None
        deps = info.context.runtime.automations
        page = await sends_to_member(deps, self.key, page_args(first, after))
        return AutomationSendConnection.from_page(page, AutomationSend.from_domain)

    async def _staff_may_note(self, info: Info[Context, Any]) -> bool:
        """Who reads the member's notes and tags (domain/aftersales/desk.py `may_note_member`):
        the stores the member ordered at are loaded only for staff."""
        from domain.aftersales.desk import may_note_member

        actor = info.context.principal
        if actor is None or actor.kind is not PrincipalKind.STAFF:
            return False
        stores = await info.context.loaders.order_stores_of_member.load(self.key)
        return may_note_member(actor, stores)

    @strawberry.field(
        description="Internal notes, oldest first: staff only (CS and ADMIN; store staff if "
        "the member has orders at one of their stores); never the member."
    )
    async def notes(
        self, info: Info[Context, Any]
    ) -> list[Annotated[StaffNote, strawberry.lazy("api.types.desk")]] | None:
        from api.types.desk import StaffNote

        if not await self._staff_may_note(info):
            return None
        found = await info.context.loaders.notes_by_subject.load(self.key)
        return [StaffNote.from_domain(n) for n in found]

    @strawberry.field(
        description="The member's tags, oldest first: staff who may read the member's notes "
        "(CS, ADMIN, staff of a store the member ordered at); null for anyone else, the member "
        "included."
    )
    async def tags(
        self, info: Info[Context, Any]
    ) -> list[Annotated[MemberTag, strawberry.lazy("api.types.tags")]] | None:
        from api.types.tags import MemberTag

        if not await self._staff_may_note(info):
            return None
        found = await info.context.loaders.tags_of_member.load(self.key)
        return [MemberTag.from_domain(member_tag, tag) for member_tag, tag in found]

    @strawberry.field(
        description="What the member's orders, points and consents say (CS and ADMIN; null "
        "for others, or before the member's facts are first built)."
    )
    async def facts(
        self, info: Info[Context, Any]
    ) -> Annotated[MemberFacts, strawberry.lazy("api.types.facts")] | None:
        from api.types.facts import MemberFacts
        from domain.engagement.facts import may_see_facts

        if not may_see_facts(info.context.principal):
            return None
        found = await info.context.loaders.facts_of_member.load(self.key)
        now = info.context.runtime.clock.now()
        return MemberFacts.from_domain(found, now) if found else None

    @strawberry.field(
        description="RFM scores and segment (CS and ADMIN; null without an order in 365 days "
        "at the last nightly scoring)."
    )
    async def rfm(
        self, info: Info[Context, Any]
    ) -> Annotated[MemberRfm, strawberry.lazy("api.types.facts")] | None:
        from api.types.facts import MemberRfm
        from domain.engagement.facts import may_see_facts

        if not may_see_facts(info.context.principal):
            return None
        found = await info.context.loaders.facts_of_member.load(self.key)
        return MemberRfm.from_domain(found) if found else None

    @strawberry.field(
        description="Merges into and out of this member, oldest first (CS and ADMIN)."
    )
    async def merge_history(self, info: Info[Context, Any]) -> list[MemberMerge] | None:
        actor = info.context.principal
        if actor is None or not actor.has_pii_access:
            return None
        found = await info.context.runtime.repos.members.merges_of(self.key)
        return [MemberMerge.from_domain(x) for x in found]

    @strawberry.field(
        description="The member's own code for the till, valid for a minute (show it as a QR "
        "code or barcode; ask again when it expires): the till sees the member's points and "
        "may spend them on one sale. Only the member reads it."
    )
    def member_code(self, info: Info[Context, Any]) -> MemberCode | None:
        actor = info.context.principal
        if actor is None or not (actor.is_member and actor.id == self.key):
            return None
        issued = issue_member_code(info.context.runtime.member_codes, self.key)
        return MemberCode.from_domain(issued)

    @strawberry.field(description="The member this one was merged into (MERGED only).")
    async def merged_into(self, info: Info[Context, Any]) -> Member | None:
        if self.merged_into_key is None:
            return None
        found = await info.context.loaders.member.load(self.merged_into_key)
        return Member.from_domain(found) if found else None


@strawberry.type
class MemberMerge:
    id: strawberry.ID
    source_member_id: strawberry.ID
    target_member_id: strawberry.ID
    reason: str
    actor: str
    moved: JSON
    created_at: datetime | None

    @strawberry.field(description="Who merged, readable: a staff username, `member`, `system`.")
    async def actor_name(self, info: Info[Context, Any]) -> str:
        return await info.context.loaders.actor_name.load(self.actor)

    @classmethod
    def from_domain(cls, merge: m.MemberMerge) -> MemberMerge:
        return cls(
            id=encode_id("MemberMerge", merge.id),
            source_member_id=encode_id("Member", merge.source_member_id),
            target_member_id=encode_id("Member", merge.target_member_id),
            reason=merge.reason,
            actor=merge.actor,
            moved=cast(JSON, merge.moved),
            created_at=merge.created_at,
        )


@strawberry.type(description="Who read whose personal data unmasked, when and why.")
class PiiAccessEntry:
    actor: str
    member_id: strawberry.ID
    kinds: list[str]
    reason: str
    created_at: datetime

    @strawberry.field(description="Who read it, readable: the staff username.")
    async def actor_name(self, info: Info[Context, Any]) -> str:
        return await info.context.loaders.actor_name.load(self.actor)

    @classmethod
    def from_domain(cls, entry: m.PiiAccess) -> PiiAccessEntry:
        return cls(
            actor=entry.actor,
            member_id=encode_id("Member", entry.member_id),
            kinds=entry.kinds,
            reason=entry.reason,
            created_at=entry.created_at,
        )


strawberry.enum(m.CandidateState, name="MergeCandidateState")


@strawberry.type(
    description="A phone proven by `claimant` but held by `holder`, an account with its own "
    "WeChat/Alipay/Douyin identity: one person, or a recycled number. "
    "resolveMergeCandidate decides."
)
class MergeCandidate:
    id: strawberry.ID
    claimant_id: strawberry.ID
    holder_id: strawberry.ID
    phone_masked: str
    verified_by: str
    state: m.CandidateState
    created_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    reason: str

    @classmethod
    def from_domain(cls, c: m.MergeCandidate) -> MergeCandidate:
        return cls(
            id=encode_id("MergeCandidate", c.id),
            claimant_id=encode_id("Member", c.claimant_id),
            holder_id=encode_id("Member", c.holder_id),
            phone_masked=c.masked,
            verified_by=c.verified_by.value,
            state=c.state,
            created_at=c.created_at,
            decided_by=c.decided_by,
            decided_at=c.decided_at,
            reason=c.reason,
        )
