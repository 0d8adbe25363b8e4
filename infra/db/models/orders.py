from __future__ import annotations

from uuid import UUID

from tortoise import fields
from tortoise.models import Model

from domain.ordering.model import (
    Fulfilment,
    OrderStatus,
    PaymentKind,
    PaymentStatus,
    SalesChannel,
)


class OrderRow(Model):
    id = fields.UUIDField(primary_key=True)
    number = fields.CharField(max_length=20, unique=True)
    member_id = fields.UUIDField(null=True)  # indexed with id: a member's newest orders
    channel = fields.CharEnumField(SalesChannel, max_length=20)
    fulfilment = fields.CharEnumField(Fulfilment, max_length=10)
    location_id = fields.UUIDField(db_index=True)
    status = fields.CharEnumField(OrderStatus, max_length=20)
    currency = fields.CharField(max_length=3)
    total = fields.BigIntField()
    note = fields.CharField(max_length=500)
    delivery_address = fields.TextField(null=True)
    delivery_latitude = fields.FloatField(null=True)
    delivery_longitude = fields.FloatField(null=True)
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()
    payment_deadline = fields.DatetimeField(null=True, db_index=True)
    paid_at = fields.DatetimeField(null=True)
    pickup_deadline = fields.DatetimeField(null=True, db_index=True)
    cancel_reason = fields.CharField(max_length=200, null=True)
    at_risk = fields.BooleanField()
    reminder_sent = fields.BooleanField()
    points_redeemed = fields.BigIntField(default=0)
    points_discount = fields.BigIntField(default=0)
    pickup_number = fields.CharField(max_length=8, null=True)
    pickup_day = fields.DateField(null=True)

    class Meta:
        table = "customer_order"
        # (updated_at, id): an ERP pulls the orders changed since its last pull, in that order.
        # paid_at: engagement's metrics and cohorts read the orders paid in a range.
        indexes = (
            ("location_id", "status"),
            ("member_id", "id"),
            ("updated_at", "id"),
            ("paid_at",),
        )
        # One A023 per store and store-local day; staff find an order by (store, number).
        unique_together = (("location_id", "pickup_number", "pickup_day"),)


class PickupCounterRow(Model):
    """The last pickup sequence given at a store on a store-local day (one row per day)."""

    id = fields.UUIDField(primary_key=True)
    location_id = fields.UUIDField()
    day = fields.DateField()
    sequence = fields.IntField()  # the last one given

    class Meta:
        table = "pickup_counter"
        unique_together = (("location_id", "day"),)


class OrderLineRow(Model):
    id = fields.UUIDField(primary_key=True)
    order: fields.ForeignKeyRelation[OrderRow] = fields.ForeignKeyField(
        "models.OrderRow", related_name="lines", on_delete=fields.CASCADE, db_index=True
    )
    variant_id = fields.UUIDField()
    product_id = fields.UUIDField()
    sku = fields.CharField(max_length=64)
    name = fields.CharField(max_length=300)
    unit_price = fields.BigIntField()
    quantity = fields.IntField()
    list_price = fields.BigIntField(null=True)  # NULL on lines from before member prices
    coupon_discount = fields.BigIntField(default=0)  # the line's part of the coupon discounts

    order_id: UUID

    class Meta:
        table = "order_line"


class OrderEventRow(Model):
    id = fields.UUIDField(primary_key=True)
    order_id = fields.UUIDField(db_index=True)
    from_status = fields.CharEnumField(OrderStatus, max_length=20, null=True)
    to_status = fields.CharEnumField(OrderStatus, max_length=20)
    actor = fields.CharField(max_length=60)
    reason = fields.CharField(max_length=200)
    at = fields.DatetimeField()

    class Meta:
        table = "order_event"
        indexes = (("to_status", "at"),)  # engagement's metrics: the hand-overs in a range


class OrderPaymentRow(Model):
    id = fields.UUIDField(primary_key=True)
    order_id = fields.UUIDField(db_index=True)
    kind = fields.CharEnumField(PaymentKind, max_length=10)
    provider = fields.CharField(max_length=30)
    provider_ref = fields.CharField(max_length=100)
    method = fields.CharField(max_length=20)
    amount = fields.BigIntField()
    currency = fields.CharField(max_length=3)
    status = fields.CharEnumField(PaymentStatus, max_length=20)
    created_at = fields.DatetimeField()
    completed_at = fields.DatetimeField(null=True)
    # Refunds only (migration 0018): the payment refunded, the provider's reason of a failure,
    # submissions tried, and when the refund job looks at it next.
    refund_of = fields.UUIDField(null=True, db_index=True)
    reason = fields.CharField(max_length=200, default="")
    attempts = fields.IntField(default=0)
    next_attempt_at = fields.DatetimeField(null=True, db_index=True)
    # A failed refund CS recorded again (0025): the refund that took its place, once.
    retried_by = fields.UUIDField(null=True, unique=True)

    class Meta:
        table = "order_payment"
        unique_together = (("provider", "provider_ref"),)
        indexes = (("provider", "completed_at"),)  # a provider's bill day (reconciliation)


class PickupCodeRow(Model):
    """Open pickups only: the row goes when the order is collected or cancelled."""

    id = fields.UUIDField(primary_key=True)
    order_id = fields.UUIDField(unique=True)
    location_id = fields.UUIDField()
    code = fields.CharField(max_length=6)
    deadline = fields.DatetimeField()

    class Meta:
        table = "pickup_code"
        unique_together = (("location_id", "code"),)
