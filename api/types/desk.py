"""The customer-service desk's types: internal notes and e-invoice requests."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from strawberry.types import Info

from api.context import Context
from api.relay import encode_id
from domain.aftersales import desk_model as m
from domain.aftersales.desk import open_invoice

strawberry.enum(m.InvoiceStatus)


async def actor_name(info: Info[Context, Any], label: str) -> str:
    return await info.context.loaders.actor_name.load(label)


@strawberry.type(description="An internal note on a member or an order: staff only.")
class StaffNote:
    id: strawberry.ID
    text: str
    author: str = strawberry.field(description="The audit label of who wrote it.")
    created_at: datetime

    @strawberry.field(description="Who wrote it, readable: the staff username.")
    async def author_name(self, info: Info[Context, Any]) -> str:
        return await actor_name(info, self.author)

    @classmethod
    def from_domain(cls, note: m.Note) -> StaffNote:
        return cls(
            id=encode_id("StaffNote", note.id),
            text=note.text,
            author=note.author,
            created_at=note.created_at,
        )


@strawberry.type(description="An e-invoice request (发票) for a paid order, one per order.")
class InvoiceRequest:
    id: strawberry.ID
    order_id: strawberry.ID
    status: m.InvoiceStatus
    title: str
    tax_id: str | None
    email: str
    requested_at: datetime
    invoice_number: str | None
    issued_at: datetime | None

    @classmethod
    def from_domain(cls, request: m.InvoiceRequest, details: m.InvoiceDetails) -> InvoiceRequest:
        return cls(
            id=encode_id("InvoiceRequest", request.id),
            order_id=encode_id("Order", request.order_id),
            status=request.status,
            title=details.title,
            tax_id=details.tax_id,
            email=details.email,
            requested_at=request.requested_at,
            invoice_number=request.invoice_number,
            issued_at=request.issued_at,
        )

    @classmethod
    def opened(cls, info: Info[Context, Any], request: m.InvoiceRequest) -> InvoiceRequest:
        return cls.from_domain(request, open_invoice(info.context.runtime.desk, request))
