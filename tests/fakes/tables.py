"""What the database would hold: one `Tables` shared by every fake repository.

`FakeUnitOfWork` snapshots it when it starts and puts the snapshot back when its block
raises, so a use case that fails half-way leaves nothing behind, as a rolled-back
transaction would."""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from typing import Any, TypeVar
from uuid import UUID

from domain.aftersales.model import AfterSale, AfterSaleEvent
from domain.catalog.model import Category, Product, ProductMedia, Variant
from domain.growth.group_buys_model import Group, GroupBuyCampaign, Seat
from domain.identity.model import AuthSession, RefreshToken, StaffAction, StaffUser
from domain.inventory.model import (
    Discrepancy,
    Movement,
    Reservation,
    StockLevel,
    Transfer,
)
from domain.inventory.till_model import PosReturn, TillSale
from domain.locations.model import Location
from domain.loyalty.model import Account, Entry, Hold, Lot, PointsClaim
from domain.members.model import (
    ConsentRecord,
    Identity,
    Member,
    MemberMerge,
    MergeCandidate,
    PhoneCode,
    PiiAccess,
)
from domain.ordering.model import Order, OrderEvent, Payment, PickupCode
from domain.outbox import OutboxMessage
from domain.pagination import Page, PageRequest
from domain.promotions.flash_sales_model import FlashSale, FlashTake
from domain.promotions.member_prices_model import MemberPrice

LevelKey = tuple[UUID, UUID]  # (location, variant)
T = TypeVar("T")


@dataclass
class Tables:
    # identity and members
    members: dict[UUID, Member] = field(default_factory=dict)
    identities: dict[UUID, Identity] = field(default_factory=dict)
    consents: dict[UUID, ConsentRecord] = field(default_factory=dict)
    merges: dict[UUID, MemberMerge] = field(default_factory=dict)
    merge_candidates: dict[UUID, MergeCandidate] = field(default_factory=dict)
    phone_codes: dict[UUID, PhoneCode] = field(default_factory=dict)
    pii_access: dict[UUID, PiiAccess] = field(default_factory=dict)
    staff: dict[UUID, StaffUser] = field(default_factory=dict)
    staff_actions: list[StaffAction] = field(default_factory=list)
    sessions: dict[UUID, AuthSession] = field(default_factory=dict)
    refresh_tokens: dict[UUID, RefreshToken] = field(default_factory=dict)
    # catalog and locations
    products: dict[UUID, Product] = field(default_factory=dict)
    variants: dict[UUID, Variant] = field(default_factory=dict)
    categories: dict[UUID, Category] = field(default_factory=dict)
    media: dict[UUID, ProductMedia] = field(default_factory=dict)
    locations: dict[UUID, Location] = field(default_factory=dict)
    # inventory
    levels: dict[LevelKey, StockLevel] = field(default_factory=dict)
    reservations: dict[UUID, Reservation] = field(default_factory=dict)
    movements: list[Movement] = field(default_factory=list)
    transfers: dict[UUID, Transfer] = field(default_factory=dict)
    pos_transactions: dict[tuple[UUID, str], dict[str, Any]] = field(default_factory=dict)
    discrepancies: list[Discrepancy] = field(default_factory=list)
    till_sales: dict[tuple[UUID, str], TillSale] = field(default_factory=dict)
    pos_returns: dict[UUID, PosReturn] = field(default_factory=dict)
    # ordering
    orders: dict[UUID, Order] = field(default_factory=dict)
    order_events: list[OrderEvent] = field(default_factory=list)
    payments: dict[UUID, Payment] = field(default_factory=dict)
    pickups: dict[UUID, PickupCode] = field(default_factory=dict)  # by order
    pickup_counters: dict[tuple[UUID, date], int] = field(default_factory=dict)
    # loyalty
    accounts: dict[UUID, Account] = field(default_factory=dict)
    entries: list[Entry] = field(default_factory=list)
    lots: dict[UUID, Lot] = field(default_factory=dict)
    holds: dict[UUID, Hold] = field(default_factory=dict)
    growth: list[tuple[UUID, int, datetime, str]] = field(default_factory=list)
    tier_changes: list[tuple[UUID, str, str, datetime]] = field(default_factory=list)
    claims: dict[UUID, PointsClaim] = field(default_factory=dict)
    # after-sales
    after_sales: dict[UUID, AfterSale] = field(default_factory=dict)
    after_sale_events: list[AfterSaleEvent] = field(default_factory=list)
    # shared
    idempotency: dict[tuple[str, str], tuple[str, dict[str, Any] | None]] = field(
        default_factory=dict
    )
    outbox: dict[UUID, OutboxMessage] = field(default_factory=dict)
    # after-sales: member codes used at the till, by nonce (member, actor, used at)
    # nonce -> (member, actor, used at, expires at)
    member_code_uses: dict[str, tuple[UUID, str, datetime, datetime]] = field(default_factory=dict)
    # promotions: flash sales, units per (sale, member), each order's takes
    flash_sales: dict[UUID, FlashSale] = field(default_factory=dict)
    flash_sale_buyers: dict[tuple[UUID, UUID], int] = field(default_factory=dict)
    flash_sale_takes: dict[UUID, list[FlashTake]] = field(default_factory=dict)
    # growth: group-buy campaigns, groups, seats, seats per (campaign, member)
    group_buy_campaigns: dict[UUID, GroupBuyCampaign] = field(default_factory=dict)
    group_buys: dict[UUID, Group] = field(default_factory=dict)
    group_buy_seats: dict[UUID, Seat] = field(default_factory=dict)
    group_buy_members: dict[tuple[UUID, UUID], int] = field(default_factory=dict)
    # promotions
    member_prices: dict[tuple[UUID, str], MemberPrice] = field(default_factory=dict)

    def snapshot(self) -> Tables:
        return copy.deepcopy(self)

    def restore(self, snapshot: Tables) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(snapshot, f.name))


def page_of(
    rows: Sequence[T], key: Callable[[T], str], page: PageRequest, *, newest_first: bool = False
) -> Page[T]:
    """A page of `rows` ordered by `key` (ids are time-ordered UUIDs: newest first is
    descending), after the cursor, as the repositories page with `first + 1` rows."""
    ordered = sorted(rows, key=key, reverse=newest_first)
    if page.after is not None:
        after = page.after
        ordered = [r for r in ordered if (key(r) < after if newest_first else key(r) > after)]
    fetched = ordered[: page.first + 1]
    return Page.from_rows(fetched, [key(r) for r in fetched], page)
