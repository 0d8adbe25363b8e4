"""Coupon templates for ADMIN."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from api.arguments import page_args
from api.context import Context
from api.permissions import IsAdmin
from api.types.coupons import CouponTemplate, CouponTemplateConnection
from domain.promotions.coupons import templates
from domain.promotions.coupons_model import TemplateStatus


@strawberry.type
class CouponQueries:
    @strawberry.field(
        permission_classes=[IsAdmin],
        description="Coupon templates in every state (or one), newest first.",
    )
    async def coupon_templates(
        self,
        info: Info[Context, object],
        status: TemplateStatus | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> CouponTemplateConnection:
        deps = info.context.runtime.coupons
        page = await templates(deps, status, page_args(first, after))
        return CouponTemplateConnection.from_page(page, CouponTemplate.from_domain)
