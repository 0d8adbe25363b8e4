"""Storage and payment agreements for subscriptions."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Protocol
from uuid import UUID

from domain.pagination import Page, PageRequest
from domain.subscriptions.model import Cycle, Plan, Subscription, SubscriptionChange


class SubscriptionRepository(Protocol):
    async def add_plan(self, plan: Plan) -> None: ...
    async def get_plan(self, plan_id: UUID, *, lock: bool = False) -> Plan | None: ...
    async def save_plan(self, plan: Plan) -> None: ...
    async def list_plans(self, active_only: bool) -> list[Plan]: ...
    async def add(self, subscription: Subscription) -> None: ...
    async def get(
        self, subscription_id: UUID, *, lock: bool = False, skip_locked: bool = False
    ) -> Subscription | None:
        """`skip_locked` (with `lock`): None when another transaction holds the row."""
        ...

    async def save(self, subscription: Subscription) -> None: ...
    async def for_member(self, member_id: UUID, page: PageRequest) -> Page[Subscription]: ...
    async def due(self, order_by: date, now: datetime, limit: int) -> list[Subscription]:
        """ACTIVE ones whose next date is on or before `order_by`, and PAST_DUE ones whose
        retry is due; locked with SKIP LOCKED so concurrent workers take different rows."""
        ...

    async def reminders_due(
        self, by: date, limit: int, after: UUID | None = None
    ) -> list[Subscription]:
        """Active subscriptions with a delivery by `by`, in id order, after `after`."""
        ...

    async def prepaid_active(self, after: UUID | None, limit: int) -> list[Subscription]:
        """ACTIVE prepaid subscriptions (周期购), in id order after `after`."""
        ...

    async def paused_until_due(self, by: date, limit: int) -> list[Subscription]:
        """PAUSED subscriptions whose `paused_until` is on or before `by` (UTC date + 1 day
        covers every time zone; the caller checks the store-local date)."""
        ...

    async def add_change(self, change: SubscriptionChange) -> None: ...
    async def changes_of(self, subscription_ids: Sequence[UUID]) -> list[SubscriptionChange]: ...
    async def claim_cycle(self, cycle: Cycle) -> bool:
        """Insert the cycle; False if (subscription, number) exists: someone processed it."""
        ...

    async def open_cycle(self, subscription_id: UUID) -> Cycle | None:
        """The cycle whose order waits for payment (ORDERED), if any."""
        ...

    async def save_cycle(self, cycle: Cycle) -> None: ...
    async def cycles_of(self, subscription_ids: Sequence[UUID]) -> list[Cycle]: ...
    async def cycles_of_orders(self, order_ids: Sequence[UUID]) -> list[Cycle]:
        """The cycles that placed these orders (renewal orders; others have none)."""
        ...

    async def orders_due_after(self, location_id: UUID, day: date) -> list[UUID]:
        """Paid renewal orders for pickup at `location_id` whose delivery date is after `day`:
        what a store's queue holds back until their date."""
        ...

    async def move_member(self, source: UUID, target: UUID) -> int: ...


class PaymentDeclined(Exception):
    """The agreement ("withhold") charge was refused: retry later or pause."""


class AgreementPayments(Protocol):
    name: str

    async def withhold(
        self, agreement: str, amount: int, currency: str, idempotency_key: str
    ) -> str:
        """Charge a signed payment agreement; returns the provider's reference. The same
        idempotency key never charges twice. Raises PaymentDeclined."""
        ...
