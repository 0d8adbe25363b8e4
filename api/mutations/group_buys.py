"""Group-buys: ADMIN runs campaigns; members open and join groups (domain/growth/group_buys.py).
Each seat is an order the member pays with `payOrder`."""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

import strawberry
from strawberry.types import Info

from api.context import Context
from api.errors import GrowthUserError
from api.mutations import actor, mutate
from api.mutations.orders import FulfilmentInput
from api.permissions import IsAdmin, IsMember
from api.relay import decode_id
from api.types.group_buys import GroupBuy, GroupBuyCampaign
from api.types.orders import Order
from domain.growth import group_buys
from domain.growth.group_buys import CampaignTerms, Where
from domain.growth.group_buys_model import MAX_LOCATIONS
from domain.growth.group_buys_model import Group as DomainGroup
from domain.ordering.checkout import DeliveryTo
from domain.ordering.model import Order as DomainOrder


@strawberry.input
class CreateGroupBuyCampaignInput:
    variant_id: strawberry.ID
    price: int = strawberry.field(description="Group price per unit in fen, below list price.")
    group_size: int = strawberry.field(description="Paid members a group needs (2 or more).")
    time_limit_minutes: int = strawberry.field(description="A group's time to complete.")
    per_member_limit: int = strawberry.field(description="Seats one member may hold.")
    starts_at: datetime
    ends_at: datetime
    units_offered: int
    location_ids: list[strawberry.ID] = strawberry.field(
        default_factory=list, description=f"Pickup stores (at most {MAX_LOCATIONS})."
    )
    delivery: bool = strawberry.field(default=False, description="Delivery orders too.")
    idempotency_key: str | None = None

    def to_terms(self) -> CampaignTerms:
        ids = self.location_ids[: MAX_LOCATIONS + 1]  # enough for the domain to refuse
        return CampaignTerms(
            variant_id=decode_id(self.variant_id, "Variant", "variantId"),
            price=self.price,
            group_size=self.group_size,
            time_limit=timedelta(minutes=self.time_limit_minutes),
            per_member_limit=self.per_member_limit,
            starts_at=self.starts_at,
            ends_at=self.ends_at,
            units_offered=self.units_offered,
            location_ids=tuple(
                decode_id(x, "Location", ["locationIds", str(n)]) for n, x in enumerate(ids)
            ),
            delivery=self.delivery,
        )


@strawberry.input
class CancelGroupBuyCampaignInput:
    id: strawberry.ID
    reason: str


@strawberry.input
class OpenGroupInput:
    campaign_id: strawberry.ID
    fulfilment: FulfilmentInput
    coupon_ids: list[strawberry.ID] = strawberry.field(
        default_factory=list,
        description="The member's coupons, off the group price as in placeOrder: held for "
        "the seat's order, used when it is paid, given back if it is cancelled (also when the "
        "group fails).",
    )
    idempotency_key: str | None = None


@strawberry.input
class JoinGroupInput:
    group_id: strawberry.ID
    fulfilment: FulfilmentInput
    coupon_ids: list[strawberry.ID] = strawberry.field(
        default_factory=list,
        description="The member's coupons, off the group price as in placeOrder: held for "
        "the seat's order, used when it is paid, given back if it is cancelled (also when the "
        "group fails).",
    )
    idempotency_key: str | None = None


@strawberry.type
class GroupBuyCampaignPayload:
    campaign: GroupBuyCampaign | None = None
    errors: list[GrowthUserError] = strawberry.field(default_factory=list)


@strawberry.type
class GroupSeatPayload:
    group: GroupBuy | None = None
    order: Order | None = strawberry.field(
        default=None, description="The member's order at the group price: pay it with payOrder."
    )
    errors: list[GrowthUserError] = strawberry.field(default_factory=list)


def _where(fulfilment: FulfilmentInput) -> Where:
    pickup, delivery = fulfilment.pickup, fulfilment.delivery
    return Where(
        pickup_location_id=(
            decode_id(pickup.location_id, "Location", ["fulfilment", "pickup", "locationId"])
            if pickup
            else None
        ),
        delivery=(
            DeliveryTo(delivery.address, delivery.latitude, delivery.longitude)
            if delivery
            else None
        ),
    )


def _coupons(ids: list[strawberry.ID]) -> list[UUID]:
    return [decode_id(x, "Coupon", ["couponIds", str(n)]) for n, x in enumerate(ids)]


def _seat(found: tuple[DomainGroup, DomainOrder]) -> GroupSeatPayload:
    group, order = found
    return GroupSeatPayload(group=GroupBuy.from_domain(group), order=Order.from_domain(order))


@strawberry.type
class GroupBuyMutations:
    @strawberry.mutation(
        permission_classes=[IsAdmin], description="ADMIN: start a group-buy campaign (拼团)."
    )
    async def create_group_buy_campaign(
        self, info: Info[Context, object], input: CreateGroupBuyCampaignInput
    ) -> GroupBuyCampaignPayload:
        deps, caller = info.context.runtime.group_buys, actor(info)
        return await mutate(
            GroupBuyCampaignPayload,
            GrowthUserError,
            lambda: group_buys.create_campaign(
                deps, caller, input.to_terms(), input.idempotency_key
            ),
            lambda c: GroupBuyCampaignPayload(campaign=GroupBuyCampaign.from_domain(c)),
        )

    @strawberry.mutation(
        permission_classes=[IsAdmin],
        description="ADMIN: no new group opens; open groups run to their end.",
    )
    async def cancel_group_buy_campaign(
        self, info: Info[Context, object], input: CancelGroupBuyCampaignInput
    ) -> GroupBuyCampaignPayload:
        deps, caller = info.context.runtime.group_buys, actor(info)
        return await mutate(
            GroupBuyCampaignPayload,
            GrowthUserError,
            lambda: group_buys.cancel_campaign(
                deps, caller, decode_id(input.id, "GroupBuyCampaign", "id"), input.reason
            ),
            lambda c: GroupBuyCampaignPayload(campaign=GroupBuyCampaign.from_domain(c)),
        )

    @strawberry.mutation(
        permission_classes=[IsMember],
        description="A member opens a group and takes its first seat: an order at the group "
        "price to pay with payOrder.",
    )
    async def open_group(
        self, info: Info[Context, object], input: OpenGroupInput
    ) -> GroupSeatPayload:
        deps, caller = info.context.runtime.group_buys, actor(info)
        return await mutate(
            GroupSeatPayload,
            GrowthUserError,
            lambda: group_buys.open_group(
                deps,
                caller,
                decode_id(input.campaign_id, "GroupBuyCampaign", "campaignId"),
                _where(input.fulfilment),
                input.idempotency_key,
                _coupons(input.coupon_ids),
            ),
            _seat,
        )

    @strawberry.mutation(
        permission_classes=[IsMember],
        description="A member takes a seat in an open group (GROUP_FULL once every seat is "
        "held): an order at the group price to pay with payOrder.",
    )
    async def join_group(
        self, info: Info[Context, object], input: JoinGroupInput
    ) -> GroupSeatPayload:
        deps, caller = info.context.runtime.group_buys, actor(info)
        return await mutate(
            GroupSeatPayload,
            GrowthUserError,
            lambda: group_buys.join_group(
                deps,
                caller,
                decode_id(input.group_id, "GroupBuy", "groupId"),
                _where(input.fulfilment),
                input.idempotency_key,
                _coupons(input.coupon_ids),
            ),
            _seat,
        )
