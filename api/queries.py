"""Read side: thin resolvers over repositories and query services."""

from __future__ import annotations

from uuid import UUID

import strawberry
from strawberry.types import Info

from api.arguments import id_arg as _uuid
from api.arguments import page_args as _page
from api.arguments import top_level_error as _invalid
from api.context import Context
from api.errors import ApiError
from api.permissions import IsAdmin, IsAuthenticated
from api.relay import Connection, Node, decode_any_id
from api.types.catalog import Category, Product, Variant, product_page
from api.types.identity import StaffAction, StaffUser, Viewer
from api.types.locations import Location, NearInput
from domain.catalog.model import CatalogStatus
from domain.catalog.model import Product as DomainProduct
from domain.catalog.model import Variant as DomainVariant
from domain.catalog.services import sees_archived, visible
from domain.errors import DomainError
from domain.identity.model import Principal
from domain.locations import model as lm
from domain.locations.model import LocationType
from domain.locations.services import find_locations

NUL = "\x00"  # PostgreSQL rejects it in any text parameter: nothing stored can contain it


def _product(found: DomainProduct | None, principal: Principal | None) -> Product | None:
    product = visible(found, principal)
    return Product.from_domain(product) if product else None


def _variant(found: DomainVariant | None, principal: Principal | None) -> Variant | None:
    variant = visible(found, principal)
    return Variant.from_domain(variant) if variant else None


async def _node(info: Info[Context, object], global_id: str) -> Node | None:
    try:
        type_name, key = decode_any_id(global_id)
    except DomainError as error:
        raise _invalid(error) from None
    loaders, principal = info.context.loaders, info.context.principal
    if type_name == "Product":
        return _product(await loaders.product.load(key), principal)
    if type_name == "Variant":
        return _variant(await loaders.variant.load(key), principal)
    if type_name == "Category":
        category = await loaders.category.load(key)
        return Category.from_domain(category) if category else None
    if type_name == "Order":
        from domain.ordering.services import may_read

        order = await info.context.runtime.repos.orders.get(key)
        if order is None or not may_read(info.context.principal, order):
            return None
        from api.types.orders import Order

        return Order.from_domain(order)
    if type_name == "AfterSale":
        from api.types.aftersales import AfterSale
        from domain.aftersales.services import after_sale_for

        found = await after_sale_for(info.context.runtime.aftersales, principal, key)
        return AfterSale.from_domain(found) if found else None
    if type_name == "Review":
        from api.types.reviews import Review
        from domain.aftersales.reviews import review_for

        review = await review_for(info.context.runtime.reviews, principal, key)
        return Review.from_domain(review) if review else None
    if type_name == "Member":
        from api.member_queries import member_node

        return await member_node(info, key)
    if type_name in ("GroupBuyCampaign", "GroupBuy"):
        return await _group_buy_node(info, type_name, key)
    if type_name == "Location":
        location = await loaders.location.load(key)
        return Location.from_domain(location) if location else None
    return None


async def _group_buy_node(info: Info[Context, object], type_name: str, key: UUID) -> Node | None:
    """A campaign or a group, seen as `groupBuyCampaigns` and `group(id)` show them: to
    everyone, members masked."""
    from api.types.group_buys import GroupBuy, GroupBuyCampaign
    from domain.growth.group_buys import get_campaign, get_group

    deps = info.context.runtime.group_buys
    if type_name == "GroupBuyCampaign":
        campaign = await get_campaign(deps, key)
        return GroupBuyCampaign.from_domain(campaign) if campaign else None
    group = await get_group(deps, key)
    return GroupBuy.from_domain(group) if group else None


@strawberry.type
class Query:
    @strawberry.field(description="Fetch any object by its global id.")
    async def node(self, info: Info[Context, object], id: strawberry.ID) -> Node | None:
        return await _node(info, id)

    @strawberry.field(
        description="Who the request authenticated as; null with an UNAUTHENTICATED error "
        "without a token (the rest of the query still answers).",
        permission_classes=[IsAuthenticated],
    )
    def viewer(self, info: Info[Context, object]) -> Viewer | None:
        principal = info.context.principal
        assert principal is not None
        return Viewer(
            kind=principal.kind,
            role=principal.role,
            scopes=sorted(principal.scopes, key=lambda s: s.value),
            principal=principal,
        )

    @strawberry.field(
        description="Products, oldest first; ARCHIVED ones only for ADMIN/API keys. With "
        "`search`: by any name, variant name, SKU code, whole barcode or pinyin (mg, mangguo for "
        "芒果), a whole name first, then a name's start, a name containing it, the rest."
    )
    async def products(
        self,
        info: Info[Context, object],
        first: int | None = None,
        after: str | None = None,
        search: str | None = None,
        category_id: strawberry.ID | None = None,
        include_archived: bool = False,
    ) -> Connection[Product]:
        page = _page(first, after)
        if search is not None and (len(search) > 100 or NUL in search):
            raise ApiError("INVALID_INPUT", "`search` is at most 100 characters (and no NUL).")
        if include_archived and not sees_archived(info.context.principal):
            raise ApiError("FORBIDDEN", "Only ADMIN staff or catalog:read keys see archived items.")
        statuses = list(CatalogStatus) if include_archived else [CatalogStatus.ACTIVE]
        result = await info.context.runtime.repos.catalog.list_products(
            page,
            search=search.strip() or None if search else None,
            category_id=_uuid(category_id, "Category") if category_id else None,
            statuses=statuses,
        )
        return await product_page(info, result)

    @strawberry.field
    async def product(self, info: Info[Context, object], id: strawberry.ID) -> Product | None:
        found = await info.context.loaders.product.load(_uuid(id, "Product"))
        return _product(found, info.context.principal)

    @strawberry.field
    async def variant(self, info: Info[Context, object], id: strawberry.ID) -> Variant | None:
        _uuid(id, "Variant")
        node = await _node(info, id)
        return node if isinstance(node, Variant) else None

    @strawberry.field(description="Look up a SKU by its code (exact).")
    async def variant_by_code(self, info: Info[Context, object], code: str) -> Variant | None:
        key = code.strip()[:64]
        repos = info.context.runtime.repos
        found = None if NUL in key else await repos.catalog.variant_by_code(key)
        return _variant(found, info.context.principal)

    @strawberry.field(description="Look up a SKU by its barcode (POS scanners).")
    async def variant_by_barcode(self, info: Info[Context, object], barcode: str) -> Variant | None:
        key = barcode.strip()[:14]
        repos = info.context.runtime.repos
        found = None if NUL in key else await repos.catalog.variant_by_barcode(key)
        return _variant(found, info.context.principal)

    @strawberry.field
    async def categories(self, info: Info[Context, object]) -> list[Category]:
        return [
            Category.from_domain(c)
            for c in await info.context.runtime.repos.catalog.list_categories()
        ]

    @strawberry.field(description="Active locations, nearest first when `near` is given.")
    async def locations(
        self,
        info: Info[Context, object],
        near: NearInput | None = None,
        types: list[LocationType] | None = None,
        pickup_enabled: bool | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Location]:
        page = _page(first, after)
        try:
            point = lm.GeoPoint.of(near.latitude, near.longitude) if near else None
        except DomainError as error:
            raise _invalid(error) from None
        if types is not None and len(types) > len(lm.LocationType):
            raise ApiError("TOO_MANY_ITEMS", "`types` lists each location type at most once.")
        result = await find_locations(
            info.context.runtime.locations,
            page,
            near=point,
            types=types,
            pickup_enabled=pickup_enabled,
        )
        return Connection[Location].from_page(
            result, lambda item: Location.from_domain(item.location, item.distance_m)
        )

    @strawberry.field
    async def location(self, info: Info[Context, object], id: strawberry.ID) -> Location | None:
        found = await info.context.loaders.location.load(_uuid(id, "Location"))
        return Location.from_domain(found) if found else None

    @strawberry.field
    async def location_by_code(self, info: Info[Context, object], code: str) -> Location | None:
        key = code.strip().upper()[:32]
        found = None if NUL in key else await info.context.runtime.repos.locations.get_by_code(key)
        return Location.from_domain(found) if found else None

    @strawberry.field(permission_classes=[IsAdmin], description="Staff accounts (ADMIN).")
    async def staff_user(self, info: Info[Context, object], username: str) -> StaffUser | None:
        found = await info.context.runtime.repos.staff.get_by_username(username.strip().lower())
        return StaffUser.from_domain(found) if found else None

    @strawberry.field(
        permission_classes=[IsAdmin],
        description="Audited staff decisions, newest first (ADMIN): pickup-code locks lifted.",
    )
    async def staff_actions(
        self, info: Info[Context, object], first: int | None = None, after: str | None = None
    ) -> Connection[StaffAction]:
        try:
            page = await info.context.runtime.repos.staff.actions(_page(first, after))
        except DomainError as error:
            raise _invalid(error) from None
        return Connection[StaffAction].from_page(page, StaffAction.from_domain)
