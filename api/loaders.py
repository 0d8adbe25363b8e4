"""Dataloaders, created per request: every list resolves its children in one query."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import TYPE_CHECKING, TypeVar
from uuid import UUID

from strawberry.dataloader import DataLoader

from domain.catalog.model import Category, Product, Variant
from domain.inventory.model import StockLevel
from domain.locations.model import Location, LocationStatus
from domain.members.model import ConsentRecord, Identity, Member
from domain.ordering.model import OrderEvent, Payment, PickupCode

if TYPE_CHECKING:
    from infra.db.uow import Repositories

T = TypeVar("T")


def _in_key_order(
    keys: Sequence[UUID], items: Sequence[T], key_of: dict[UUID, T]
) -> list[T | None]:
    return [key_of.get(k) for k in keys]


class Loaders:
    def __init__(self, repos: Repositories):
        catalog, locations = repos.catalog, repos.locations

        async def products(keys: list[UUID]) -> list[Product | None]:
            found = await catalog.get_products(keys)
            return _in_key_order(keys, found, {p.id: p for p in found})

        async def variants(keys: list[UUID]) -> list[Variant | None]:
            found = await catalog.get_variants(keys)
            return _in_key_order(keys, found, {v.id: v for v in found})

        async def variants_by_product(keys: list[UUID]) -> list[list[Variant]]:
            grouped: dict[UUID, list[Variant]] = defaultdict(list)
            for variant in await catalog.variants_of(keys):
                grouped[variant.product_id].append(variant)
            return [grouped.get(k, []) for k in keys]

        async def categories(keys: list[UUID]) -> list[Category | None]:
            found = await catalog.get_categories(keys)
            return _in_key_order(keys, found, {c.id: c for c in found})

        async def locations_(keys: list[UUID]) -> list[Location | None]:
            found = await locations.get_many(keys)
            return _in_key_order(keys, found, {loc.id: loc for loc in found})

        members_repo = repos.members

        async def members(keys: list[UUID]) -> list[Member | None]:
            found = await members_repo.get_many(keys)
            return _in_key_order(keys, found, {m.id: m for m in found})

        async def identities(keys: list[UUID]) -> list[list[Identity]]:
            grouped: dict[UUID, list[Identity]] = defaultdict(list)
            for identity in await members_repo.identities_of(keys):
                grouped[identity.member_id].append(identity)
            return [grouped.get(k, []) for k in keys]

        async def consents(keys: list[UUID]) -> list[list[ConsentRecord]]:
            grouped: dict[UUID, list[ConsentRecord]] = defaultdict(list)
            for record in await members_repo.consents_of(keys):
                grouped[record.member_id].append(record)
            return [grouped.get(k, []) for k in keys]

        inventory = repos.inventory

        async def levels_by_variant(keys: list[UUID]) -> list[list[StockLevel]]:
            grouped: dict[UUID, list[StockLevel]] = defaultdict(list)
            for level in await inventory.levels(keys):
                grouped[level.variant_id].append(level)
            return [grouped.get(k, []) for k in keys]

        async def active_locations(keys: list[str]) -> list[dict[UUID, Location]]:
            found = await locations.search(
                types=None, pickup_enabled=None, statuses=[LocationStatus.ACTIVE]
            )
            network = {loc.id: loc for loc in found}
            return [network for _ in keys]

        orders = repos.orders

        async def events_by_order(keys: list[UUID]) -> list[list[OrderEvent]]:
            grouped: dict[UUID, list[OrderEvent]] = defaultdict(list)
            for event in await orders.events_of(keys):
                grouped[event.order_id].append(event)
            return [grouped.get(k, []) for k in keys]

        async def payments_by_order(keys: list[UUID]) -> list[list[Payment]]:
            grouped: dict[UUID, list[Payment]] = defaultdict(list)
            for payment in await orders.payments_of(keys):
                grouped[payment.order_id].append(payment)
            return [grouped.get(k, []) for k in keys]

        async def pickup_by_order(keys: list[UUID]) -> list[PickupCode | None]:
            found = await orders.pickups_of(keys)
            return _in_key_order(keys, found, {p.order_id: p for p in found})

        self.events_by_order = DataLoader(events_by_order)
        self.payments_by_order = DataLoader(payments_by_order)
        self.pickup_by_order = DataLoader(pickup_by_order)
        self.levels_by_variant = DataLoader(levels_by_variant)
        self.network = DataLoader(active_locations)  # one key, "all": the active network
        self.member = DataLoader(members)
        self.identities_by_member = DataLoader(identities)
        self.consents_by_member = DataLoader(consents)
        self.product = DataLoader(products)
        self.variant = DataLoader(variants)
        self.variants_by_product = DataLoader(variants_by_product)
        self.category = DataLoader(categories)
        self.location = DataLoader(locations_)
