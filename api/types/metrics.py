"""The numbers a brand runs on (issue 19): figures per store-local period, monthly cohorts."""

from __future__ import annotations

from datetime import date

import strawberry

from api.relay import encode_id
from domain.engagement import metrics_cohorts_model as c
from domain.engagement import metrics_model as m
from domain.engagement.metrics_cohorts_model import AcquisitionSource
from domain.engagement.metrics_model import Granularity
from domain.ordering.model import SalesChannel

strawberry.enum(Granularity, name="MetricsGranularity")


@strawberry.type(
    description="What happened in one period. Money in fen (integer minor units); rates in "
    "basis points (10000 = 100%). Orders count when paid (not cancelled nor unclaimed)."
)
class MetricsFigures:
    first_day: date = strawberry.field(description="Store-local, included.")
    last_day: date = strawberry.field(description="Store-local, included.")
    orders: int
    gmv: int = strawberry.field(
        description="Money paid for the period's orders (points excluded), less their refunds "
        "(all but failed ones, whenever they happen)."
    )
    average_order_value: int = strawberry.field(description="gmv / orders, rounded down.")
    new_members: int = strawberry.field(
        description="Members whose first order ever (paid, not cancelled) is in the period "
        "(and, for a store or channel, at that store or through that channel)."
    )
    active_members: int = strawberry.field(description="Members with at least one order.")
    repeat_members: int = strawberry.field(description="Members with two orders or more.")
    repurchase_rate_bp: int = strawberry.field(description="repeatMembers / activeMembers.")
    coupons_used: int
    coupon_orders: int = strawberry.field(description="Orders that used a coupon.")
    coupon_gmv: int = strawberry.field(description="The gmv of those orders.")
    handovers: int = strawberry.field(description="Pickup orders picked up in the period.")
    handover_median_seconds: int | None = strawberry.field(
        description="Paid -> picked up, median over those hand-overs."
    )
    handover_p90_seconds: int | None = strawberry.field(description="... and 90th percentile.")
    handed_over: int = strawberry.field(description="Orders picked up or delivered.")
    with_after_sale: int = strawberry.field(
        description="Of those, the orders with an after-sale request (made at any time)."
    )
    after_sales_rate_bp: int = strawberry.field(description="withAfterSale / handedOver.")
    subscriptions_active: int = strawberry.field(
        description="Subscriptions active (or paused) at the period's start."
    )
    subscriptions_churned: int = strawberry.field(description="Of those, cancelled in it.")
    subscription_churn_bp: int = strawberry.field(
        description="subscriptionsChurned / subscriptionsActive."
    )

    @classmethod
    def from_domain(cls, period: m.Period, f: m.Figures) -> MetricsFigures:
        return cls(
            first_day=period.first_day,
            last_day=period.last_day,
            orders=f.orders,
            gmv=f.gmv,
            average_order_value=f.average_order_value,
            new_members=f.new_members,
            active_members=f.active_members,
            repeat_members=f.repeat_members,
            repurchase_rate_bp=f.repurchase_rate_bp,
            coupons_used=f.coupons_used,
            coupon_orders=f.coupon_orders,
            coupon_gmv=f.coupon_gmv,
            handovers=f.handovers,
            handover_median_seconds=f.handover_median_seconds,
            handover_p90_seconds=f.handover_p90_seconds,
            handed_over=f.handed_over,
            with_after_sale=f.with_after_sale,
            after_sales_rate_bp=f.after_sales_rate_bp,
            subscriptions_active=f.subscriptions_active,
            subscriptions_churned=f.subscriptions_churned,
            subscription_churn_bp=f.subscription_churn_bp,
        )


@strawberry.type(description="A range of store-local days per period, and in total.")
class Metrics:
    granularity: Granularity
    timezone: str = strawberry.field(description="Whose wall clock cuts the days.")
    store_id: strawberry.ID | None
    channel: SalesChannel | None
    periods: list[MetricsFigures]
    total: MetricsFigures = strawberry.field(
        description="The whole range as one period (members counted once)."
    )

    @classmethod
    def from_domain(cls, found: m.Metrics) -> Metrics:
        store = found.scope.store_id
        return cls(
            granularity=found.granularity,
            timezone=found.timezone,
            store_id=encode_id("Location", store) if store else None,
            channel=found.scope.channel,
            periods=[MetricsFigures.from_domain(b.period, b.figures) for b in found.buckets],
            total=MetricsFigures.from_domain(
                m.Period(found.first_day, found.last_day), found.total
            ),
        )


strawberry.enum(AcquisitionSource, description="How a member came, by their first order.")


@strawberry.type(description="Members whose first order was in one month (the stores' clock).")
class Cohort:
    month: str = strawberry.field(description='"2026-01".')
    members: int
    gmv: int = strawberry.field(description="Every order of its members to date, in fen.")
    lifetime_value: int = strawberry.field(description="gmv / members, rounded down.")
    retention_bp: list[int] = strawberry.field(
        description="Months 1, 2, ... 12 after: the share of members who ordered in that month "
        "(basis points), for the months that have begun."
    )

    @classmethod
    def from_domain(cls, cohort: c.Cohort) -> Cohort:
        return cls(
            month=cohort.month.strftime("%Y-%m"),
            members=cohort.members,
            gmv=cohort.gmv,
            lifetime_value=cohort.lifetime_value,
            retention_bp=cohort.retention_bp,
        )


@strawberry.type(description="The members of the cohorts read, by how they came.")
class AcquisitionSourceValue:
    source: AcquisitionSource
    members: int
    gmv: int
    lifetime_value: int

    @classmethod
    def from_domain(cls, value: c.SourceValue) -> AcquisitionSourceValue:
        return cls(
            source=value.source,
            members=value.members,
            gmv=value.gmv,
            lifetime_value=value.lifetime_value,
        )


@strawberry.type(description="Monthly cohorts and lifetime value.")
class Cohorts:
    timezone: str
    store_id: strawberry.ID | None
    cohorts: list[Cohort]
    sources: list[AcquisitionSourceValue]

    @classmethod
    def from_domain(cls, found: c.Cohorts) -> Cohorts:
        store = found.store_id
        return cls(
            timezone=found.timezone,
            store_id=encode_id("Location", store) if store else None,
            cohorts=[Cohort.from_domain(x) for x in found.cohorts],
            sources=[AcquisitionSourceValue.from_domain(s) for s in found.sources],
        )
