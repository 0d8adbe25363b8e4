"""Live subscriptions (graphql-transport-ws on /graphql): a store's pickup board, one order.

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
from api.middleware import bearer_principal
from api.permissions import IsAuthenticated
from api.relay import decode_id, encode_id
from domain.errors import DomainError
from domain.identity.model import Principal, PrincipalKind, StaffRole
from domain.live import LiveEvent, LiveEventsError, order_topic, pickup_board_topic

log = logging.getLogger("omnishelf.api")

T = TypeVar("T")


@strawberry.type(description="An order changed on a store's pickup board.")
class PickupBoardEvent:
    order_id: strawberry.ID
    order_number: str
    status: str
    customer_label: str | None = strawberry.field(
        description="The customer's name as a public screen may show it (王**)."
    )
    at: datetime

    @classmethod
    def from_domain(cls, event: LiveEvent) -> PickupBoardEvent:
        p = event.payload
        return cls(
            order_id=encode_id("Order", UUID(p["order_id"])),
            order_number=p["order_number"],
            status=p["status"],
            customer_label=p.get("customer_label"),
            at=datetime.fromisoformat(p["at"]),
        )


@strawberry.type(description="An order's status changed.")
class OrderUpdateEvent:
    order_id: strawberry.ID
    status: str
    at: datetime

    @classmethod
    def from_domain(cls, event: LiveEvent) -> OrderUpdateEvent:
        p = event.payload
        return cls(
            order_id=encode_id("Order", UUID(p["order_id"])),
            status=p["status"],
            at=datetime.fromisoformat(p["at"]),
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


def _works_at(principal: Principal, location_id: UUID) -> bool:
    """The store's own staff (manager, clerk) or devices (kiosk, POS)."""
    if principal.kind is PrincipalKind.DEVICE or principal.has_role(
        StaffRole.STORE_MANAGER, StaffRole.STORE_CLERK
    ):
        return location_id in principal.store_ids
    return False


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
        return _works_at(principal, location_id)


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
            principal.kind is PrincipalKind.STAFF and _works_at(principal, location_id)
        )


@contextlib.asynccontextmanager
async def _live(info: Info[Context, object], topic: str) -> AsyncIterator[AsyncIterator[LiveEvent]]:
    """Subscribe for the block; the bus's failures become coded errors."""
    try:
        async with info.context.runtime.live.subscribe(topic) as events:
            yield events
    except LiveEventsError as error:
        raise ApiError(error.code, error.message) from None


async def _converted(
    events: AsyncIterator[LiveEvent], convert: Callable[[LiveEvent], T]
) -> AsyncIterator[T]:
    """Events another version of the app published in a shape we cannot read are skipped."""
    async for event in events:
        try:
            yield convert(event)
        except (KeyError, ValueError):
            log.warning("unreadable live event skipped", extra={"topic": event.topic})


@strawberry.type
class Subscription:
    @strawberry.subscription(
        permission_classes=[CanWatchPickupBoard],
        description="Orders changing on a store's pickup board, as they change. For the store's "
        "kiosks, POS and staff, and ADMIN.",
    )
    async def pickup_board(
        self, info: Info[Context, object], location_id: strawberry.ID
    ) -> AsyncGenerator[PickupBoardEvent, None]:
        location = decode_id(location_id, "Location", "locationId")
        async with _live(info, pickup_board_topic(location)) as events:
            async for event in _converted(events, PickupBoardEvent.from_domain):
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
            async for event in _converted(events, OrderUpdateEvent.from_domain):
                yield event
