"""Order reads: the owner, staff of the fulfilling store, and customer service."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated, Any
from zoneinfo import ZoneInfo

import strawberry
from strawberry.types import Info

from api.arguments import id_arg as _id
from api.arguments import page_args as _page
from api.arguments import top_level_error as _top
from api.context import Context
from api.errors import ApiError
from api.lookahead import fields
from api.permissions import CanReadOrders, CanSeePickupQueue, IsAuthenticated
from api.types.orders import LineGoods, Order, OrderConnection
from domain.errors import DomainError
from domain.identity.model import ApiScope, PrincipalKind
from domain.locations.model import DEFAULT_TIMEZONE
from domain.ordering.model import OPEN, OrderStatus
from domain.ordering.model import Order as DomainOrder
from domain.ordering.services import may_read
from domain.pagination import PageRequest

if TYPE_CHECKING:
    from api.types.subscriptions import SubscriptionPlan


async def list_orders(
    info: Info[Context, object], page: PageRequest, **where: Any
) -> OrderConnection:
    try:
        result = await info.context.runtime.repos.orders.search(page, **where)
    except DomainError as error:
        raise _top(error) from None
    goods = await prefetch_lines(info, result.items)
    return OrderConnection.from_page(result, lambda order: Order.from_domain(order, goods))


async def prefetch_lines(info: Info[Context, object], orders: Sequence[DomainOrder]) -> LineGoods:
    """When the query asks for the lines' variants or products, read them for every line of
    the page at once and hand them to the lines, which then resolve them synchronously: no
    coroutine, task or DataLoader future per line (20 orders of a few lines made a hundred)."""
    wanted = _linefields(info.selected_fields)
    lines = [line for order in orders for line in order.lines]
    catalog = info.context.runtime.repos.catalog
    variant_ids = list({x.variant_id for x in lines}) if "variant" in wanted else []
    asks_products = wanted & {"product", "variant.product"}
    product_ids = list({x.product_id for x in lines}) if asks_products else []
    found_variants, found_products = await asyncio.gather(
        catalog.get_variants(variant_ids) if variant_ids else _none(),
        catalog.get_products(product_ids) if product_ids else _none(),
    )
    return LineGoods({v.id: v for v in found_variants}, {p.id: p for p in found_products})


async def _none() -> Sequence[Any]:
    return ()


def _linefields(selections: Sequence[Any]) -> set[str]:
    """What is selected under any `lines` field in this selection: `variant`, `product`,
    `variant.product`, ..."""
    found: set[str] = set()
    for selection in selections:
        children = getattr(selection, "selections", None) or []
        if getattr(selection, "name", None) == "lines":
            for child in fields(children):
                found.add(child.name)
                found.update(f"{child.name}.{c.name}" for c in fields(child.selections))
        found |= _linefields(children)
    return found


@strawberry.type
class OrderQueries:
    @strawberry.field(description="Subscription plans on offer.")
    async def subscription_plans(
        self, info: Info[Context, object]
    ) -> list[Annotated[SubscriptionPlan, strawberry.lazy("api.types.subscriptions")]]:
        from api.types.subscriptions import SubscriptionPlan

        plans = await info.context.runtime.repos.subscriptions.list_plans(active_only=True)
        return [SubscriptionPlan.from_domain(p) for p in plans]

    @strawberry.field(
        permission_classes=[IsAuthenticated],
        description="An order: its member, staff of the fulfilling store, CS and ADMIN.",
    )
    async def order(self, info: Info[Context, object], id: strawberry.ID) -> Order | None:
        principal = info.context.principal
        if (
            principal
            and principal.kind is PrincipalKind.API_KEY
            and not principal.has_scope(ApiScope.ORDERS_READ)
        ):
            raise ApiError("FORBIDDEN", "API keys need the orders:read scope to read orders.")
        found = await info.context.runtime.repos.orders.get(_id(id, "Order", "id"))
        return (
            Order.from_domain(found) if found and may_read(info.context.principal, found) else None
        )

    @strawberry.field(
        permission_classes=[CanReadOrders],
        description="CS and API keys with orders:read: every store's orders, optionally of one "
        "member, one store, some statuses or one pickup number (A023: the number a store "
        "called, newest day first); newest first. With `updatedSince`, the orders changed "
        "since then, oldest change first: an ERP pulls incrementally by following `endCursor` "
        "and, next time, from the last `updatedAt` it saw (an order changed meanwhile comes "
        "again).",
    )
    async def orders(
        self,
        info: Info[Context, object],
        member_id: strawberry.ID | None = None,
        status: list[OrderStatus] | None = None,
        updated_since: datetime | None = None,
        first: int | None = None,
        after: str | None = None,
        location_id: strawberry.ID | None = None,
        pickup_number: str | None = None,
    ) -> OrderConnection:
        member = _id(member_id, "Member", "memberId") if member_id else None
        location = _id(location_id, "Location", "locationId") if location_id else None
        if updated_since is not None and updated_since.tzinfo is None:
            raise ApiError(
                "INVALID_INPUT",
                "`updatedSince` needs a UTC offset, e.g. 2026-01-01T00:00:00Z.",
                field=["updatedSince"],
            )
        return await list_orders(
            info,
            _page(first, after),
            member_id=member,
            location_id=location,
            statuses=tuple(status or ()),
            updated_since=updated_since,
            pickup_number=pickup_number.strip().upper() if pickup_number else None,
        )

    @strawberry.field(
        permission_classes=[CanSeePickupQueue],
        description="A store's open pickup orders (default: paid to ready), newest first: for "
        "its staff and devices (kiosk, POS) and ADMIN. `pickupNumber` finds the order the "
        "store called (A023). Subscription renewal orders are placed two days ahead: the queue "
        "holds one back until its `deliveryDate`, i.e. it shows the orders due by `forDate` "
        "(default: the store's local today; tomorrow's date to prepare ahead).",
    )
    async def pickup_queue(
        self,
        info: Info[Context, object],
        location_id: strawberry.ID,
        statuses: list[OrderStatus] | None = None,
        pickup_number: str | None = None,
        first: int | None = None,
        after: str | None = None,
        for_date: date | None = None,
    ) -> OrderConnection:
        location = _id(location_id, "Location", "locationId")
        wanted = tuple(
            statuses or (OrderStatus.PAID, OrderStatus.PREPARING, OrderStatus.READY_FOR_PICKUP)
        )
        if any(s not in OPEN for s in wanted):
            raise ApiError("INVALID_INPUT", "The queue holds open orders only.", field=["statuses"])
        runtime = info.context.runtime
        if for_date is None:
            store = await info.context.loaders.location.load(location)
            zone = ZoneInfo(store.timezone if store else DEFAULT_TIMEZONE)
            for_date = runtime.clock.now().astimezone(zone).date()
        return await list_orders(
            info,
            _page(first, after),
            location_id=location,
            statuses=wanted,
            pickup_number=pickup_number.strip().upper() if pickup_number else None,
            exclude_ids=await runtime.repos.subscriptions.orders_due_after(location, for_date),
        )
