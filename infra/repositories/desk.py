"""The customer-service desk's repository: notes, invoice requests, actor names."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from tortoise.exceptions import IntegrityError

from domain.aftersales.desk_model import InvoiceRequest, InvoiceStatus, Note, NoteSubject
from domain.pagination import Page, PageRequest
from infra.db.models.desk import InvoiceRequestRow, StaffNoteRow
from infra.db.models.identity import DeviceRow, StaffUserRow
from infra.repositories.paging import after_uuid


def _note(row: StaffNoteRow) -> Note:
    return Note(row.id, row.subject, row.subject_id, row.author, row.text, row.created_at)


def _invoice(row: InvoiceRequestRow) -> InvoiceRequest:
    return InvoiceRequest(
        id=row.id,
        order_id=row.order_id,
        member_id=row.member_id,
        status=row.status,
        data_key=row.data_key,
        sealed=row.sealed,
        requested_at=row.requested_at,
        invoice_number=row.invoice_number,
        issued_at=row.issued_at,
        issued_by=row.issued_by,
    )


class TortoiseDeskRepository:
    async def add_note(self, note: Note) -> None:
        await StaffNoteRow.create(
            id=note.id,
            subject=note.subject,
            subject_id=note.subject_id,
            author=note.author,
            text=note.text,
            created_at=note.created_at,
        )

    async def notes_of(self, subject_ids: Sequence[UUID]) -> list[Note]:
        rows = await StaffNoteRow.filter(subject_id__in=list(subject_ids)).order_by("id")
        return [_note(r) for r in rows]

    async def add_invoice(self, request: InvoiceRequest) -> bool:
        try:
            await InvoiceRequestRow.create(
                id=request.id,
                order_id=request.order_id,
                member_id=request.member_id,
                status=request.status,
                data_key=request.data_key,
                sealed=request.sealed,
                requested_at=request.requested_at,
            )
        except IntegrityError:  # the order's request, made first (or concurrently)
            return False
        return True

    async def invoices_of_orders(self, order_ids: Sequence[UUID]) -> list[InvoiceRequest]:
        rows = await InvoiceRequestRow.filter(order_id__in=list(order_ids))
        return [_invoice(r) for r in rows]

    async def get_invoice(self, request_id: UUID) -> InvoiceRequest | None:
        row = await InvoiceRequestRow.get_or_none(id=request_id)
        return _invoice(row) if row else None

    async def mark_issued(self, request: InvoiceRequest) -> bool:
        changed = await InvoiceRequestRow.filter(
            id=request.id, status=InvoiceStatus.REQUESTED
        ).update(
            status=InvoiceStatus.ISSUED,
            invoice_number=request.invoice_number,
            issued_at=request.issued_at,
            issued_by=request.issued_by,
        )
        return changed == 1

    async def invoices(
        self, status: InvoiceStatus | None, page: PageRequest
    ) -> Page[InvoiceRequest]:
        query = InvoiceRequestRow.all()
        if status is not None:
            query = query.filter(status=status)
        if page.after is not None:
            query = query.filter(id__gt=after_uuid(page.after))
        rows = await query.order_by("id").limit(page.first + 1)
        return Page.from_rows([_invoice(r) for r in rows], [str(r.id) for r in rows], page)

    async def move_member(self, source: UUID, target: UUID) -> int:
        notes = await StaffNoteRow.filter(subject=NoteSubject.MEMBER, subject_id=source).update(
            subject_id=target
        )
        invoices = await InvoiceRequestRow.filter(member_id=source).update(member_id=target)
        return int(notes) + int(invoices)

    async def delete_member_notes(self, member_id: UUID) -> int:
        deleted = await StaffNoteRow.filter(
            subject=NoteSubject.MEMBER, subject_id=member_id
        ).delete()
        return int(deleted)

    async def invoices_of_member(self, member_id: UUID) -> list[InvoiceRequest]:
        rows = await InvoiceRequestRow.filter(member_id=member_id).order_by("id")
        return [_invoice(r) for r in rows]

    async def actor_names(
        self, staff_ids: Sequence[UUID], device_ids: Sequence[UUID]
    ) -> dict[UUID, str]:
        names: dict[UUID, str] = {}
        if staff_ids:
            staff = await StaffUserRow.filter(id__in=list(staff_ids)).values_list("id", "username")
            names.update((key, str(name)) for key, name in staff)
        if device_ids:
            devices = await DeviceRow.filter(id__in=list(device_ids)).values_list("id", "name")
            names.update((key, str(name)) for key, name in devices)
        return names
