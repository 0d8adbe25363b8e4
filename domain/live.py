"""Live events: small notices pushed to screens that watch a store or an order.

A context publishes a `LiveEvent` after its transaction has committed, so a subscriber never
sees state that could still roll back. Live events are hints for screens (the kiosk pickup
board, an order page), not records: the database stays the truth, a subscriber that may have
missed events is told so (`LiveEventsError`) and refetches, and a failure to publish is
logged by the adapter rather than raised into a use case that already committed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from uuid import UUID

Payload = dict[str, str]


@dataclass(frozen=True)
class LiveEvent:
    topic: str
    payload: Payload


def pickup_board_topic(location_id: UUID) -> str:
    return f"pickup-board:{location_id}"


def order_topic(order_id: UUID) -> str:
    return f"order:{order_id}"


def mask_name(name: str | None) -> str | None:
    """What a public screen shows of a customer: the first character only (王**, A**)."""
    name = (name or "").strip()
    return f"{name[0]}**" if name else None


def pickup_board_event(
    location_id: UUID,
    *,
    order_id: UUID,
    order_number: str,
    pickup_number: str | None,
    status: str,
    customer_name: str | None,
    at: datetime,
) -> LiveEvent:
    """An order changed on a store's pickup board. The name is masked here, so a full name
    never travels through the bus."""
    payload = {
        "order_id": str(order_id),
        "order_number": order_number,
        "status": status,
        "at": at.isoformat(),
    }
    if pickup_number is not None:
        payload["pickup_number"] = pickup_number
    label = mask_name(customer_name)
    if label is not None:
        payload["customer_label"] = label
    return LiveEvent(pickup_board_topic(location_id), payload)


def order_update_event(
    order_id: UUID, *, status: str, previous: str | None = None, at: datetime
) -> LiveEvent:
    payload = {"order_id": str(order_id), "status": status, "at": at.isoformat()}
    if previous is not None:
        payload["from"] = previous
    return LiveEvent(order_topic(order_id), payload)


class Freshness:
    """Passes each order's events once and in order: an event is fresh when it is newer (its
    `at`) than the last one passed for the same order, or as new with another status. A board
    subscription subscribes first, then reads the board's state (a snapshot, passed here
    first), then streams: an event the snapshot already reflects, or one delivered late behind
    a newer one, is dropped."""

    def __init__(self) -> None:
        self._last: dict[str, tuple[datetime, set[str]]] = {}

    def admit(self, event: LiveEvent) -> bool:
        order, status = event.payload["order_id"], event.payload["status"]
        at = datetime.fromisoformat(event.payload["at"])
        last = self._last.get(order)
        if last is None or at > last[0]:
            self._last[order] = (at, {status})
            return True
        if at == last[0] and status not in last[1]:
            last[1].add(status)
            return True
        return False


class LiveEventsError(Exception):
    """A subscription cannot start or go on, so events may be missed: refetch, subscribe again.

    code: SLOW_CONSUMER (the subscriber fell too far behind) or LIVE_EVENTS_UNAVAILABLE (the
    bus cannot reach its broker, lost the connection, or is shutting down).
    """

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


class LiveEvents(Protocol):
    async def publish(self, event: LiveEvent) -> None:
        """Deliver to every current subscriber of the topic, in this process or another.
        Best effort: transport failures are logged, not raised."""
        ...

    def subscribe(self, topic: str) -> AbstractAsyncContextManager[AsyncIterator[LiveEvent]]:
        """`async with live.subscribe(topic) as events: async for event in events: ...`

        Entering returns once events published from then on will arrive (or raises
        LiveEventsError); leaving the block unsubscribes. Iteration ends with LiveEventsError
        when events may have been missed.
        """
        ...


class OrderAccess(Protocol):
    """What the live API needs from the ordering context to authorise `orderUpdated`."""

    async def order_parties(self, order_id: UUID) -> tuple[UUID | None, UUID] | None:
        """(member id or None for a guest order, fulfilling location id); None if unknown."""
        ...
