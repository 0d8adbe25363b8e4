"""Automations (engagement context; `domain/engagement/automations`)."""

from __future__ import annotations

from typing import Any

from tortoise import fields
from tortoise.models import Model

from domain.engagement.automations_model import (
    ActionKind,
    AutomationStatus,
    SendOutcome,
    TriggerKind,
)


class AutomationRow(Model):
    id = fields.UUIDField(primary_key=True)
    name = fields.CharField(max_length=80)
    status = fields.CharEnumField(AutomationStatus, max_length=10)
    trigger = fields.CharEnumField(TriggerKind, max_length=40)
    spec: Any = fields.JSONField()  # the draft: trigger, conditions, action, cap, quiet hours
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()

    class Meta:
        table = "automation"
        indexes = (("status", "trigger"),)


class AutomationSendRow(Model):
    id = fields.UUIDField(primary_key=True)
    automation_id = fields.UUIDField()
    member_id = fields.UUIDField()
    period_key = fields.CharField(max_length=60)
    outcome = fields.CharEnumField(SendOutcome, max_length=16)
    action = fields.CharEnumField(ActionKind, max_length=16)
    due_at = fields.DatetimeField()
    created_at = fields.DatetimeField()
    done_at = fields.DatetimeField(null=True)
    message_key = fields.CharField(max_length=60, null=True)
    coupon_id = fields.UUIDField(null=True)
    points_entry_id = fields.UUIDField(null=True)
    detail = fields.CharField(max_length=200)
    tag_id = fields.UUIDField(null=True)  # ADD_TAG's

    class Meta:
        table = "automation_send"
        unique_together = (("automation_id", "member_id", "period_key"),)
        indexes = (("outcome", "due_at"), ("member_id", "created_at"))


class AutomationMemberRow(Model):
    """Orders handed over to each member, counted from OrderHandedOver: member facts count
    paid orders, and FIRST_ORDER_HANDED_OVER needs the first hand-over."""

    member_id = fields.UUIDField(primary_key=True)
    handed_over = fields.IntField()

    class Meta:
        table = "automation_member"


class AutomationCapRow(Model):
    """A member's turn at automation messages: a run locks the row (made on first use) before
    it counts what was written to the member, so runs at once keep the frequency cap.
    `taken_at`: when a run last took it. Only the run touches it (no other lock waits on it)."""

    member_id = fields.UUIDField(primary_key=True)
    taken_at = fields.DatetimeField()

    class Meta:
        table = "automation_cap"


class AutomationSegmentMemberRow(Model):
    """ENTERED_SEGMENT: the members an automation saw in its segment at its last scan (a
    member who leaves is forgotten, so coming back is entering again)."""

    id = fields.UUIDField(primary_key=True)
    automation_id = fields.UUIDField()
    member_id = fields.UUIDField()
    entered_at = fields.DatetimeField()

    class Meta:
        table = "automation_segment_member"
        unique_together = (("automation_id", "member_id"),)


class AutomationScanRow(Model):
    """A scan automation's sweep over the members: the last id scanned (`cursor`; null: the
    next run starts a new sweep) and when it last scanned a batch (the longest ago goes first)."""

    automation_id = fields.UUIDField(primary_key=True)
    cursor = fields.UUIDField(null=True)
    scanned_at = fields.DatetimeField()

    class Meta:
        table = "automation_scan"
