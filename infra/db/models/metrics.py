"""Metrics rollups (engagement; `domain/engagement/metrics_rollup`): per store-local day, store
and channel, written only by the rollup (each day deleted and inserted in one transaction)."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class MetricsDayRow(Model):
    """The day's counted orders (by the day they were paid) and their money."""

    id = fields.UUIDField(primary_key=True)
    day = fields.DateField()
    store_id = fields.UUIDField(null=True)
    channel = fields.CharField(max_length=20)
    orders = fields.BigIntField()
    gmv = fields.BigIntField()
    coupons_used = fields.BigIntField()
    coupon_orders = fields.BigIntField()
    coupon_gmv = fields.BigIntField()

    class Meta:
        table = "metrics_day"
        indexes = (("day", "store_id"),)


class MetricsMemberDayRow(Model):
    """Who bought that day, how often, and whether their first order ever was among them."""

    id = fields.UUIDField(primary_key=True)
    day = fields.DateField()
    store_id = fields.UUIDField(null=True)
    channel = fields.CharField(max_length=20)
    member_id = fields.UUIDField()
    orders = fields.IntField()
    first_order = fields.SmallIntField()

    class Meta:
        table = "metrics_member_day"
        indexes = (("day", "store_id"),)


class MetricsHandoverDayRow(Model):
    """The day's hand-overs as a histogram: per fulfilment and whole second paid -> handed."""

    id = fields.UUIDField(primary_key=True)
    day = fields.DateField()
    store_id = fields.UUIDField(null=True)
    channel = fields.CharField(max_length=20)
    pickup = fields.SmallIntField()
    seconds = fields.IntField(null=True)
    handed_over = fields.BigIntField()
    with_after_sale = fields.BigIntField()

    class Meta:
        table = "metrics_handover_day"
        indexes = (("day", "store_id"),)


class MetricsSubscriptionDayRow(Model):
    """Subscriptions active when the day began (`created_day` null), and those cancelled that
    day by the day they were created (`churned`)."""

    id = fields.UUIDField(primary_key=True)
    day = fields.DateField()
    store_id = fields.UUIDField(null=True)
    created_day = fields.DateField(null=True)
    active = fields.BigIntField()
    churned = fields.BigIntField()

    class Meta:
        table = "metrics_subscription_day"
        indexes = (("day", "store_id"),)


class MetricsDayFiguresRow(Model):
    """The day's figures that do not add up across stores, channels or days, per store (or
    `*`, every store, orders of no store included) and channel (or `*`): distinct members, the
    hand-over counts and percentiles, so a period of one day reads one row, and the counts of
    any period sum one row a day instead of the histogram (issue 19 "Scale")."""

    id = fields.UUIDField(primary_key=True)
    day = fields.DateField()
    store_key = fields.CharField(max_length=36)
    channel = fields.CharField(max_length=20)
    active_members = fields.BigIntField()
    repeat_members = fields.BigIntField()
    new_members = fields.BigIntField()
    handovers = fields.BigIntField()
    handed_over = fields.BigIntField()
    with_after_sale = fields.BigIntField()
    handover_median_seconds = fields.IntField(null=True)
    handover_p90_seconds = fields.IntField(null=True)

    class Meta:
        table = "metrics_day_figures"
        unique_together = (("store_key", "channel", "day"),)


class MetricsRollupStateRow(Model):
    name = fields.CharField(max_length=40, primary_key=True)
    watermark = fields.DatetimeField()

    class Meta:
        table = "metrics_rollup_state"


class MetricsMemberReachRow(Model):
    """Per store-local day, store (or `*`) and channel (or `*`), each member who bought, their
    orders, and the day they bought before and after in that scope (0001-01-01 / 9999-12-31
    when none): the distinct members of a range are its rows whose previous day is before it
    (`infra/repositories/metrics_ranges.py`)."""

    id = fields.UUIDField(primary_key=True)
    day = fields.DateField()
    store_key = fields.CharField(max_length=36)
    channel = fields.CharField(max_length=20)
    member_id = fields.UUIDField()
    orders = fields.IntField()
    previous_day = fields.DateField()
    next_day = fields.DateField()

    class Meta:
        table = "metrics_member_reach"
        unique_together = (("store_key", "channel", "member_id", "day"),)
        # Led by the day: a rebuild finds the day's rows by it, a read probes (day, scope) for
        # the rows whose previous day is before the range, index only.
        indexes = (("day", "store_key", "channel", "previous_day", "next_day", "orders"),)


class MetricsHandoverMonthRow(Model):
    """Per calendar month, store (or `*`) and channel (or `*`), the pickups handed over per
    whole second paid -> picked up: the daily histograms of the month, added up."""

    id = fields.UUIDField(primary_key=True)
    month_start = fields.DateField()
    store_key = fields.CharField(max_length=36)
    channel = fields.CharField(max_length=20)
    seconds = fields.IntField()
    handovers = fields.BigIntField()

    class Meta:
        table = "metrics_handover_month"
        unique_together = (("store_key", "channel", "month_start", "seconds"),)
