"""The customer-service desk's use cases: internal notes on members and orders, e-invoice
requests (发票), and the readable names of the actors on timelines."""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from typing import Any
from uuid import UUID

from domain.aftersales.deps import DeskDeps
from domain.aftersales.desk_model import (
    InvoiceDetails,
    InvoiceRequest,
    InvoiceStatus,
    Note,
    NoteSubject,
    actor_kind,
    clean_invoice,
    clean_invoice_number,
    clean_note,
)
from domain.errors import AfterSaleError, AfterSaleErrorCode
from domain.events import DataExporters, EventHandlers, MemberErased, MembersMerged
from domain.identity.model import Principal, PrincipalKind
from domain.ids import new_id
from domain.members.services import log_pii_reads_in_uow
from domain.ordering.model import Order, OrderStatus
from domain.ordering.services import is_cs, is_store_staff, notify
from domain.pagination import Page, PageRequest
from domain.uow import UnitOfWork

# What the PII access log says the invoicing system was shown, and why.
INVOICE_READ, QUEUE_REASON, ISSUED_REASON = "INVOICE", "invoicing queue", "invoice issued"
# An order is paid from PAID on; one cancelled or never collected was (or will be) refunded.
INVOICEABLE = frozenset(
    {
        OrderStatus.PAID,
        OrderStatus.PREPARING,
        OrderStatus.READY_FOR_PICKUP,
        OrderStatus.PICKED_UP,
        OrderStatus.SHIPPED,
        OrderStatus.DELIVERED,
    }
)


def may_note_member(actor: Principal | None, order_stores: Collection[UUID]) -> bool:
    """CS and ADMIN write and read notes on every member; store staff on the members who have
    orders at one of their stores (`order_stores`: where the member ordered); never members or
    devices."""
    if actor is None or actor.kind is not PrincipalKind.STAFF:
        return False
    return is_cs(actor) or any(is_store_staff(actor, store) for store in order_stores)


def may_note_order(actor: Principal | None, order: Order) -> bool:
    """CS and ADMIN on every order, store staff on their stores' orders."""
    return (
        actor is not None
        and actor.kind is PrincipalKind.STAFF
        and (is_cs(actor) or is_store_staff(actor, order.location_id))
    )


def may_read_invoice(actor: Principal | None, order: Order) -> bool:
    """The ordering member, CS and ADMIN (the invoicing system): it holds personal data."""
    if actor is None:
        return False
    return (actor.is_member and order.member_id == actor.id) or (
        actor.kind is PrincipalKind.STAFF and is_cs(actor)
    )


async def add_note(
    deps: DeskDeps, actor: Principal, subject: NoteSubject, subject_id: UUID, text: str
) -> Note:
    body = clean_note(text)
    async with deps.uow() as uow:
        if subject is NoteSubject.ORDER:
            order = await uow.orders.get(subject_id)
            allowed = order is not None and may_note_order(actor, order)
        else:
            member = await uow.members.get(subject_id)
            stores = (await uow.orders.stores_of_members([subject_id])).get(subject_id, set())
            allowed = member is not None and may_note_member(actor, stores)
            if allowed and member is not None and member.merged_into is not None:
                raise AfterSaleError(
                    AfterSaleErrorCode.INVALID_INPUT,
                    "This member was merged; note on the member it was merged into.",
                    ["input", "subjectId"],
                )
        if not allowed:  # an order of another store reads as one that does not exist
            raise AfterSaleError(
                AfterSaleErrorCode.NOT_FOUND, "No such member or order.", ["input", "subjectId"]
            )
        note = Note(new_id(), subject, subject_id, actor.label, body, deps.clock.now())
        await uow.desk.add_note(note)
    return note


async def request_invoice(
    deps: DeskDeps,
    actor: Principal,
    order_id: UUID,
    title: str,
    tax_id: str | None,
    email: str,
) -> InvoiceRequest:
    """The member asks for an e-invoice of a paid order of theirs, once per order."""
    details = clean_invoice(title, tax_id, email)
    async with deps.uow() as uow:
        order = await uow.orders.get(order_id)
        if order is None or not actor.is_member or order.member_id != actor.id:
            raise AfterSaleError(
                AfterSaleErrorCode.NOT_FOUND, "No such order of yours.", ["input", "orderId"]
            )
        if order.status not in INVOICEABLE:
            raise AfterSaleError(
                AfterSaleErrorCode.ORDER_NOT_PAID,
                "An invoice is for a paid order that was not cancelled.",
                ["input", "orderId"],
            )
        key = deps.vault.new_member_key()
        request = InvoiceRequest(
            id=new_id(),
            order_id=order.id,
            member_id=actor.id,
            status=InvoiceStatus.REQUESTED,
            data_key=key,
            sealed=deps.vault.encrypt(key, _seal(details)),
            requested_at=deps.clock.now(),
        )
        if not await uow.desk.add_invoice(request):
            raise AfterSaleError(
                AfterSaleErrorCode.INVOICE_ALREADY_REQUESTED,
                "This order has an invoice request already.",
                ["input", "orderId"],
            )
    return request


async def mark_invoice_issued(
    deps: DeskDeps, actor: Principal, request_id: UUID, invoice_number: str
) -> InvoiceRequest:
    number = clean_invoice_number(invoice_number)
    async with deps.uow() as uow:
        request = await uow.desk.get_invoice(request_id)
        if request is None:
            raise AfterSaleError(
                AfterSaleErrorCode.NOT_FOUND, "No such invoice request.", ["input", "id"]
            )
        request.status, request.invoice_number = InvoiceStatus.ISSUED, number
        request.issued_at, request.issued_by = deps.clock.now(), actor.label
        if not await uow.desk.mark_issued(request):
            raise AfterSaleError(
                AfterSaleErrorCode.INVOICE_ALREADY_ISSUED,
                "This invoice was issued already.",
                ["input", "id"],
            )
        order = await uow.orders.get(request.order_id)
        assert order is not None  # a request is made for an order, and orders stay
        await notify(
            deps.ordering, uow, order, "INVOICE_ISSUED", "invoice-issued", invoice_number=number
        )
        # The answer shows the caller the decrypted title and e-mail: a reveal.
        members = {request.member_id: [INVOICE_READ]}
        await log_pii_reads_in_uow(deps.members, uow, actor.label, members, ISSUED_REASON)
    return request


async def invoice_requests(
    deps: DeskDeps, actor: Principal, status: InvoiceStatus | None, page: PageRequest
) -> Page[tuple[InvoiceRequest, InvoiceDetails]]:
    """The invoicing system's queue, each request with its details decrypted: like any staff
    read of unmasked personal data, the read is in the PII access log (an entry per member on
    the page, in the same transaction)."""
    async with deps.uow() as uow:
        found = await uow.desk.invoices(status, page)
        opened = [(request, open_invoice(deps, request)) for request in found.items]
        members = {request.member_id: [INVOICE_READ] for request in found.items}
        await log_pii_reads_in_uow(deps.members, uow, actor.label, members, QUEUE_REASON)
    return Page(opened, found.keys, found.has_next, found.has_previous)


def open_invoice(deps: DeskDeps, request: InvoiceRequest) -> InvoiceDetails:
    raw = json.loads(deps.vault.decrypt(request.data_key, request.sealed))
    return InvoiceDetails(title=raw["title"], tax_id=raw["taxId"], email=raw["email"])


def _seal(details: InvoiceDetails) -> str:
    return json.dumps(
        {"title": details.title, "taxId": details.tax_id, "email": details.email},
        ensure_ascii=False,
    )


def readable_actors(labels: Sequence[str], names: dict[UUID, str]) -> list[str]:
    """What a timeline shows for each audit label: the staff username, the device name,
    "member", "system", "integration", "payment provider <name>"; the label itself when its
    staff or device is gone."""
    shown = []
    for label in labels:
        kind, key = actor_kind(label)
        if kind in ("STAFF", "DEVICE") and key is not None and key in names:
            shown.append(names[key])
        elif kind == "PROVIDER":  # a payment provider's notification: PROVIDER:wechatpay
            shown.append(f"payment provider {label.partition(':')[2]}")
        else:
            shown.append(GENERIC.get(kind, label))
    return shown


def actor_ids(labels: Sequence[str]) -> tuple[list[UUID], list[UUID]]:
    """The staff and device ids the labels name: what `readable_actors` needs looked up."""
    staff, devices = [], []
    for label in labels:
        kind, key = actor_kind(label)
        if key is not None and kind == "STAFF":
            staff.append(key)
        elif key is not None and kind == "DEVICE":
            devices.append(key)
    return staff, devices


GENERIC = {"MEMBER": "member", "SYSTEM": "system", "API_KEY": "integration"}


async def actor_names(deps: DeskDeps, labels: Sequence[str]) -> list[str]:
    """`readable_actors` for labels, with one read of the staff and device directory."""
    staff, devices = actor_ids(labels)
    names: dict[UUID, str] = {}
    if staff or devices:
        async with deps.uow() as uow:
            names = await uow.desk.actor_names(staff, devices)
    return readable_actors(labels, names)


def register_handlers(deps: DeskDeps, events: EventHandlers, exporters: DataExporters) -> None:
    """A merge moves the absorbed member's notes and invoice requests to the survivor; an
    erasure deletes the notes on the member (invoice requests stay: accounting records, like
    orders); the member's data export lists their invoice requests, decrypted, and not the
    notes (staff's working records, answered through CS when a member asks)."""

    async def on_merged(uow: UnitOfWork, event: MembersMerged) -> None:
        await uow.desk.move_member(event.source_member_id, event.target_member_id)

    async def on_erased(uow: UnitOfWork, event: MemberErased) -> None:
        await uow.desk.delete_member_notes(event.member_id)

    async def export(uow: UnitOfWork, member_id: UUID) -> list[dict[str, Any]]:
        found = await uow.desk.invoices_of_member(member_id)
        return [_exported(request, open_invoice(deps, request)) for request in found]

    events.register(MembersMerged, on_merged)
    events.register(MemberErased, on_erased)
    exporters.register("invoiceRequests", export)


def _exported(request: InvoiceRequest, details: InvoiceDetails) -> dict[str, Any]:
    return {
        "orderId": str(request.order_id),
        "status": request.status.value,
        "title": details.title,
        "taxId": details.tax_id,
        "email": details.email,
        "requestedAt": request.requested_at.isoformat(),
        "invoiceNumber": request.invoice_number,
    }
