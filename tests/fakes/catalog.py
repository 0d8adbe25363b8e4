"""In-memory catalog and location repositories: what the shop sells and where. Search is a
plain substring match of the names and SKU codes, read at search time (the SQL repository
keeps a search text, with pinyin, and ranks; no unit test depends on either)."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import replace
from uuid import UUID

from domain.catalog.model import CatalogStatus, Category, Product, ProductMedia, Variant
from domain.catalog.ports import CatalogRepository
from domain.locations.model import Location, LocationStatus, LocationType
from domain.locations.ports import LocationRepository
from domain.pagination import Page, PageRequest
from tests.fakes.tables import Tables, page_of


class FakeCatalog(CatalogRepository):
    def __init__(self, tables: Tables):
        self._t = tables

    async def get_product(self, product_id: UUID) -> Product | None:
        found = self._t.products.get(product_id)
        return replace(found) if found else None

    async def get_products(self, ids: Sequence[UUID]) -> list[Product]:
        return [replace(self._t.products[i]) for i in ids if i in self._t.products]

    async def get_variant(self, variant_id: UUID) -> Variant | None:
        found = self._t.variants.get(variant_id)
        return copy.deepcopy(found) if found else None

    async def get_variants(self, ids: Sequence[UUID]) -> list[Variant]:
        return [copy.deepcopy(self._t.variants[i]) for i in ids if i in self._t.variants]

    async def variants_with_products(self, ids: Sequence[UUID]) -> list[tuple[Variant, Product]]:
        return [
            (copy.deepcopy(v), replace(self._t.products[v.product_id]))
            for v in await self.get_variants(ids)
        ]

    async def variants_of(self, product_ids: Sequence[UUID]) -> list[Variant]:
        found = [v for v in self._t.variants.values() if v.product_id in product_ids]
        return [copy.deepcopy(v) for v in sorted(found, key=lambda v: v.id)]

    async def variant_by_code(self, code: str) -> Variant | None:
        found = next((v for v in self._t.variants.values() if v.code == code), None)
        return copy.deepcopy(found) if found else None

    async def variant_by_barcode(self, barcode: str) -> Variant | None:
        found = next((v for v in self._t.variants.values() if v.barcode == barcode), None)
        return copy.deepcopy(found) if found else None

    async def get_category(self, category_id: UUID) -> Category | None:
        found = self._t.categories.get(category_id)
        return replace(found) if found else None

    async def get_categories(self, ids: Sequence[UUID]) -> list[Category]:
        return [replace(self._t.categories[i]) for i in ids if i in self._t.categories]

    async def list_categories(self) -> list[Category]:
        return [replace(c) for c in sorted(self._t.categories.values(), key=lambda c: c.name)]

    async def slug_taken(self, slug: str, *, kind: str, exclude: UUID | None = None) -> bool:
        rows: Sequence[Product | Category] = list(
            (self._t.products if kind == "product" else self._t.categories).values()
        )
        return any(r.slug == slug and r.id != exclude for r in rows)

    async def list_products(
        self,
        page: PageRequest,
        *,
        search: str | None,
        category_id: UUID | None,
        statuses: Sequence[CatalogStatus],
    ) -> Page[Product]:
        found = [
            replace(p)
            for p in self._t.products.values()
            if p.status in statuses
            and (category_id is None or p.category_id == category_id)
            and (not search or search.lower() in self._text_of(p))
        ]
        return page_of(found, lambda p: str(p.id), page)

    def _text_of(self, product: Product) -> str:
        variants = [v for v in self._t.variants.values() if v.product_id == product.id]
        texts = [product.name, *product.names.values()]
        texts += [t for v in variants for t in (v.name, v.code, *v.names.values())]
        return "\n".join(texts).lower()

    async def add_product(self, product: Product) -> None:
        assert product.id not in self._t.products, "duplicate primary key"
        self._t.products[product.id] = replace(product)

    async def save_product(self, product: Product) -> None:
        self._t.products[product.id] = replace(product)

    async def add_variant(self, variant: Variant) -> None:
        assert all(v.code != variant.code for v in self._t.variants.values()), "unique code"
        self._t.variants[variant.id] = copy.deepcopy(variant)

    async def save_variant(self, variant: Variant) -> None:
        self._t.variants[variant.id] = copy.deepcopy(variant)

    async def add_category(self, category: Category) -> None:
        self._t.categories[category.id] = replace(category)

    async def save_category(self, category: Category) -> None:
        self._t.categories[category.id] = replace(category)

    async def set_variants_status(self, product_id: UUID, status: CatalogStatus) -> None:
        for variant in self._t.variants.values():
            if variant.product_id == product_id:
                variant.status = status

    async def index_for_search(self, product_id: UUID) -> None:
        """Nothing to keep: `list_products` reads the names themselves."""

    async def lock_product(self, product_id: UUID) -> Product | None:
        return await self.get_product(product_id)

    async def media_of(self, product_ids: Sequence[UUID]) -> list[ProductMedia]:
        found = [m for m in self._t.media.values() if m.product_id in product_ids]
        return [replace(m) for m in sorted(found, key=lambda m: (m.product_id, m.position, m.id))]

    async def get_media(self, media_id: UUID) -> ProductMedia | None:
        found = self._t.media.get(media_id)
        return replace(found) if found else None

    async def add_media(self, media: ProductMedia) -> None:
        assert media.id not in self._t.media, "duplicate primary key"
        self._t.media[media.id] = replace(media)

    async def save_media_positions(self, media: Sequence[ProductMedia]) -> None:
        for item in media:
            self._t.media[item.id].position = item.position

    async def remove_media(self, media_id: UUID) -> None:
        self._t.media.pop(media_id, None)


class FakeLocations(LocationRepository):
    def __init__(self, tables: Tables):
        self._t = tables

    async def get(self, location_id: UUID) -> Location | None:
        found = self._t.locations.get(location_id)
        return copy.deepcopy(found) if found else None

    async def get_many(self, ids: Sequence[UUID]) -> list[Location]:
        return [copy.deepcopy(self._t.locations[i]) for i in ids if i in self._t.locations]

    async def get_by_code(self, code: str) -> Location | None:
        found = next((x for x in self._t.locations.values() if x.code == code), None)
        return copy.deepcopy(found) if found else None

    async def search(
        self,
        *,
        types: Sequence[LocationType] | None,
        pickup_enabled: bool | None,
        statuses: Sequence[LocationStatus],
    ) -> list[Location]:
        return [
            copy.deepcopy(x)
            for x in self._t.locations.values()
            if x.status in statuses
            and (not types or x.type in types)
            and (pickup_enabled is None or x.pickup_enabled is pickup_enabled)
        ]

    async def add(self, location: Location) -> None:
        assert all(x.code != location.code for x in self._t.locations.values()), "unique code"
        self._t.locations[location.id] = copy.deepcopy(location)

    async def save(self, location: Location) -> None:
        self._t.locations[location.id] = copy.deepcopy(location)
