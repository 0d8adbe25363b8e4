"""Member facts and RFM (engagement): for CS and ADMIN."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from strawberry.types import Info

from api.context import Context
from api.types.locations import Location
from domain.engagement.facts_model import MemberFacts as Facts
from domain.engagement.rfm import RfmSegment

strawberry.enum(RfmSegment)


@strawberry.type(
    description="What the member's orders, points, consents and activity say, kept current by "
    "their orders and rebuilt nightly. Money in fen; windows end now."
)
class MemberFacts:
    first_order_at: datetime | None
    last_order_at: datetime | None
    orders_30: int
    orders_90: int
    orders_365: int
    spend_30: int
    spend_90: int
    spend_365: int
    avg_order_value: int = strawberry.field(description="spend_365 / orders_365 (fen).")
    preferred_channel: str | None
    tier: str | None
    points_balance: int
    birthday: str | None = strawberry.field(description="MM-DD; not recorded yet: always null.")
    marketing_sms: bool = strawberry.field(description="The latest MARKETING_SMS consent.")
    marketing_wechat: bool = strawberry.field(description="The latest MARKETING_WECHAT consent.")
    referrals_count: int = strawberry.field(description="Invitations rewarded (as referrer).")
    group_buys_count: int = strawberry.field(description="Group-buy seats paid.")
    updated_at: datetime
    preferred_store_id: strawberry.Private[Any]
    facts: strawberry.Private[Facts]
    now: strawberry.Private[datetime]

    @strawberry.field(
        description="Days since the last order, on the preferred store's wall clock "
        "(Asia/Shanghai when none): computed at read."
    )
    async def last_order_days(self, info: Info[Context, Any]) -> int | None:
        store = None
        if self.preferred_store_id is not None:
            store = await info.context.loaders.location.load(self.preferred_store_id)
        return self.facts.last_order_days(self.now, store)

    @strawberry.field(description="The store of most orders in 365 days (then the latest).")
    async def preferred_store(self, info: Info[Context, Any]) -> Location | None:
        if self.preferred_store_id is None:
            return None
        found = await info.context.loaders.location.load(self.preferred_store_id)
        return Location.from_domain(found) if found else None

    @classmethod
    def from_domain(cls, facts: Facts, now: datetime) -> MemberFacts:
        return cls(
            first_order_at=facts.first_order_at,
            last_order_at=facts.last_order_at,
            orders_30=facts.orders_30,
            orders_90=facts.orders_90,
            orders_365=facts.orders_365,
            spend_30=facts.spend_30,
            spend_90=facts.spend_90,
            spend_365=facts.spend_365,
            avg_order_value=facts.avg_order_value,
            preferred_channel=facts.preferred_channel,
            tier=facts.tier,
            points_balance=facts.points_balance,
            birthday=facts.birthday,
            marketing_sms=facts.marketing_sms,
            marketing_wechat=facts.marketing_wechat,
            referrals_count=facts.referrals_count,
            group_buys_count=facts.group_buys_count,
            updated_at=facts.updated_at,
            preferred_store_id=facts.preferred_store_id,
            facts=facts,
            now=now,
        )


@strawberry.type(
    description="Recency, frequency and monetary scores 1-5 (quintiles over members with an "
    "order in 365 days, recomputed nightly) and the segment they make."
)
class MemberRfm:
    r_score: int
    f_score: int
    m_score: int
    segment: RfmSegment

    @classmethod
    def from_domain(cls, facts: Facts) -> MemberRfm | None:
        if None in (facts.r_score, facts.f_score, facts.m_score) or facts.rfm_segment is None:
            return None
        assert facts.r_score and facts.f_score and facts.m_score
        return cls(
            r_score=facts.r_score,
            f_score=facts.f_score,
            m_score=facts.m_score,
            segment=RfmSegment(facts.rfm_segment),
        )


@strawberry.type(description="Members in one RFM segment.")
class RfmSegmentCount:
    segment: RfmSegment
    members: int
