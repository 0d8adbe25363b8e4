"""The customer-service desk's tables (after-sales context; Alembic `0023_cs_desk`)."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from domain.aftersales.desk_model import InvoiceStatus, NoteSubject


class StaffNoteRow(Model):
    """An internal note on a member or an order: staff only."""

    id = fields.UUIDField(primary_key=True)
    subject = fields.CharEnumField(NoteSubject, max_length=10)
    subject_id = fields.UUIDField(db_index=True)
    author = fields.CharField(max_length=60)
    text = fields.TextField()
    created_at = fields.DatetimeField()

    class Meta:
        table = "staff_note"


class InvoiceRequestRow(Model):
    """An e-invoice request (发票), one per order; title, tax id and e-mail sealed together
    under the row's own wrapped key."""

    id = fields.UUIDField(primary_key=True)
    order_id = fields.UUIDField(unique=True)
    member_id = fields.UUIDField(db_index=True)
    status = fields.CharEnumField(InvoiceStatus, max_length=10)
    data_key = fields.CharField(max_length=200)
    sealed = fields.TextField()
    requested_at = fields.DatetimeField()
    invoice_number = fields.CharField(max_length=40, null=True)
    issued_at = fields.DatetimeField(null=True)
    issued_by = fields.CharField(max_length=60, null=True)

    class Meta:
        table = "invoice_request"
        indexes = (("status", "id"),)
