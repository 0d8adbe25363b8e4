"""Live subscriptions (graphql-transport-ws on /graphql): a store's pickup board, one order,
one group-buy.

Checks run before the stream starts, so a refused subscription gets the protocol's `error`
message with `extensions.code` and no events. A stream that cannot go on (the subscriber fell
behind, the bus lost Redis) ends with SLOW_CONSUMER or LIVE_EVENTS_UNAVAILABLE: the client
refetches what it shows and subscribes again.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from datetime import datetime
from typing import TypeVar
from uuid import UUID

import strawberry
from strawberry.permission import BasePermission
from strawberry.types import Info

from api.context import Context
from api.errors import ApiError
from api.loaders import Loaders
from api.middleware import bearer_principal
from api.permissions import IsAuthenticated
from api.relay import decode_id, encode_id
from api.types.group_buys import GroupBuy
from api.types.orders import Order
from domain.errors import DomainError
from domain.growth.group_buys import get_group, group_topic
from domain.growth.group_buys_model import GroupStatus
from domain.identity.model import Principal, PrincipalKind, StaffRole
from domain.live import Freshness, LiveEvent, LiveEventsError, order_topic, pickup_board_topic
from domain.ordering.board import board_state
from domain.ordering.model import OrderStatus
from domain.ordering.services import sees_store_orders

log = logging.getLogger("omnishelf.api")

T = TypeVar("T")


async def _current_order(info: Info[Context, object], key: UUID) -> Order:
    found = await info.context.loaders.order.load(key)
    if found is None:  # orders are never deleted: an id on the bus names one
        raise ApiError("NOT_FOUND", "No order has this id.")
    return Order.from_domain(found)


@strawberry.type(
    description="An order on a store's pickup board (it shows PREPARING and READY_FOR_PICKUP "
    "pickup orders; any other status takes the order off). A subscription first sends the "
    "board as it is, one event per order with `snapshot: true` (oldest first), then every "
    "change. Clear the board when you subscribe; apply an event for an order only when its "
    "`at` is newer than what you show for it."
)
class PickupBoardEvent:
    order_id: strawberry.ID
    order_number: str
    pickup_number: str | None = strawberry.field(description="What the store calls (A023).")
    status: OrderStatus
    customer_label: str | None = strawberry.field(
        description="The customer's name as a public screen may show it (王**)."
    )
    at: datetime = strawberry.field(description="When the order changed (its updatedAt).")
    snapshot: bool = strawberry.field(
        description="Part of the board's state sent at subscribe time, not a change."
    )
    order_key: strawberry.Private[UUID]

    @strawberry.field(
        description="The order now, for the client's cache (Apollo normalises it as Order:id)."
    )
    async def order(self, info: Info[Context, object]) -> Order:
        return await _current_order(info, self.order_key)

    @classmethod
    def from_domain(cls, event: LiveEvent, snapshot: bool = False) -> PickupBoardEvent:
        p = event.payload
        key = UUID(p["order_id"])
        return cls(
            order_id=encode_id("Order", key),
            order_number=p["order_number"],
            pickup_number=p.get("pickup_number"),
            status=OrderStatus(p["status"]),
            customer_label=p.get("customer_label"),
            at=datetime.fromisoformat(p["at"]),
            snapshot=snapshot,
            order_key=key,
        )


@strawberry.type(
    description="A group-buy changed: a seat was taken, paid or freed, or the "
    "group completed or failed. Refetch `group(id)` for its members."
)
class GroupUpdateEvent:
    group_id: strawberry.ID
    status: GroupStatus
    remaining: int = strawberry.field(description="Paid members still needed.")
    at: datetime
    group_key: strawberry.Private[UUID]

    @strawberry.field(description="The group now, for the client's cache.")
    async def group(self, info: Info[Context, object]) -> GroupBuy | None:
        found = await get_group(info.context.runtime.group_buys, self.group_key)
        return GroupBuy.from_domain(found) if found else None

    @classmethod
    def from_domain(cls, event: LiveEvent) -> GroupUpdateEvent:
        p = event.payload
        key = UUID(p["group_id"])
        return cls(
            group_id=encode_id("GroupBuy", key),
            status=GroupStatus(p["status"]),
            remaining=int(p["remaining"]),
            at=datetime.fromisoformat(p["at"]),
            group_key=key,
        )


@strawberry.type(description="An order's status changed.")
class OrderUpdateEvent:
    order_id: strawberry.ID
    status: OrderStatus
    at: datetime = strawberry.field(description="When the order changed (its updatedAt).")
    order_key: strawberry.Private[UUID]

    @strawberry.field(
        description="The order now, for the client's cache (Apollo normalises it as Order:id)."
    )
    async def order(self, info: Info[Context, object]) -> Order:
        return await _current_order(info, self.order_key)

    @classmethod
    def from_domain(cls, event: LiveEvent) -> OrderUpdateEvent:
        p = event.payload
        key = UUID(p["order_id"])
        return cls(
            order_id=encode_id("Order", key),
            status=OrderStatus(p["status"]),
            at=datetime.fromisoformat(p["at"]),
            order_key=key,
        )


async def _signed_in(info: Info[Context, object]) -> Principal:
    """The caller, authenticated again at every subscribe: a socket opened before a logout,
    a revocation or an erasure starts nothing after it."""
    context = info.context
    if context.principal is None or context.authorization is None:
        raise ApiError("UNAUTHENTICATED", IsAuthenticated.message)
    try:
        context.principal = await bearer_principal(context.runtime, context.authorization)
    except DomainError as error:
        raise ApiError("UNAUTHENTICATED", error.message) from None
    return context.principal


class CanWatchPickupBoard(BasePermission):
    message = "Only the store's own devices and staff, or ADMIN, may watch its pickup board."
    error_extensions = {"code": "FORBIDDEN"}

    async def has_permission(
        self, source: object, info: Info[Context, object], **kwargs: str
    ) -> bool:
        principal = await _signed_in(info)
        location_id = decode_id(kwargs["location_id"], "Location", "locationId")
        if principal.is_admin:
            if await info.context.loaders.location.load(location_id) is None:
                raise ApiError("NOT_FOUND", "No location has this id.")
            return True
        return sees_store_orders(principal, location_id)


class CanFollowGroup(BasePermission):
    message = "Sign in to follow a group-buy."
    error_extensions = {"code": "FORBIDDEN"}

    async def has_permission(
        self, source: object, info: Info[Context, object], **kwargs: str
    ) -> bool:
        await _signed_in(info)  # the share page is public to anyone signed in
        group_id = decode_id(kwargs["group_id"], "GroupBuy", "groupId")
        if await get_group(info.context.runtime.group_buys, group_id) is None:
            raise ApiError("NOT_FOUND", "No group has this id.")
        return True


class CanFollowOrder(BasePermission):
    message = "Only the member who placed the order, staff of its store, CS_AGENT or ADMIN."
    error_extensions = {"code": "FORBIDDEN"}

    async def has_permission(
        self, source: object, info: Info[Context, object], **kwargs: str
    ) -> bool:
        principal = await _signed_in(info)
        order_id = decode_id(kwargs["order_id"], "Order", "orderId")
        access = info.context.runtime.order_access
        parties = await access.order_parties(order_id) if access is not None else None
        if parties is None:
            raise ApiError("NOT_FOUND", "No order has this id.")
        member_id, location_id = parties
        if principal.is_member:
            if principal.id != member_id:  # as for order(id): another's order does not exist
                raise ApiError("NOT_FOUND", "No order has this id.")
            return True
        return principal.has_role(StaffRole.ADMIN, StaffRole.CS_AGENT) or (
            principal.kind is PrincipalKind.STAFF and sees_store_orders(principal, location_id)
        )


@contextlib.asynccontextmanager
async def _live(info: Info[Context, object], topic: str) -> AsyncIterator[AsyncIterator[LiveEvent]]:
    """Subscribe for the block; the bus's failures become coded errors."""
    try:
        async with info.context.runtime.live.subscribe(topic) as events:
            yield events
    except LiveEventsError as error:
        raise ApiError(error.code, error.message) from None


def _fresh_loaders(info: Info[Context, object]) -> None:
    """Each event reads the database as it is when the event is sent: a subscription lives
    for hours, and one dataloader for all of it would serve its first reads for ever."""
    info.context.loaders = Loaders(info.context.runtime.repos, info.context.runtime.clock)


async def _converted(
    info: Info[Context, object],
    events: AsyncIterator[LiveEvent],
    convert: Callable[[LiveEvent], T],
    fresh: Freshness | None = None,
) -> AsyncIterator[T]:
    """Events another version of the app published in a shape we cannot read are skipped, as
    are those `fresh` has seen already."""
    async for event in events:
        try:
            if fresh is not None and not fresh.admit(event):
                continue
            converted = convert(event)
        except (KeyError, ValueError):
            log.warning("unreadable live event skipped", extra={"topic": event.topic})
            continue
        _fresh_loaders(info)
        yield converted


@strawberry.type
class Subscription:
    @strawberry.subscription(
        permission_classes=[CanWatchPickupBoard],
        description="A store's pickup board: first its orders as they are (`snapshot: true`), "
        "then every change. For the store's kiosks, POS and staff, and ADMIN.",
    )
    async def pickup_board(
        self, info: Info[Context, object], location_id: strawberry.ID
    ) -> AsyncGenerator[PickupBoardEvent, None]:
        location = decode_id(location_id, "Location", "locationId")
        # Subscribed first, then the board read: a change committed meanwhile is in the state
        # or in the stream (or both: `Freshness` drops the second copy), never in neither.
        async with _live(info, pickup_board_topic(location)) as events:
            state = await board_state(info.context.runtime.ordering, location)
            fresh = Freshness()
            _fresh_loaders(info)
            for entry in state:
                fresh.admit(entry.event)
                info.context.loaders.order.prime(entry.order.id, entry.order)
            for entry in state:
                yield PickupBoardEvent.from_domain(entry.event, snapshot=True)
            async for event in _converted(info, events, PickupBoardEvent.from_domain, fresh):
                yield event

    @strawberry.subscription(
        permission_classes=[CanFollowOrder],
        description="One order's status changes. For the member who placed it, staff of its "
        "store, CS_AGENT and ADMIN.",
    )
    async def order_updated(
        self, info: Info[Context, object], order_id: strawberry.ID
    ) -> AsyncGenerator[OrderUpdateEvent, None]:
        order = decode_id(order_id, "Order", "orderId")
        async with _live(info, order_topic(order)) as events:
            async for event in _converted(info, events, OrderUpdateEvent.from_domain):
                yield event

    @strawberry.subscription(
        permission_classes=[CanFollowGroup],
        description="A group-buy's changes for its share page (seats, completion, failure). "
        "For anyone signed in.",
    )
    async def group_updated(
        self, info: Info[Context, object], group_id: strawberry.ID
    ) -> AsyncGenerator[GroupUpdateEvent, None]:
        group = decode_id(group_id, "GroupBuy", "groupId")
        async with _live(info, group_topic(group)) as events:
            async for event in _converted(info, events, GroupUpdateEvent.from_domain):
                yield event
