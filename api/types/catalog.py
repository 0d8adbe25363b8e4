from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, cast
from uuid import UUID

import strawberry
from strawberry.types import Info

from api.context import Context
from api.lean import lean
from api.loaders import now_or_later
from api.lookahead import asks_for, fields, selects
from api.relay import Connection, Node, encode_id
from api.types.locations import NearInput
from api.types.reviews import ProductReview, ProductReviewConnection, Rating

if TYPE_CHECKING:
    from api.types.flash_sales import FlashSale
    from api.types.inventory import LocationAvailability
from domain.catalog import model as m
from domain.catalog.model import CatalogStatus, Locale, LocalizedNames, MediaKind
from domain.catalog.services import listed
from domain.inventory.availability import totals_online
from domain.pagination import Page
from domain.promotions.pricing import unit_price

strawberry.enum(CatalogStatus, description="ACTIVE items sell; ARCHIVED do not.")
strawberry.enum(Locale, description="A language a name is given in.")
strawberry.enum(MediaKind, name="MediaType", description="A picture or a video.")


@strawberry.type(description="An amount of money in minor units (fen for CNY).")
class Money:
    amount: int = strawberry.field(description="Minor units: 1990 means ¥19.90.")
    currency: str

    @strawberry.field(description="Human-readable, e.g. ¥19.90.")
    def formatted(self) -> str:
        return m.Money(self.amount, self.currency).formatted

    @classmethod
    def from_domain(cls, money: m.Money) -> Money:
        return money_of(money.amount, money.currency)


@functools.lru_cache(maxsize=4096)
def money_of(amount: int, currency: str) -> Money:
    """One shared, never-changed `Money` per amount: an order page showed 140 of them."""
    return Money(amount=amount, currency=currency)


@strawberry.type(description="What members of one loyalty tier pay for a variant.")
class TierPrice:
    tier: str
    price: Money


@strawberry.type(description="A property of a variant shown to shoppers (规格: 500ml, 温度: 冰).")
class Attribute:
    name: str
    value: str


@strawberry.type(description="A name in one language.")
class LocalizedName:
    locale: Locale
    value: str


def _localized(names: LocalizedNames) -> list[LocalizedName]:
    return [LocalizedName(locale=k, value=names[k]) for k in Locale if k in names]


def _name_in(names: LocalizedNames, display: str, locale: Locale) -> str:
    return names.get(locale, display)


NAMES = "The name in each language it is given in (`name` is the display name)."
NAME_IN = "The name in `locale`, or the display name `name` when none is given in it."


@strawberry.type(description="A picture or video of a product, in the shop's order.")
class ProductMedia:
    id: strawberry.ID
    kind: MediaKind = strawberry.field(name="type")
    url: str = strawberry.field(description="An https address.")
    alt: str = strawberry.field(description="What a screen reader says instead.")
    position: int = strawberry.field(description="0 first; the first is the list picture.")

    @classmethod
    def from_domain(cls, media: m.ProductMedia) -> ProductMedia:
        return cls(
            id=encode_id("ProductMedia", media.id),
            kind=media.kind,
            url=media.url,
            alt=media.alt,
            position=media.position,
        )


@strawberry.type
class Category(Node):
    name: str
    slug: str
    return_window_days: int | None = strawberry.field(
        description="Days after hand-over a return of its products may be asked for, where a "
        "product sets none (null: the default, 7; 0: no returns)."
    )
    refund_only_within_hours: int | None = strawberry.field(
        description="Fresh produce: its products (where a product sets none) take only "
        "REFUND_ONLY requests, within this many hours of hand-over (null: returns as usual)."
    )
    parent_key: strawberry.Private[Any]

    @classmethod
    def from_domain(cls, category: m.Category) -> Category:
        return cls(
            id=encode_id("Category", category.id),
            name=category.name,
            slug=category.slug,
            return_window_days=category.return_window_days,
            refund_only_within_hours=category.refund_only_within_hours,
            parent_key=category.parent_id,
        )

    @strawberry.field
    async def parent(self, info: Info[Context, Any]) -> Category | None:
        if self.parent_key is None:
            return None
        found = await info.context.loaders.category.load(self.parent_key)
        return Category.from_domain(found) if found else None


@strawberry.type(description="A SKU: the thing a customer buys, with its own code and price.")
class Variant(Node):
    code: str = strawberry.field(description="The SKU code, unique across the catalog.")
    barcode: str | None = strawberry.field(description="GTIN/EAN printed on the package.")
    name: str
    price: Money
    status: CatalogStatus
    attributes: list[Attribute] = strawberry.field(description="In the order they were given.")
    names_by_locale: strawberry.Private[LocalizedNames]
    product_key: strawberry.Private[Any]
    key: strawberry.Private[Any]
    online_total: strawberry.Private[int | None] = None  # when the list loaded it
    loaded_product: strawberry.Private[m.Product | None] = None  # when the list read it

    @classmethod
    def from_domain(
        cls,
        variant: m.Variant,
        online_total: int | None = None,
        product: m.Product | None = None,
    ) -> Variant:
        return cls(
            id=encode_id("Variant", variant.id),
            code=variant.code,
            barcode=variant.barcode,
            name=variant.name,
            price=Money.from_domain(variant.price),
            status=variant.status,
            attributes=[Attribute(name=k, value=v) for k, v in variant.attributes.items()],
            names_by_locale=variant.names,
            product_key=variant.product_id,
            key=variant.id,
            online_total=online_total,
            loaded_product=product,
        )

    @strawberry.field(description=NAMES)
    def names(self) -> list[LocalizedName]:
        return _localized(self.names_by_locale)

    @strawberry.field(description=NAME_IN)
    def localized_name(self, locale: Locale) -> str:
        return _name_in(self.names_by_locale, self.name, locale)

    @strawberry.field(
        description="Where to find it, nearest first; exact quantities for staff only."
    )
    async def availability(
        self,
        info: Info[Context, Any],
        near: NearInput | None = None,  # not lazy: a lazy argument type resolves per call
        pickup_only: bool = False,
        first: int = 10,
    ) -> list[Annotated[LocationAvailability, strawberry.lazy("api.types.inventory")]]:
        from api.availability import availability_of

        return await availability_of(info, self.key, near, pickup_only, first)

    @strawberry.field(
        description="Units the online channels (mini-program, H5) can sell: available at the "
        "active locations that ship online."
    )
    def total_available(self, info: Info[Context, Any]) -> int:
        return cast(int, _total_available(self, info.context))

    @strawberry.field
    def product(self, info: Info[Context, Any]) -> Product:
        return cast(Product, _product_of_variant(self, info.context))

    @strawberry.field(description="The flash sale running now, if any (秒杀).")
    async def flash_sale(
        self, info: Info[Context, Any]
    ) -> Annotated[FlashSale, strawberry.lazy("api.types.flash_sales")] | None:
        from api.types.flash_sales import FlashSale

        found = await info.context.loaders.flash_sale.load(self.key)
        return FlashSale.from_domain(found, info.context.runtime.clock.now()) if found else None

    @strawberry.field(
        description="What the caller pays per unit: a member's tier price (会员价) when lower "
        "than `price`, else `price` (anonymous shoppers and staff see the list price). The "
        "same rule as the checkout quote and placeOrder."
    )
    async def your_price(self, info: Info[Context, Any]) -> Money:
        caller = info.context.principal
        if caller is None or not caller.is_member:
            return self.price
        account = await info.context.loaders.points_account.load(caller.id)
        tier = info.context.runtime.loyalty.policy.tier_of(account)
        prices = await info.context.loaders.member_prices_by_variant.load(self.key)
        member_price = next((p.price for p in prices if p.tier == tier), None)
        return money_of(unit_price(self.price.amount, member_price), self.price.currency)

    @strawberry.field(description="The member price (会员价) of each loyalty tier that has one.")
    async def member_prices(self, info: Info[Context, Any]) -> list[TierPrice]:
        prices = await info.context.loaders.member_prices_by_variant.load(self.key)
        return [
            TierPrice(tier=p.tier, price=money_of(p.price, self.price.currency)) for p in prices
        ]


@lean("Variant", "totalAvailable", ready=lambda variant: variant.online_total)
def _total_available(variant: Variant, context: Context) -> object:
    """Synchronous when the product page loaded the totals of its variants."""
    if variant.online_total is not None:  # `ready`: the executor usually answers before this
        return variant.online_total
    return context.loaders.online_total.load(variant.key)


def _loaded_product(variant: Variant) -> Product | None:
    found = variant.loaded_product
    return Product.from_domain(found) if found is not None else None


@lean("Variant", "product", ready=_loaded_product)
def _product_of_variant(variant: Variant, context: Context) -> object:
    """Synchronous when the request has loaded the product already (order lists do); a
    variant always has its product (foreign key)."""
    loaded = _loaded_product(variant)
    if loaded is not None:
        return loaded
    return now_or_later(context.loaders.product, variant.product_key, Product.from_domain)


@strawberry.type
class Product(Node):
    name: str
    slug: str
    description: str
    status: CatalogStatus
    created_at: datetime
    updated_at: datetime
    return_window_days: int | None = strawberry.field(
        description="Days after hand-over a return may be asked for (null: the category's, "
        "else the default, 7; 0: no returns)."
    )
    refund_only_within_hours: int | None = strawberry.field(
        description="Fresh produce: only REFUND_ONLY requests, within this many hours of "
        "hand-over (null: the category's, else returns as usual)."
    )
    key: strawberry.Private[Any]
    category_key: strawberry.Private[Any]
    names_by_locale: strawberry.Private[LocalizedNames]
    page_variants: strawberry.Private[list[m.Variant] | None] = None  # loaded by the page
    page_totals: strawberry.Private[Mapping[UUID, int] | None] = None

    @classmethod
    def from_domain(
        cls,
        product: m.Product,
        page_variants: list[m.Variant] | None = None,
        page_totals: Mapping[UUID, int] | None = None,
    ) -> Product:
        return cls(
            id=encode_id("Product", product.id),
            name=product.name,
            slug=product.slug,
            description=product.description,
            status=product.status,
            created_at=product.created_at,
            updated_at=product.updated_at,
            return_window_days=product.return_window_days,
            refund_only_within_hours=product.refund_only_within_hours,
            key=product.id,
            category_key=product.category_id,
            names_by_locale=product.names,
            page_variants=page_variants,
            page_totals=page_totals,
        )

    @strawberry.field(description=NAMES)
    def names(self) -> list[LocalizedName]:
        return _localized(self.names_by_locale)

    @strawberry.field(description=NAME_IN)
    def localized_name(self, locale: Locale) -> str:
        return _name_in(self.names_by_locale, self.name, locale)

    @strawberry.field(description="Pictures and videos, in order: one batch for the page.")
    async def media(self, info: Info[Context, Any]) -> list[ProductMedia]:
        found = await info.context.loaders.media_by_product.load(self.key)
        return [ProductMedia.from_domain(item) for item in found]

    @strawberry.field(description="Variants of the product, oldest first.")
    def variants(self, info: Info[Context, Any], include_archived: bool = False) -> list[Variant]:
        """Synchronous when the product page loaded the variants (and their totals) of all its
        products; else one batch for every product asking."""
        if self.page_variants is None:
            return cast(list[Variant], self._variants_later(info, include_archived))
        totals = self.page_totals or {}
        principal = info.context.principal
        return [
            Variant.from_domain(v, totals.get(v.id))
            for v in listed(self.page_variants, principal, include_archived=include_archived)
        ]

    async def _variants_later(
        self, info: Info[Context, Any], include_archived: bool
    ) -> list[Variant]:
        loaders = info.context.loaders
        found = listed(
            await loaders.variants_by_product.load(self.key),
            info.context.principal,
            include_archived=include_archived,
        )
        if not asks_for(info, "totalAvailable"):
            return [Variant.from_domain(v) for v in found]
        # one batch for every product asking, and no coroutine per variant
        totals = await loaders.online_total.load_many([v.id for v in found])
        return [Variant.from_domain(v, total) for v, total in zip(found, totals, strict=True)]

    @strawberry.field
    async def category(self, info: Info[Context, Any]) -> Category | None:
        if self.category_key is None:
            return None
        found = await info.context.loaders.category.load(self.category_key)
        return Category.from_domain(found) if found else None

    @strawberry.field(description="Stars of its published reviews: one batch for the page.")
    async def rating(self, info: Info[Context, Any]) -> Rating:
        return Rating.from_domain(await info.context.loaders.rating.load(self.key))

    @strawberry.field(
        description="Published reviews, newest first, the reviewers masked: one batch for the "
        "page (and one for the reviewers' names)."
    )
    async def reviews(
        self, info: Info[Context, Any], first: int | None = None, after: str | None = None
    ) -> ProductReviewConnection:
        from api.arguments import page_args

        page = await info.context.loaders.published_reviews.load(
            (self.key, page_args(first, after))
        )
        return ProductReviewConnection.from_page(page, ProductReview.from_domain)

    @strawberry.field(description="Lowest active variant price, for list views.")
    async def price_from(self, info: Info[Context, Any]) -> Money | None:
        found = await info.context.loaders.variants_by_product.load(self.key)
        prices = [v.price for v in found if v.status is CatalogStatus.ACTIVE]
        return Money.from_domain(min(prices, key=lambda p: p.amount)) if prices else None


async def product_page(info: Info[Context, Any], page: Page[m.Product]) -> Connection[Product]:
    """A page of products. When the query asks for their variants (and the variants' totals),
    they are loaded for the whole page here and handed to each product, so that below the
    page every field resolves synchronously: no task or loader call per product or variant."""
    loaders = info.context.loaders
    for product in page.items:
        loaders.product.prime(product.id, product)
    variants: dict[UUID, list[m.Variant]] = {}
    totals: Mapping[UUID, int] | None = None
    selection = fields(info.selected_fields)
    for edge in (("edges", "node"), ("nodes",)):
        if not selects(selection, *edge, "variants"):
            continue
        keys = [p.id for p in page.items]
        variants = dict(zip(keys, await loaders.variants_by_product.load_many(keys), strict=True))
        if selects(selection, *edge, "variants", "totalAvailable"):
            totals = await totals_online(
                info.context.runtime.repos.inventory,
                [v.id for group in variants.values() for v in group],
                await loaders.network.load("all"),
            )
        break
    return Connection[Product].from_page(
        page, lambda p: Product.from_domain(p, variants.get(p.id), totals)
    )
