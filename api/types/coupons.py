"""Coupon templates as ADMIN runs them, and coupons as their member sees them."""

from __future__ import annotations

from datetime import datetime

import strawberry

from api.relay import Connection, encode_id
from domain.promotions import coupons_model as m
from domain.promotions.coupons_model import (
    CouponKind,
    CouponSource,
    CouponStatus,
    CouponView,
    TemplateStatus,
    rule_text,
)

strawberry.enum(CouponKind)
strawberry.enum(CouponStatus)
strawberry.enum(CouponSource)
strawberry.enum(TemplateStatus, name="CouponTemplateStatus")
strawberry.enum(CouponView, name="CouponListStatus")

__all__ = ["Coupon", "CouponConnection", "CouponTemplate", "CouponTemplateConnection", "CouponView"]


@strawberry.type(description="What a coupon takes off, as numbers and in words.")
class CouponRules:
    kind: CouponKind
    text: str = strawberry.field(description='In words: "¥20.00 off orders from ¥99.00".')
    amount_off: int = strawberry.field(description="Fen off (AMOUNT_OFF, NO_THRESHOLD); 0 else.")
    percent_off_basis_points: int = strawberry.field(description="PERCENT_OFF: 1000 = 10 %.")
    max_discount: int | None = strawberry.field(description="PERCENT_OFF's cap in fen, if any.")
    threshold: int = strawberry.field(description="Fen the covered items must reach; 0: none.")
    currency: str

    @classmethod
    def from_domain(cls, rules: m.CouponRules, scope: m.CouponScope) -> CouponRules:
        return cls(
            kind=rules.kind,
            text=rule_text(rules, scope),
            amount_off=rules.amount_off,
            percent_off_basis_points=rules.percent_off_bp,
            max_discount=rules.max_discount,
            threshold=rules.threshold,
            currency=rules.currency,
        )


@strawberry.type(description="Where a coupon applies; an empty list does not restrict.")
class CouponScope:
    product_ids: list[strawberry.ID]
    category_ids: list[strawberry.ID]
    channels: list[str]
    store_ids: list[strawberry.ID]

    @classmethod
    def from_domain(cls, scope: m.CouponScope) -> CouponScope:
        return cls(
            product_ids=[encode_id("Product", x) for x in scope.product_ids],
            category_ids=[encode_id("Category", x) for x in scope.category_ids],
            channels=list(scope.channels),
            store_ids=[encode_id("Location", x) for x in scope.location_ids],
        )


@strawberry.type(description="A kind of coupon: its rules, who may have one, how many.")
class CouponTemplate:
    id: strawberry.ID
    name: str
    rules: CouponRules
    scope: CouponScope
    starts_at: datetime | None = strawberry.field(description="A fixed window's start.")
    ends_at: datetime | None = strawberry.field(description="A fixed window's end.")
    valid_days: int | None = strawberry.field(description="Else: valid this many days from issue.")
    total_quantity: int
    issued: int
    per_member_limit: int
    new_members_only: bool
    stackable_with_points: bool
    stackable_with_coupons: bool
    status: TemplateStatus
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_domain(cls, t: m.CouponTemplate) -> CouponTemplate:
        return cls(
            id=encode_id("CouponTemplate", t.id),
            name=t.name,
            rules=CouponRules.from_domain(t.rules, t.scope),
            scope=CouponScope.from_domain(t.scope),
            starts_at=t.validity.starts_at,
            ends_at=t.validity.ends_at,
            valid_days=t.validity.days,
            total_quantity=t.total_quantity,
            issued=t.issued,
            per_member_limit=t.per_member_limit,
            new_members_only=t.new_members_only,
            stackable_with_points=t.stackable_with_points,
            stackable_with_coupons=t.stackable_with_coupons,
            status=t.status,
            created_at=t.created_at,
            updated_at=t.updated_at,
        )


@strawberry.type(description="One of a member's coupons.")
class Coupon:
    id: strawberry.ID
    name: str
    rules: CouponRules
    status: CouponStatus
    source: CouponSource
    valid_from: datetime
    valid_until: datetime
    issued_at: datetime
    used_at: datetime | None
    stackable_with_points: bool
    stackable_with_coupons: bool
    template_id: strawberry.ID

    @classmethod
    def from_domain(cls, coupon: m.Coupon, template: m.CouponTemplate) -> Coupon:
        return cls(
            id=encode_id("Coupon", coupon.id),
            name=template.name,
            rules=CouponRules.from_domain(template.rules, template.scope),
            status=coupon.status,
            source=coupon.source,
            valid_from=coupon.valid_from,
            valid_until=coupon.valid_until,
            issued_at=coupon.issued_at,
            used_at=coupon.used_at,
            stackable_with_points=template.stackable_with_points,
            stackable_with_coupons=template.stackable_with_coupons,
            template_id=encode_id("CouponTemplate", template.id),
        )

    @classmethod
    def from_pair(cls, pair: tuple[m.Coupon, m.CouponTemplate]) -> Coupon:
        return cls.from_domain(*pair)


@strawberry.type
class CouponTemplateConnection(Connection[CouponTemplate]):
    """Newest first."""


@strawberry.type
class CouponConnection(Connection[Coupon]):
    """Newest first."""
