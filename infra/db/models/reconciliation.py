"""Reconciliation runs of a provider's daily bill and the differences found
(domain/ordering/reconcile.py): owned by ordering, next to the payments they check."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from domain.ordering.reconcile import DifferenceKind


class ReconciliationRunRow(Model):
    """The last run of (provider, day), with each side's totals."""

    id = fields.UUIDField(primary_key=True)
    provider = fields.CharField(max_length=30)
    day = fields.DateField()
    ran_at = fields.DatetimeField()
    bill_payments = fields.IntField()
    bill_paid = fields.BigIntField()
    bill_refunds = fields.IntField()
    bill_refunded = fields.BigIntField()
    our_payments = fields.IntField()
    our_paid = fields.BigIntField()
    our_refunds = fields.IntField()
    our_refunded = fields.BigIntField()

    class Meta:
        table = "reconciliation_run"
        unique_together = (("provider", "day"),)


class ReconciliationDifferenceRow(Model):
    id = fields.UUIDField(primary_key=True)
    run_id = fields.UUIDField()  # first column of the unique key: indexed
    kind = fields.CharEnumField(DifferenceKind, max_length=20)
    reference = fields.CharField(max_length=100)  # out_trade_no or out_refund_no
    order_number = fields.CharField(max_length=20, null=True)
    our_amount = fields.BigIntField(null=True)
    their_amount = fields.BigIntField(null=True)
    our_state = fields.CharField(max_length=20, null=True)
    their_state = fields.CharField(max_length=20, null=True)
    found_at = fields.DatetimeField()
    resolved_at = fields.DatetimeField(null=True)
    resolved_by = fields.UUIDField(null=True)
    note = fields.CharField(max_length=500, default="")

    class Meta:
        table = "reconciliation_difference"
        unique_together = (("run_id", "kind", "reference"),)
