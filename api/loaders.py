"""Dataloaders, created per request: every list resolves its children in one query."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, TypeVar
from uuid import UUID

from strawberry.dataloader import DataLoader

from domain.aftersales.desk import actor_ids, readable_actors
from domain.aftersales.desk_model import InvoiceRequest, Note
from domain.aftersales.model import AfterSale, AfterSaleEvent
from domain.aftersales.review_model import Rating, Review
from domain.catalog.model import Category, Product, ProductMedia, Variant
from domain.clock import Clock, SystemClock
from domain.engagement.automations_model import SendOutcome
from domain.engagement.facts_model import MemberFacts
from domain.engagement.tags_model import MemberTag, Tag
from domain.growth.guides import named
from domain.growth.guides_model import Guide
from domain.inventory.availability import totals_online
from domain.inventory.model import StockLevel
from domain.locations.model import Location, LocationStatus
from domain.loyalty.model import Account
from domain.members.model import ConsentRecord, Identity, Member
from domain.ordering.model import Order, OrderEvent, Payment, PickupCode
from domain.outbox import OutboxMessage
from domain.pagination import Page, PageRequest
from domain.promotions.flash_sales import live_by_variant
from domain.promotions.flash_sales_model import FlashSale
from domain.promotions.member_prices_model import MemberPrice
from domain.subscriptions.model import Cycle, SubscriptionChange

if TYPE_CHECKING:
    from infra.db.uow import Repositories

T = TypeVar("T")
K = TypeVar("K")
V = TypeVar("V")
R = TypeVar("R")


def now_or_later(
    loader: DataLoader[K, V | None], key: K, convert: Callable[[V], R]
) -> R | Awaitable[R | None] | None:
    """The converted value when the loader holds it already, else an awaitable of it (a
    resolver may return either: graphql-core awaits what needs awaiting)."""
    loaded = loader.cache_map.get(key)
    if loaded is not None and loaded.done() and not loaded.cancelled():
        found = loaded.result()
        return convert(found) if found else None

    async def later() -> R | None:
        found = await loader.load(key)
        return convert(found) if found else None

    return later()


def _in_key_order(
    keys: Sequence[UUID], items: Sequence[T], key_of: dict[UUID, T]
) -> list[T | None]:
    return [key_of.get(k) for k in keys]


def _grouped(
    items: Sequence[T], keys: Sequence[UUID], key_of: Callable[[T], UUID | None]
) -> list[list[T]]:
    grouped: dict[UUID | None, list[T]] = defaultdict(list)
    for item in items:
        grouped[key_of(item)].append(item)
    return [grouped.get(k, []) for k in keys]


class Loaders:
    """One DataLoader per kind of child, made the first time a request asks for it (most
    requests use one or two of them)."""

    def __init__(self, repos: Repositories, clock: Clock | None = None):
        self._repos = repos
        self._clock = clock or SystemClock()

    async def _flash_sales(self, keys: list[UUID]) -> list[FlashSale | None]:
        now = self._clock.now()
        live = live_by_variant(
            await self._repos.flash_sales.flash_sales_of_variants(keys, now), now
        )
        return [live.get(k) for k in keys]

    @cached_property
    def flash_sale(self) -> DataLoader[UUID, FlashSale | None]:
        """The live flash sale of a variant."""
        return DataLoader(self._flash_sales)

    async def _products(self, keys: list[UUID]) -> list[Product | None]:
        found = await self._repos.catalog.get_products(keys)
        return _in_key_order(keys, found, {p.id: p for p in found})

    async def _variants(self, keys: list[UUID]) -> list[Variant | None]:
        found = await self._repos.catalog.get_variants(keys)
        return _in_key_order(keys, found, {v.id: v for v in found})

    async def _variants_by_product(self, keys: list[UUID]) -> list[list[Variant]]:
        found = await self._repos.catalog.variants_of(keys)
        return _grouped(found, keys, lambda v: v.product_id)

    async def _media_by_product(self, keys: list[UUID]) -> list[list[ProductMedia]]:
        found = await self._repos.catalog.media_of(keys)
        return _grouped(found, keys, lambda item: item.product_id)

    async def _categories(self, keys: list[UUID]) -> list[Category | None]:
        found = await self._repos.catalog.get_categories(keys)
        return _in_key_order(keys, found, {c.id: c for c in found})

    async def _locations(self, keys: list[UUID]) -> list[Location | None]:
        found = await self._repos.locations.get_many(keys)
        return _in_key_order(keys, found, {loc.id: loc for loc in found})

    async def _members(self, keys: list[UUID]) -> list[Member | None]:
        found = await self._repos.members.get_many(keys)
        return _in_key_order(keys, found, {m.id: m for m in found})

    async def _points_accounts(self, keys: list[UUID]) -> list[Account | None]:
        found = await self._repos.loyalty.get_accounts(keys)
        return _in_key_order(keys, found, {a.member_id: a for a in found})

    async def _member_prices(self, keys: list[UUID]) -> list[list[MemberPrice]]:
        found = await self._repos.member_prices.of_variants(keys)
        return _grouped(found, keys, lambda p: p.variant_id)

    async def _identities(self, keys: list[UUID]) -> list[list[Identity]]:
        found = await self._repos.members.identities_of(keys)
        return _grouped(found, keys, lambda i: i.member_id)

    async def _consents(self, keys: list[UUID]) -> list[list[ConsentRecord]]:
        found = await self._repos.members.consents_of(keys)
        return _grouped(found, keys, lambda r: r.member_id)

    async def _levels_by_variant(self, keys: list[UUID]) -> list[list[StockLevel]]:
        found = await self._repos.inventory.levels(keys)
        return _grouped(found, keys, lambda level: level.variant_id)

    async def _online_totals(self, keys: list[UUID]) -> list[int]:
        totals = await totals_online(self._repos.inventory, keys, await self.network.load("all"))
        return [totals[k] for k in keys]

    async def _active_locations(self, keys: list[str]) -> list[dict[UUID, Location]]:
        found = await self._repos.locations.search(
            types=None, pickup_enabled=None, statuses=[LocationStatus.ACTIVE]
        )
        network = {loc.id: loc for loc in found}
        return [network for _ in keys]

    async def _orders(self, keys: list[UUID]) -> list[Order | None]:
        found = await self._repos.orders.get_many(keys)
        return _in_key_order(keys, found, {o.id: o for o in found})

    async def _events_by_order(self, keys: list[UUID]) -> list[list[OrderEvent]]:
        found = await self._repos.orders.events_of(keys)
        return _grouped(found, keys, lambda e: e.order_id)

    async def _payments_by_order(self, keys: list[UUID]) -> list[list[Payment]]:
        found = await self._repos.orders.payments_of(keys)
        return _grouped(found, keys, lambda p: p.order_id)

    async def _pickup_by_order(self, keys: list[UUID]) -> list[PickupCode | None]:
        found = await self._repos.orders.pickups_of(keys)
        return _in_key_order(keys, found, {p.order_id: p for p in found})

    async def _notifications_by_order(self, keys: list[UUID]) -> list[list[OutboxMessage]]:
        found = await self._repos.outbox.for_orders(keys)
        return _grouped(found, keys, lambda n: n.order_id)

    async def _changes_by_subscription(self, keys: list[UUID]) -> list[list[SubscriptionChange]]:
        found = await self._repos.subscriptions.changes_of(keys)
        return _grouped(found, keys, lambda c: c.subscription_id)

    async def _cycles_by_subscription(self, keys: list[UUID]) -> list[list[Cycle]]:
        found = await self._repos.subscriptions.cycles_of(keys)
        return _grouped(found, keys, lambda c: c.subscription_id)

    async def _notes(self, keys: list[UUID]) -> list[list[Note]]:
        found = await self._repos.desk.notes_of(keys)
        return _grouped(found, keys, lambda n: n.subject_id)

    async def _order_stores(self, keys: list[UUID]) -> list[set[UUID]]:
        found = await self._repos.orders.stores_of_members(keys)
        return [found.get(k, set()) for k in keys]

    @cached_property
    def order_stores_of_member(self) -> DataLoader[UUID, set[UUID]]:
        """The stores each member has orders at: who of the store staff may read their notes."""
        return DataLoader(self._order_stores)

    async def _invoice_by_order(self, keys: list[UUID]) -> list[InvoiceRequest | None]:
        found = await self._repos.desk.invoices_of_orders(keys)
        return _in_key_order(keys, found, {i.order_id: i for i in found})

    async def _guides(self, keys: list[UUID]) -> list[Guide | None]:
        bindings = await self._repos.guides.bindings(keys)
        staff = {s.id: s for s in await self._repos.staff.get_many([b.staff_id for b in bindings])}
        by_member = {b.member_id: named(b, staff.get(b.staff_id)) for b in bindings}
        return [by_member.get(k) for k in keys]

    @cached_property
    def guide_of_member(self) -> DataLoader[UUID, Guide | None]:
        """A member's shopping guide, with the guide's name."""
        return DataLoader(self._guides)

    async def _tags(self, keys: list[UUID]) -> list[list[tuple[MemberTag, Tag]]]:
        found = await self._repos.tags.of_members(keys)
        tags = {t.id: t for t in await self._repos.tags.get_many(list({f.tag_id for f in found}))}
        by_member: dict[UUID, list[tuple[MemberTag, Tag]]] = defaultdict(list)
        for member_tag in found:
            by_member[member_tag.member_id].append((member_tag, tags[member_tag.tag_id]))
        return [by_member.get(k, []) for k in keys]

    @cached_property
    def tags_of_member(self) -> DataLoader[UUID, list[tuple[MemberTag, Tag]]]:
        """A member's tags with their definitions, oldest first (two statements a list)."""
        return DataLoader(self._tags)

    async def _facts(self, keys: list[UUID]) -> list[MemberFacts | None]:
        found = await self._repos.member_facts.get_many(keys)
        return _in_key_order(keys, found, {f.member_id: f for f in found})

    @cached_property
    def facts_of_member(self) -> DataLoader[UUID, MemberFacts | None]:
        """A member's facts row (engagement), if built."""
        return DataLoader(self._facts)

    async def _automation_runs(self, keys: list[UUID]) -> list[dict[SendOutcome, int]]:
        found = await self._repos.automations.counts(keys)
        return [found.get(k, {}) for k in keys]

    @cached_property
    def automation_runs(self) -> DataLoader[UUID, dict[SendOutcome, int]]:
        """An automation's sends per outcome (ADMIN's list of automations)."""
        return DataLoader(self._automation_runs)

    async def _actor_names(self, keys: list[str]) -> list[str]:
        staff, devices = actor_ids(keys)
        names = await self._repos.desk.actor_names(staff, devices) if staff or devices else {}
        return readable_actors(keys, names)

    @cached_property
    def notes_by_subject(self) -> DataLoader[UUID, list[Note]]:
        """Internal notes on a member or an order, oldest first."""
        return DataLoader(self._notes)

    @cached_property
    def invoice_by_order(self) -> DataLoader[UUID, InvoiceRequest | None]:
        return DataLoader(self._invoice_by_order)

    @cached_property
    def actor_name(self) -> DataLoader[str, str]:
        """An audit label (`STAFF:<id>`, `DEVICE:<id>`, `SYSTEM`...) as a timeline shows it:
        one read of staff and devices for every label of the request."""
        return DataLoader(self._actor_names)

    @cached_property
    def notifications_by_order(self) -> DataLoader[UUID, list[OutboxMessage]]:
        return DataLoader(self._notifications_by_order)

    @cached_property
    def changes_by_subscription(self) -> DataLoader[UUID, list[SubscriptionChange]]:
        return DataLoader(self._changes_by_subscription)

    @cached_property
    def cycles_by_subscription(self) -> DataLoader[UUID, list[Cycle]]:
        return DataLoader(self._cycles_by_subscription)

    async def _cycle_by_order(self, keys: list[UUID]) -> list[Cycle | None]:
        found = {c.order_id: c for c in await self._repos.subscriptions.cycles_of_orders(keys)}
        return [found.get(k) for k in keys]

    @cached_property
    def cycle_by_order(self) -> DataLoader[UUID, Cycle | None]:
        """The renewal cycle that placed an order (None: not a renewal order)."""
        return DataLoader(self._cycle_by_order)

    async def _after_sales_by_order(self, keys: list[UUID]) -> list[list[AfterSale]]:
        found = await self._repos.aftersales.of_orders(keys)
        return _grouped(found, keys, lambda a: a.order_id)

    async def _events_by_after_sale(self, keys: list[UUID]) -> list[list[AfterSaleEvent]]:
        found = await self._repos.aftersales.events_of(keys)
        return _grouped(found, keys, lambda e: e.after_sale_id)

    @cached_property
    def after_sales_by_order(self) -> DataLoader[UUID, list[AfterSale]]:
        return DataLoader(self._after_sales_by_order)

    @cached_property
    def events_by_after_sale(self) -> DataLoader[UUID, list[AfterSaleEvent]]:
        return DataLoader(self._events_by_after_sale)

    @cached_property
    def order(self) -> DataLoader[UUID, Order | None]:
        return DataLoader(self._orders)

    @cached_property
    def events_by_order(self) -> DataLoader[UUID, list[OrderEvent]]:
        return DataLoader(self._events_by_order)

    @cached_property
    def payments_by_order(self) -> DataLoader[UUID, list[Payment]]:
        return DataLoader(self._payments_by_order)

    @cached_property
    def pickup_by_order(self) -> DataLoader[UUID, PickupCode | None]:
        return DataLoader(self._pickup_by_order)

    @cached_property
    def levels_by_variant(self) -> DataLoader[UUID, list[StockLevel]]:
        return DataLoader(self._levels_by_variant)

    @cached_property
    def online_total(self) -> DataLoader[UUID, int]:
        """Per variant, what the online channels can sell (`totals_online`)."""
        return DataLoader(self._online_totals)

    @cached_property
    def network(self) -> DataLoader[str, dict[UUID, Location]]:
        """One key, "all": the active network."""
        return DataLoader(self._active_locations)

    @cached_property
    def member(self) -> DataLoader[UUID, Member | None]:
        return DataLoader(self._members)

    @cached_property
    def points_account(self) -> DataLoader[UUID, Account | None]:
        return DataLoader(self._points_accounts)

    @cached_property
    def member_prices_by_variant(self) -> DataLoader[UUID, list[MemberPrice]]:
        return DataLoader(self._member_prices)

    @cached_property
    def identities_by_member(self) -> DataLoader[UUID, list[Identity]]:
        return DataLoader(self._identities)

    @cached_property
    def consents_by_member(self) -> DataLoader[UUID, list[ConsentRecord]]:
        return DataLoader(self._consents)

    @cached_property
    def product(self) -> DataLoader[UUID, Product | None]:
        return DataLoader(self._products)

    @cached_property
    def variant(self) -> DataLoader[UUID, Variant | None]:
        return DataLoader(self._variants)

    @cached_property
    def variants_by_product(self) -> DataLoader[UUID, list[Variant]]:
        return DataLoader(self._variants_by_product)

    @cached_property
    def media_by_product(self) -> DataLoader[UUID, list[ProductMedia]]:
        return DataLoader(self._media_by_product)

    @cached_property
    def category(self) -> DataLoader[UUID, Category | None]:
        return DataLoader(self._categories)

    @cached_property
    def location(self) -> DataLoader[UUID, Location | None]:
        return DataLoader(self._locations)

    async def _ratings(self, keys: list[UUID]) -> list[Rating]:
        found = await self._repos.reviews.ratings(keys)
        return [found.get(k, Rating(0, 0)) for k in keys]

    @cached_property
    def rating(self) -> DataLoader[UUID, Rating]:
        """Per product, its published reviews' count and stars."""
        return DataLoader(self._ratings)

    async def _published_reviews(self, keys: list[tuple[UUID, PageRequest]]) -> list[Page[Review]]:
        """One statement per page request (a product list asks the same of every product)."""
        pages: dict[tuple[UUID, PageRequest], Page[Review]] = {}
        for request in dict.fromkeys(page for _, page in keys):
            products = [product for product, page in keys if page == request]
            found = await self._repos.reviews.published_of(products, request)
            pages.update(((product, request), found[product]) for product in products)
        return [pages[k] for k in keys]

    @cached_property
    def published_reviews(self) -> DataLoader[tuple[UUID, PageRequest], Page[Review]]:
        """(product, page) -> that page of the product's published reviews."""
        return DataLoader(self._published_reviews)

    async def _review_by_line(self, keys: list[UUID]) -> list[Review | None]:
        found = await self._repos.reviews.of_lines(keys)
        return _in_key_order(keys, found, {r.order_line_id: r for r in found})

    @cached_property
    def review_by_line(self) -> DataLoader[UUID, Review | None]:
        return DataLoader(self._review_by_line)
