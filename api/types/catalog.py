from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, cast

import strawberry
from strawberry.types import Info

from api.context import Context
from api.loaders import now_or_later
from api.relay import Node, encode_id
from api.types.locations import NearInput

if TYPE_CHECKING:
    from api.types.inventory import LocationAvailability
from domain.catalog import model as m
from domain.catalog.model import CatalogStatus

strawberry.enum(CatalogStatus, description="ACTIVE items sell; ARCHIVED do not.")


@strawberry.type(description="An amount of money in minor units (fen for CNY).")
class Money:
    amount: int = strawberry.field(description="Minor units: 1990 means ¥19.90.")
    currency: str

    @strawberry.field(description="Human-readable, e.g. ¥19.90.")
    def formatted(self) -> str:
        return m.Money(self.amount, self.currency).formatted

    @classmethod
    def from_domain(cls, money: m.Money) -> Money:
        return cls(amount=money.amount, currency=money.currency)


@strawberry.type
class Attribute:
    name: str
    value: str


@strawberry.type
class Category(Node):
    name: str
    slug: str
    parent_key: strawberry.Private[Any]

    @classmethod
    def from_domain(cls, category: m.Category) -> Category:
        return cls(
            id=encode_id("Category", category.id),
            name=category.name,
            slug=category.slug,
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
    attributes: list[Attribute]
    product_key: strawberry.Private[Any]
    key: strawberry.Private[Any]

    @classmethod
    def from_domain(cls, variant: m.Variant) -> Variant:
        return cls(
            id=encode_id("Variant", variant.id),
            code=variant.code,
            barcode=variant.barcode,
            name=variant.name,
            price=Money.from_domain(variant.price),
            status=variant.status,
            attributes=[Attribute(name=k, value=v) for k, v in variant.attributes.items()],
            product_key=variant.product_id,
            key=variant.id,
        )

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
        description="Units the online channels (mini-program, H5) can sell: one pool, the "
        "active locations that ship online."
    )
    async def total_available(self, info: Info[Context, Any]) -> int:
        from api.availability import total_available_of

        return await total_available_of(info, self.key)

    @strawberry.field
    def product(self, info: Info[Context, Any]) -> Product:
        """Synchronous when the request has loaded the product already (order lists do)."""
        # a variant always has its product (foreign key)
        loader = info.context.loaders.product
        return cast(Product, now_or_later(loader, self.product_key, Product.from_domain))


@strawberry.type
class Product(Node):
    name: str
    slug: str
    description: str
    status: CatalogStatus
    created_at: datetime
    updated_at: datetime
    key: strawberry.Private[Any]
    category_key: strawberry.Private[Any]

    @classmethod
    def from_domain(cls, product: m.Product) -> Product:
        return cls(
            id=encode_id("Product", product.id),
            name=product.name,
            slug=product.slug,
            description=product.description,
            status=product.status,
            created_at=product.created_at,
            updated_at=product.updated_at,
            key=product.id,
            category_key=product.category_id,
        )

    @strawberry.field(description="Variants of the product, oldest first.")
    async def variants(
        self, info: Info[Context, Any], include_archived: bool = False
    ) -> list[Variant]:
        found = await info.context.loaders.variants_by_product.load(self.key)
        return [
            Variant.from_domain(v)
            for v in found
            if include_archived or v.status is CatalogStatus.ACTIVE
        ]

    @strawberry.field
    async def category(self, info: Info[Context, Any]) -> Category | None:
        if self.category_key is None:
            return None
        found = await info.context.loaders.category.load(self.category_key)
        return Category.from_domain(found) if found else None

    @strawberry.field(description="Lowest active variant price, for list views.")
    async def price_from(self, info: Info[Context, Any]) -> Money | None:
        found = await info.context.loaders.variants_by_product.load(self.key)
        prices = [v.price for v in found if v.status is CatalogStatus.ACTIVE]
        return Money.from_domain(min(prices, key=lambda p: p.amount)) if prices else None
