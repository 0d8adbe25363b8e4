"""Friend-assist campaigns, tasks, assists and the rewards they paid (growth;
`domain/growth/assists`)."""

from __future__ import annotations

from typing import Any

from tortoise import fields
from tortoise.models import Model

from domain.growth.assists_model import CampaignStatus, TaskStatus


class AssistCampaignRow(Model):
    id = fields.UUIDField(primary_key=True)
    name = fields.CharField(max_length=60)
    thresholds: Any = fields.JSONField()  # [{"helpers", "couponTemplateId", "points"}], ascending
    task_hours = fields.IntField()
    new_helpers_only = fields.BooleanField()
    helper_coupon_template_id = fields.UUIDField(null=True)
    helper_points = fields.BigIntField()
    status = fields.CharEnumField(CampaignStatus, max_length=6)
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()

    class Meta:
        table = "assist_campaign"
        indexes = (("status", "id"),)


class AssistTaskRow(Model):
    id = fields.UUIDField(primary_key=True)
    campaign_id = fields.UUIDField()
    member_id = fields.UUIDField()
    # The member while the task is OPEN, else NULL: one open task per member and campaign.
    open_member_id = fields.UUIDField(null=True)
    status = fields.CharEnumField(TaskStatus, max_length=9)
    helpers = fields.IntField()
    started_at = fields.DatetimeField()
    expires_at = fields.DatetimeField()
    closed_at = fields.DatetimeField(null=True)

    class Meta:
        table = "assist_task"
        unique_together = (("campaign_id", "open_member_id"),)
        indexes = (("member_id", "id"), ("status", "expires_at"))


class AssistRow(Model):
    id = fields.UUIDField(primary_key=True)
    task_id = fields.UUIDField()
    helper_id = fields.UUIDField()
    helper_name = fields.CharField(max_length=8)
    day = fields.DateField()  # store-local (Asia/Shanghai)
    slot = fields.IntField()  # 1..DAILY_ASSISTS
    created_at = fields.DatetimeField()

    class Meta:
        table = "assist"
        unique_together = (("task_id", "helper_id"), ("helper_id", "day", "slot"))


class AssistRewardRow(Model):
    id = fields.UUIDField(primary_key=True)
    task_id = fields.UUIDField()
    member_id = fields.UUIDField()
    threshold = fields.IntField()  # the helpers it took; 0: a helper's own reward
    coupon_id = fields.UUIDField(null=True)
    points = fields.BigIntField()
    unpaid = fields.CharField(max_length=32, null=True)  # why the coupon was not given
    paid_at = fields.DatetimeField()

    class Meta:
        table = "assist_reward"
        unique_together = (("task_id", "member_id", "threshold"),)
