"""Member facts, one row per member (engagement; `domain/engagement/facts`)."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class MemberFactsRow(Model):
    member_id = fields.UUIDField(primary_key=True)
    first_order_at = fields.DatetimeField(null=True)
    last_order_at = fields.DatetimeField(null=True)
    orders_30 = fields.IntField()
    orders_90 = fields.IntField()
    orders_365 = fields.IntField()
    spend_30 = fields.BigIntField()
    spend_90 = fields.BigIntField()
    spend_365 = fields.BigIntField()
    avg_order_value = fields.BigIntField()
    preferred_store_id = fields.UUIDField(null=True)
    preferred_channel = fields.CharField(max_length=20, null=True)
    tier = fields.CharField(max_length=20, null=True)
    points_balance = fields.BigIntField()
    birthday = fields.CharField(max_length=5, null=True)
    marketing_sms = fields.BooleanField()
    marketing_wechat = fields.BooleanField()
    referrals_count = fields.IntField()
    group_buys_count = fields.IntField()
    r_score = fields.SmallIntField(null=True)
    f_score = fields.SmallIntField(null=True)
    m_score = fields.SmallIntField(null=True)
    rfm_segment = fields.CharField(max_length=12, null=True)
    updated_at = fields.DatetimeField()

    class Meta:
        table = "member_facts"
        indexes = (("last_order_at",), ("rfm_segment",), ("birthday",))


class FactsRebuildRow(Model):
    """The current cycle of the member-facts rebuild (one row, `name` 'member_facts'):
    `domain/engagement/facts.rebuild_member_facts` resumes it from `cursor`."""

    name = fields.CharField(max_length=20, primary_key=True)
    started_at = fields.DatetimeField()
    cursor = fields.UUIDField(null=True)
    finished_at = fields.DatetimeField(null=True)

    class Meta:
        table = "facts_rebuild"
