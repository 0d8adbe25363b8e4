"""Stock reads for staff, POS and integrations; shoppers use Variant.availability."""

from __future__ import annotations

from uuid import UUID

import strawberry
from strawberry.types import Info

from api.arguments import id_arg as _id
from api.arguments import page_args as _page
from api.arguments import top_level_error as _top
from api.context import Context
from api.errors import ApiError
from api.permissions import CanReadStock
from api.relay import Connection
from api.types.inventory import StockDiscrepancy, StockLevel, StockMovement, StockTransfer
from domain.errors import DomainError
from domain.identity.model import Principal, PrincipalKind
from domain.inventory.model import MovementFilter, MovementKind
from domain.pagination import Page

MAX_VARIANT_IDS = 100


def _store_scoped(principal: Principal | None) -> bool:
    return principal is not None and (
        principal.kind is PrincipalKind.DEVICE
        or (principal.role is not None and principal.role.is_store_scoped)
    )


def _check_store(info: Info[Context, object], location_id: UUID) -> None:
    """Store staff and POS devices read their own stores; ADMIN, CS and API keys all."""
    principal = info.context.principal
    assert principal is not None
    if _store_scoped(principal) and not principal.can_act_on_store(location_id):
        raise ApiError("FORBIDDEN", "You may read stock of your own stores only.")


def _check_store_filter(info: Info[Context, object], location_id: UUID | None) -> None:
    """Store-scoped callers must filter a network-wide list by one of their stores."""
    if location_id is not None:
        _check_store(info, location_id)
    elif _store_scoped(info.context.principal):
        raise ApiError("FORBIDDEN", "Filter by one of your stores (`locationId`).")


@strawberry.input
class StockMovementFilter:
    location_id: strawberry.ID | None = None
    variant_id: strawberry.ID | None = None
    kinds: list[MovementKind] | None = None
    reference: str | None = None


@strawberry.type
class InventoryQueries:
    @strawberry.field(
        permission_classes=[CanReadStock],
        description="Stock at a location: the given variants, or every level, by variant id.",
    )
    async def stock_levels(
        self,
        info: Info[Context, object],
        location_id: strawberry.ID,
        variant_ids: list[strawberry.ID] | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[StockLevel]:
        location = _id(location_id, "Location", "locationId")
        _check_store(info, location)
        repo = info.context.runtime.repos.inventory
        if variant_ids is not None:
            if len(variant_ids) > MAX_VARIANT_IDS:
                raise ApiError("TOO_MANY_ITEMS", f"At most {MAX_VARIANT_IDS} variantIds.")
            keys = [_id(v, "Variant", "variantIds") for v in variant_ids]
            levels = sorted(await repo.levels(keys, [location]), key=lambda x: x.variant_id)
            page = Page(levels, [str(x.variant_id) for x in levels], False, False)
        else:
            try:
                page = await repo.levels_at(location, _page(first, after))
            except DomainError as error:
                raise _top(error) from None
        return Connection[StockLevel].from_page(page, StockLevel.from_domain)

    @strawberry.field(permission_classes=[CanReadStock], description="The ledger, newest first.")
    async def stock_movements(
        self,
        info: Info[Context, object],
        filter: StockMovementFilter | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[StockMovement]:
        where = filter or StockMovementFilter()
        location = _id(where.location_id, "Location", "locationId") if where.location_id else None
        _check_store_filter(info, location)
        criteria = MovementFilter(
            location_id=location,
            variant_id=_id(where.variant_id, "Variant", "variantId") if where.variant_id else None,
            kinds=tuple(where.kinds or ()),
            reference=(where.reference or "").strip()[:100] or None,
        )
        try:
            page = await info.context.runtime.repos.inventory.movements(
                criteria, _page(first, after)
            )
        except DomainError as error:
            raise _top(error) from None
        return Connection[StockMovement].from_page(page, StockMovement.from_domain)

    @strawberry.field(
        permission_classes=[CanReadStock],
        description="What the system could not account for (till oversold, transfer short).",
    )
    async def stock_discrepancies(
        self,
        info: Info[Context, object],
        location_id: strawberry.ID | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[StockDiscrepancy]:
        location = _id(location_id, "Location", "locationId") if location_id else None
        _check_store_filter(info, location)
        try:
            page = await info.context.runtime.repos.inventory.discrepancies(
                location, _page(first, after)
            )
        except DomainError as error:
            raise _top(error) from None
        return Connection[StockDiscrepancy].from_page(page, StockDiscrepancy.from_domain)

    @strawberry.field(permission_classes=[CanReadStock])
    async def stock_transfer(
        self, info: Info[Context, object], id: strawberry.ID
    ) -> StockTransfer | None:
        found = await info.context.runtime.repos.inventory.get_transfer(
            _id(id, "StockTransfer", "id")
        )
        principal = info.context.principal
        if (
            found is not None
            and principal is not None
            and _store_scoped(principal)
            and not principal.can_act_on_store(found.from_location_id)
            and not principal.can_act_on_store(found.to_location_id)
        ):
            raise ApiError("FORBIDDEN", "You may read transfers of your own stores only.")
        return StockTransfer.from_domain(found) if found else None
