"""The customer-service desk's mutations: internal notes, e-invoice requests."""

from __future__ import annotations

from uuid import UUID

import strawberry
from strawberry.types import Info

from api.context import Context
from api.errors import AfterSaleUserError
from api.mutations import actor, mutate
from api.permissions import IsCustomerService, IsMember, IsStaff
from api.relay import decode_any_id, decode_id
from api.types.desk import InvoiceRequest, StaffNote
from domain.aftersales import desk
from domain.aftersales.desk_model import NoteSubject


@strawberry.input
class AddNoteInput:
    subject_id: strawberry.ID = strawberry.field(description="A Member's or an Order's id.")
    text: str


@strawberry.type
class AddNotePayload:
    note: StaffNote | None = None
    errors: list[AfterSaleUserError] = strawberry.field(default_factory=list)


@strawberry.input
class RequestInvoiceInput:
    order_id: strawberry.ID
    title: str = strawberry.field(description="A person's name or a company's, as invoiced.")
    tax_id: str | None = strawberry.field(
        default=None, description="A company's tax id (15-20 letters and digits)."
    )
    email: str = strawberry.field(description="Where the e-invoice is sent.")


@strawberry.input
class MarkInvoiceIssuedInput:
    id: strawberry.ID
    invoice_number: str


@strawberry.type
class InvoiceRequestPayload:
    invoice: InvoiceRequest | None = None
    errors: list[AfterSaleUserError] = strawberry.field(default_factory=list)


def _subject(global_id: str) -> tuple[NoteSubject, UUID]:
    """A note's subject: a Member's or an Order's global id (else INVALID_ID)."""
    field = ["input", "subjectId"]
    key = decode_id(global_id, ("Member", "Order"), field)
    kind = decode_any_id(global_id, field)[0]
    return (NoteSubject.ORDER if kind == "Order" else NoteSubject.MEMBER), key


@strawberry.type
class DeskMutations:
    @strawberry.mutation(
        permission_classes=[IsStaff],
        description="An internal note on a member or an order (CS, ADMIN; store staff on their "
        "stores' orders). Members never see notes.",
    )
    async def add_note(self, info: Info[Context, object], input: AddNoteInput) -> AddNotePayload:
        deps, caller = info.context.runtime.desk, actor(info)
        return await mutate(
            AddNotePayload,
            AfterSaleUserError,
            lambda: desk.add_note(deps, caller, *_subject(input.subject_id), input.text),
            lambda note: AddNotePayload(note=StaffNote.from_domain(note)),
        )

    @strawberry.mutation(
        permission_classes=[IsMember],
        description="The member asks for an e-invoice (发票) of a paid order of theirs, once "
        "per order.",
    )
    async def request_invoice(
        self, info: Info[Context, object], input: RequestInvoiceInput
    ) -> InvoiceRequestPayload:
        deps, caller = info.context.runtime.desk, actor(info)
        return await mutate(
            InvoiceRequestPayload,
            AfterSaleUserError,
            lambda: desk.request_invoice(
                deps,
                caller,
                decode_id(input.order_id, "Order", ["input", "orderId"]),
                input.title,
                input.tax_id,
                input.email,
            ),
            lambda request: InvoiceRequestPayload(invoice=InvoiceRequest.opened(info, request)),
        )

    @strawberry.mutation(
        permission_classes=[IsCustomerService],
        description="The invoicing system (CS, ADMIN) records the issued invoice's number.",
    )
    async def mark_invoice_issued(
        self, info: Info[Context, object], input: MarkInvoiceIssuedInput
    ) -> InvoiceRequestPayload:
        deps, caller = info.context.runtime.desk, actor(info)
        return await mutate(
            InvoiceRequestPayload,
            AfterSaleUserError,
            lambda: desk.mark_invoice_issued(
                deps,
                caller,
                decode_id(input.id, "InvoiceRequest", ["input", "id"]),
                input.invoice_number,
            ),
            lambda request: InvoiceRequestPayload(invoice=InvoiceRequest.opened(info, request)),
        )
