"""Group-buys (growth): campaigns and groups as the share page and ADMIN see them."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.types import Info

from api.context import Context
from api.relay import Node, encode_id
from api.types.catalog import Money, money_of
from domain.growth import group_buys_model as m
from domain.growth.group_buys_model import GroupStatus

if TYPE_CHECKING:
    from api.types.catalog import Variant

strawberry.enum(GroupStatus)


@strawberry.type(description="A group-buy campaign (拼团): a variant at a group price for groups.")
class GroupBuyCampaign(Node):
    price: Money = strawberry.field(description="What each member of a group pays per unit.")
    group_size: int = strawberry.field(description="Paid members a group needs to complete.")
    time_limit_minutes: int = strawberry.field(
        description="From a group's opening to its failure when not complete."
    )
    per_member_limit: int = strawberry.field(description="Seats one member may hold.")
    location_ids: list[strawberry.ID] = strawberry.field(description="Pickup at these stores.")
    delivery: bool = strawberry.field(description="Delivery orders are offered.")
    starts_at: datetime
    ends_at: datetime
    units_offered: int
    units_taken: int = strawberry.field(
        description="A group's size for each group open or complete (a failed one gives its "
        "units back)."
    )
    cancelled_at: datetime | None
    cancel_reason: str | None
    created_at: datetime
    variant_key: strawberry.Private[Any]

    @classmethod
    def from_domain(cls, c: m.GroupBuyCampaign) -> GroupBuyCampaign:
        return cls(
            id=encode_id("GroupBuyCampaign", c.id),
            price=money_of(c.price, c.currency),
            group_size=c.group_size,
            time_limit_minutes=int(c.time_limit.total_seconds() // 60),
            per_member_limit=c.per_member_limit,
            location_ids=[encode_id("Location", x) for x in c.location_ids],
            delivery=c.delivery,
            starts_at=c.starts_at,
            ends_at=c.ends_at,
            units_offered=c.units_offered,
            units_taken=c.units_taken,
            cancelled_at=c.cancelled_at,
            cancel_reason=c.cancel_reason,
            created_at=c.created_at,
            variant_key=c.variant_id,
        )

    @strawberry.field
    async def variant(
        self, info: Info[Context, Any]
    ) -> Annotated[Variant, strawberry.lazy("api.types.catalog")] | None:
        from api.types.catalog import Variant

        found = await info.context.loaders.variant.load(self.variant_key)
        return Variant.from_domain(found) if found else None


@strawberry.type(description="A member of a group as the share page shows them.")
class GroupMember:
    label: str = strawberry.field(description="The member's display name, masked (王**).")
    leader: bool
    paid: bool
    joined_at: datetime


@strawberry.type(description="One group of a group-buy: its members, seats to pay and end.")
class GroupBuy(Node):
    status: GroupStatus
    size: int
    remaining: int = strawberry.field(description="Paid members still needed (0 unless OPEN).")
    seats_taken: int = strawberry.field(description="Seats held by orders, paid or not.")
    expires_at: datetime = strawberry.field(description="When an OPEN group fails.")
    opened_at: datetime
    closed_at: datetime | None = strawberry.field(description="When it completed or failed.")
    members: list[GroupMember]
    campaign_id: strawberry.ID

    @classmethod
    def from_domain(cls, g: m.Group) -> GroupBuy:
        return cls(
            id=encode_id("GroupBuy", g.id),
            status=g.status,
            size=g.size,
            remaining=g.remaining,
            seats_taken=g.seats_taken,
            expires_at=g.expires_at,
            opened_at=g.opened_at,
            closed_at=g.closed_at,
            members=[
                GroupMember(
                    label=s.label,
                    leader=s.leader,
                    paid=s.status is m.SeatStatus.PAID,
                    joined_at=s.joined_at,
                )
                for s in g.seats
                if s.status is not m.SeatStatus.CANCELLED
            ],
            campaign_id=encode_id("GroupBuyCampaign", g.campaign_id),
        )
