"""The catalog, the location network and the credentials (sessions, device tokens, API
keys) as read outside transactions (dataloaders, list queries, every request's
authentication), through the runtime's caches (`infra.cache`). Inside a unit of work the
plain repositories read the database: a transaction sees its own writes.

The domain objects handed out are shared by every request until the next change: callers
read them and never change them (the write use cases load their own inside a transaction).
Writes through these instances would not reach the cache: they go through a unit of work.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from domain.catalog.model import CatalogStatus, Category, Product, ProductMedia, Variant
from domain.identity.model import ApiKey, AuthSession, Device
from domain.locations.model import Location, LocationStatus, LocationType
from domain.pagination import Page, PageRequest
from infra.cache import ReadCache
from infra.repositories.catalog import TortoiseCatalogRepository
from infra.repositories.identity import (
    TortoiseApiKeyRepository,
    TortoiseDeviceRepository,
    TortoiseSessionRepository,
)
from infra.repositories.locations import TortoiseLocationRepository


def _in_order(keys: Sequence[UUID], found: dict[UUID, Any]) -> list[Any]:
    return [found[k] for k in dict.fromkeys(keys) if k in found]


class CachedCatalogRepository(TortoiseCatalogRepository):
    def __init__(self, cache: ReadCache):
        self._cache = cache

    async def _products(self, ids: list[UUID]) -> dict[UUID, Product]:
        return {p.id: p for p in await super().get_products(ids)}

    async def _variants(self, ids: list[UUID]) -> dict[UUID, Variant]:
        return {v.id: v for v in await super().get_variants(ids)}

    async def _categories(self, ids: list[UUID]) -> dict[UUID, Category]:
        return {c.id: c for c in await super().get_categories(ids)}

    async def _variants_of(self, product_ids: list[UUID]) -> dict[UUID, list[Variant]]:
        grouped: dict[UUID, list[Variant]] = {key: [] for key in product_ids}
        for variant in await super().variants_of(product_ids):
            grouped[variant.product_id].append(variant)
        return grouped

    async def _media_of(self, product_ids: list[UUID]) -> dict[UUID, list[ProductMedia]]:
        grouped: dict[UUID, list[ProductMedia]] = {key: [] for key in product_ids}
        for item in await super().media_of(product_ids):
            grouped[item.product_id].append(item)
        return grouped

    async def get_product(self, product_id: UUID) -> Product | None:
        return (await self._cache.get_many([product_id], self._products, space="p")).get(product_id)

    async def get_products(self, ids: Sequence[UUID]) -> list[Product]:
        return _in_order(ids, await self._cache.get_many(ids, self._products, space="p"))

    async def get_variant(self, variant_id: UUID) -> Variant | None:
        return (await self._cache.get_many([variant_id], self._variants, space="v")).get(variant_id)

    async def get_variants(self, ids: Sequence[UUID]) -> list[Variant]:
        return _in_order(ids, await self._cache.get_many(ids, self._variants, space="v"))

    async def _with_products(self, ids: list[UUID]) -> dict[UUID, tuple[Variant, Product]]:
        return {v.id: (v, p) for v, p in await super().variants_with_products(ids)}

    async def variants_with_products(self, ids: Sequence[UUID]) -> list[tuple[Variant, Product]]:
        """The checkout quote prices its lines from both (placeOrder reads them in its
        transaction, past the cache): one statement when cold, none when warm."""
        return _in_order(ids, await self._cache.get_many(ids, self._with_products, space="vp"))

    async def variants_of(self, product_ids: Sequence[UUID]) -> list[Variant]:
        found = await self._cache.get_many(product_ids, self._variants_of, space="variants-of")
        return sorted(
            (v for key in dict.fromkeys(product_ids) for v in found.get(key, [])),
            key=lambda v: v.id,
        )

    async def media_of(self, product_ids: Sequence[UUID]) -> list[ProductMedia]:
        found = await self._cache.get_many(product_ids, self._media_of, space="media-of")
        return [item for key in dict.fromkeys(product_ids) for item in found.get(key, [])]

    async def get_category(self, category_id: UUID) -> Category | None:
        return (await self._cache.get_many([category_id], self._categories, space="c")).get(
            category_id
        )

    async def get_categories(self, ids: Sequence[UUID]) -> list[Category]:
        return _in_order(ids, await self._cache.get_many(ids, self._categories, space="c"))

    async def list_categories(self) -> list[Category]:
        return await self._cache.get(
            ("categories",), lambda: TortoiseCatalogRepository.list_categories(self)
        )

    async def variant_by_code(self, code: str) -> Variant | None:
        return await self._cache.get(
            ("code", code), lambda: TortoiseCatalogRepository.variant_by_code(self, code)
        )

    async def variant_by_barcode(self, barcode: str) -> Variant | None:
        return await self._cache.get(
            ("barcode", barcode),
            lambda: TortoiseCatalogRepository.variant_by_barcode(self, barcode),
        )

    async def list_products(
        self,
        page: PageRequest,
        *,
        search: str | None,
        category_id: UUID | None,
        statuses: Sequence[CatalogStatus],
    ) -> Page[Product]:
        async def load() -> Page[Product]:
            return await TortoiseCatalogRepository.list_products(
                self, page, search=search, category_id=category_id, statuses=statuses
            )

        if search:  # free text: rarely the same twice
            return await load()
        return await self._cache.get(
            ("products", page.first, page.after, category_id, tuple(statuses)), load
        )


class CachedLocationRepository(TortoiseLocationRepository):
    def __init__(self, cache: ReadCache):
        self._cache = cache

    async def _locations(self, ids: list[UUID]) -> dict[UUID, Location]:
        return {loc.id: loc for loc in await super().get_many(ids)}

    async def get(self, location_id: UUID) -> Location | None:
        found = await self._cache.get_many([location_id], self._locations, space="l")
        return found.get(location_id)

    async def get_many(self, ids: Sequence[UUID]) -> list[Location]:
        return _in_order(ids, await self._cache.get_many(ids, self._locations, space="l"))

    async def get_by_code(self, code: str) -> Location | None:
        return await self._cache.get(
            ("code", code), lambda: TortoiseLocationRepository.get_by_code(self, code)
        )

    async def search(
        self,
        *,
        types: Sequence[LocationType] | None,
        pickup_enabled: bool | None,
        statuses: Sequence[LocationStatus],
    ) -> list[Location]:
        key = ("search", None if types is None else tuple(types), pickup_enabled, tuple(statuses))
        return await self._cache.get(
            key,
            lambda: TortoiseLocationRepository.search(
                self, types=types, pickup_enabled=pickup_enabled, statuses=statuses
            ),
        )


class CachedSessionRepository(TortoiseSessionRepository):
    """A session once found is kept until a revocation commits (any revocation forgets every
    credential: they are rare), and at most 5 s. Unknown ones are not kept."""

    def __init__(self, cache: ReadCache):
        self._cache = cache

    async def _sessions(self, ids: list[UUID]) -> dict[UUID, AuthSession]:
        found = await TortoiseSessionRepository.get_session(self, ids[0])
        return {ids[0]: found} if found is not None else {}

    async def get_session(self, session_id: UUID) -> AuthSession | None:
        found = await self._cache.get_many(
            [session_id], self._sessions, space="session", remember_absent=False
        )
        return found.get(session_id)


class CachedDeviceRepository(TortoiseDeviceRepository):
    def __init__(self, cache: ReadCache):
        self._cache = cache

    async def _devices(self, hashes: list[str]) -> dict[str, Device]:
        found = await TortoiseDeviceRepository.get_by_token_hash(self, hashes[0])
        return {hashes[0]: found} if found is not None else {}

    async def get_by_token_hash(self, token_hash: str) -> Device | None:
        found = await self._cache.get_many(
            [token_hash], self._devices, space="device", remember_absent=False
        )
        return found.get(token_hash)


class CachedApiKeyRepository(TortoiseApiKeyRepository):
    def __init__(self, cache: ReadCache):
        self._cache = cache

    async def _keys(self, hashes: list[str]) -> dict[str, ApiKey]:
        found = await TortoiseApiKeyRepository.get_by_secret_hash(self, hashes[0])
        return {hashes[0]: found} if found is not None else {}

    async def get_by_secret_hash(self, secret_hash: str) -> ApiKey | None:
        found = await self._cache.get_many(
            [secret_hash], self._keys, space="api-key", remember_absent=False
        )
        return found.get(secret_hash)
