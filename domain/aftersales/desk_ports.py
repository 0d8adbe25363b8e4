"""What the customer-service desk needs from storage."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol
from uuid import UUID

from domain.aftersales.desk_model import InvoiceRequest, InvoiceStatus, Note
from domain.pagination import Page, PageRequest


class DeskRepository(Protocol):
    async def add_note(self, note: Note) -> None: ...
    async def notes_of(self, subject_ids: Sequence[UUID]) -> list[Note]:
        """Oldest first."""
        ...

    async def add_invoice(self, request: InvoiceRequest) -> bool:
        """False when the order has a request already (the unique key on the order)."""
        ...

    async def invoices_of_orders(self, order_ids: Sequence[UUID]) -> list[InvoiceRequest]: ...
    async def get_invoice(self, request_id: UUID) -> InvoiceRequest | None: ...
    async def mark_issued(self, request: InvoiceRequest) -> bool:
        """Store the request's number and issue time only while it is REQUESTED: False means
        another call issued it first."""
        ...

    async def invoices(
        self, status: InvoiceStatus | None, page: PageRequest
    ) -> Page[InvoiceRequest]:
        """Oldest first: the invoicing system's queue."""
        ...

    async def move_member(self, source: UUID, target: UUID) -> int:
        """A merge: the absorbed member's notes and invoice requests become the survivor's."""
        ...

    async def delete_member_notes(self, member_id: UUID) -> int:
        """An erasure: notes on the member may describe the person; they go."""
        ...

    async def invoices_of_member(self, member_id: UUID) -> list[InvoiceRequest]: ...
    async def actor_names(
        self, staff_ids: Sequence[UUID], device_ids: Sequence[UUID]
    ) -> dict[UUID, str]:
        """Staff usernames and device names by id (a read of identity's directory, for
        timelines)."""
        ...
