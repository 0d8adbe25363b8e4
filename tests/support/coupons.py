"""Coupon templates and members for the coupon tests."""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from uuid import UUID

from domain.identity.model import Principal, PrincipalKind, StaffRole
from domain.ids import new_id
from domain.promotions.coupons import create_template
from domain.promotions.coupons_model import (
    CouponKind,
    CouponRules,
    CouponScope,
    CouponTemplate,
    TemplateDraft,
    Validity,
)
from infra.runtime import Runtime

ADMIN = Principal(PrincipalKind.STAFF, new_id(), role=StaffRole.ADMIN)
CS = Principal(PrincipalKind.STAFF, new_id(), role=StaffRole.CS_AGENT)


def member(member_id: UUID) -> Principal:
    return Principal(PrincipalKind.MEMBER, member_id)


def draft(**changes: Any) -> TemplateDraft:
    """¥20 off from ¥99, 30 days from issue, 100 of them, one each."""
    base = TemplateDraft(
        name="¥20 off ¥99",
        rules=CouponRules(CouponKind.AMOUNT_OFF, amount_off=2000, threshold=9900),
        scope=CouponScope(),
        validity=Validity(days=30),
        total_quantity=100,
    )
    return replace(base, **changes)


async def template(runtime: Runtime, **changes: Any) -> CouponTemplate:
    return await create_template(runtime.coupons, ADMIN, draft(**changes))
