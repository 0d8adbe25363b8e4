"""Domain events and their handlers.

Handlers run inside the transaction of the use case that raised the event, so a context
that must move its rows when members merge (orders, points, subscriptions) does it
atomically with the merge, and a failing handler rolls the whole use case back.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

from domain.uow import UnitOfWork


@dataclass(frozen=True)
class MembersMerged:
    source_member_id: UUID
    target_member_id: UUID
    merge_id: UUID
    # Re-encrypts a ciphertext of the absorbed member's key (the merge destroys it) under the
    # survivor's, for handlers that hold personal data so encrypted (delivery addresses).
    reseal: Callable[[str], str] | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class PaymentReturned:
    """A refund of a payment no provider holds: a prepaid subscription's delivery, paid from
    the prepayment. The context that took the payment gives it back in this transaction (the
    delivery returns to the subscription, or its money comes from the prepayment) and adds
    `payment_id` to `settled`; a payment nobody settles waits for a provider as any refund."""

    order_id: UUID
    payment_id: UUID
    provider: str
    provider_ref: str
    amount: int
    why: str
    settled: set[UUID] = field(default_factory=set)


@dataclass(frozen=True)
class MemberErasing:
    """Sent before a member's data is erased: a context that must refuse (paid orders not
    collected yet) adds what stands in the way to `open_orders`."""

    member_id: UUID
    open_orders: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class MemberErased:
    member_id: UUID


@dataclass(frozen=True)
class PointsStandingChanged:
    """A member's points balance or tier changed (loyalty, in the change's transaction, before
    the account may be saved: the values travel with the event). Read models copy them."""

    member_id: UUID
    balance: int
    tier: str


@dataclass(frozen=True)
class ConsentsChanged:
    """The member recorded consent changes (granted or withdrawn; members' `record_consents`):
    read models copying the member's current consents refresh them."""

    member_id: UUID


@dataclass(frozen=True)
class MemberProfileChanged:
    """The member's profile (their birthday) changed: read models copying it refresh."""

    member_id: UUID


@dataclass(frozen=True)
class ReservationExpired:
    owner: str
    reservation_ids: tuple[UUID, ...]


@dataclass(frozen=True)
class ReservationsExpiring:
    """Sent before the sweeper releases expired reservations. The owners' context locks its
    records without waiting and adds to `busy` the owners it could not lock (someone is paying
    or cancelling that order right now): their reservations wait for the next sweep, so the
    sweeper never waits for a lock while it holds stock rows (no deadlock with checkout)."""

    owners: frozenset[str]
    busy: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class ReservationsAtRisk:
    """A till sale took the shelf below what online orders hold: the order side must react."""

    location_id: UUID
    variant_id: UUID
    owners: tuple[str, ...]
    reservation_ids: tuple[UUID, ...]


@dataclass(frozen=True)
class PosSaleRecorded:
    location_id: UUID
    transaction_id: str
    member_id: UUID | None
    lines: tuple[tuple[UUID, int, int], ...]  # (variant id, quantity, fen the till charged)
    points_to_redeem: int = 0  # the member showed their code: points pay part of the sale
    # Filled by the loyalty handler for the sale's answer: points `earned` now, points
    # `pending` approval and their `claim` id, points `redeemed`.
    points: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def paid(self) -> int:
        return sum(charged for _, _, charged in self.lines)


@dataclass(frozen=True)
class PosReturnRecorded:
    """Units of a member's till sale came back at the till: loyalty gives back the redeemed
    points they were paid with and takes back those earned on their money."""

    member_id: UUID
    sale_reference: str  # the sale's reference in the points ledger
    return_reference: str
    refunded: int  # fen paid back in money
    paid: int  # fen the whole sale was paid in money
    points_returned: int
    # Filled by the loyalty handler: the earned points taken `reversed`.
    points: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class RefundCompleted:
    """A refund's money is back with the customer (the provider said so)."""

    order_id: UUID
    refund_id: UUID


@dataclass(frozen=True)
class OrderPlaced:
    """A member's order was placed, in the checkout's transaction (not for a replay of its
    idempotency key): growth attributes it to the member's shopping guide."""

    order_id: UUID
    member_id: UUID
    placed_at: datetime


@dataclass(frozen=True)
class OrderPaid:
    """An order was paid, in the transaction that marks it PAID (ordering's `deps.events`).
    A handler may add live events to `live`: they are published once the payment commits."""

    order_id: UUID
    live: list[Any] = field(default_factory=list, compare=False)


@dataclass(frozen=True)
class OrderCancelled:
    """An order was cancelled (by anyone, or by a timeout), in that transaction; `was_paid`:
    its money is being refunded. Handlers may add live events to `live`."""

    order_id: UUID
    was_paid: bool
    live: list[Any] = field(default_factory=list, compare=False)


@dataclass(frozen=True)
class OrderAdvancing:
    """A paid order is about to be prepared, made ready or shipped: a context that must hold
    it back (a group-buy not complete yet) adds why to `blockers`, and the step is refused."""

    order_id: UUID
    blockers: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class OrderHandedOver:
    """An order's goods reached its member (picked up or delivered), in the hand-over's
    transaction: growth rewards an invitee's first order."""

    order_id: UUID
    member_id: UUID
    paid: int  # fen paid in money


@dataclass(frozen=True)
class OrderFullyRefunded:
    """Every unit of a handed-over order came back through after-sales: growth takes back a
    referral's rewards."""

    order_id: UUID
    member_id: UUID


@dataclass(frozen=True)
class MemberLoggedIn:
    """A login that named a referral code or a shopping guide's code (loginWithWechat,
    loginWithPhone), in the login's transaction; either code may be empty. `created`: OneID
    never saw this person and made the member now; `identity_hashes`: the keyed lookup hashes
    of the identifiers the login used."""

    member_id: UUID
    created: bool
    referral_code: str
    device: str | None
    identity_hashes: tuple[str, ...]
    guide_code: str = ""


@dataclass(frozen=True)
class RefundRetried:
    """A failed refund was recorded again (CS): `refund_id` takes the place of `failed_id`."""

    order_id: UUID
    failed_id: UUID
    refund_id: UUID
    actor: str


E = TypeVar("E")
Handler = Callable[[UnitOfWork, Any], Awaitable[None]]
Exporter = Callable[[UnitOfWork, UUID], Awaitable[Any]]


@dataclass(frozen=True)
class ExportScope:
    """Whose data a paged export section reads, and how to read what is encrypted under
    their key (delivery addresses)."""

    member_id: UUID
    reveal: Callable[[str], str] = field(compare=False, repr=False)


# One page of a list section: its items and where the next page starts (None: the last).
PagedExporter = Callable[
    [UnitOfWork, ExportScope, str | None], Awaitable[tuple[list[Any], str | None]]
]


class EventHandlers:
    def __init__(self) -> None:
        self._handlers: dict[type, list[Handler]] = defaultdict(list)

    def register(
        self, event_type: type[E], handler: Callable[[UnitOfWork, E], Awaitable[None]]
    ) -> None:
        self._handlers[event_type].append(handler)

    def unregister(self, event_type: type, handler: Handler) -> None:
        self._handlers[event_type].remove(handler)

    async def dispatch(self, uow: UnitOfWork, event: object) -> None:
        for handler in list(self._handlers[type(event)]):
            await handler(uow, event)


class DataExporters:
    """Sections of a member's data export; each context adds its own. A summary section is
    one value read with the member's record; a list section (orders, points entries...) is
    read page by page, each page in a transaction of its own, so an export of any size is
    streamed in bounded memory."""

    def __init__(self) -> None:
        self._sections: dict[str, Exporter] = {}
        self._lists: dict[str, PagedExporter] = {}

    def register(self, name: str, exporter: Exporter) -> None:
        self._sections[name] = exporter

    def register_list(self, name: str, exporter: PagedExporter) -> None:
        self._lists[name] = exporter

    def unregister(self, name: str) -> None:
        self._sections.pop(name, None)
        self._lists.pop(name, None)

    async def collect(self, uow: UnitOfWork, member_id: UUID) -> dict[str, Any]:
        return {name: await export(uow, member_id) for name, export in self._sections.items()}

    def lists(self) -> list[tuple[str, PagedExporter]]:
        return list(self._lists.items())
