"""Coupons: ADMIN runs templates and makes redemption codes; members claim coupons and redeem
codes; CS grants them."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import strawberry
from strawberry.types import Info

from api.context import Context
from api.errors import PromotionUserError
from api.mutations import actor, mutate
from api.permissions import IsAdmin, IsCustomerService, IsMember
from api.relay import decode_id
from api.types.coupons import Coupon, CouponTemplate
from domain.errors import PromotionError, PromotionErrorCode
from domain.promotions import coupons
from domain.promotions import coupons_model as m
from domain.promotions.coupons_model import CouponKind, TemplateStatus


@strawberry.input(description="Where a coupon applies; leave a list empty not to restrict.")
class CouponScopeInput:
    product_ids: list[strawberry.ID] = strawberry.field(default_factory=list)
    category_ids: list[strawberry.ID] = strawberry.field(default_factory=list)
    channels: list[str] = strawberry.field(
        default_factory=list, description="MINI_PROGRAM, H5, KIOSK, POS, CS."
    )
    store_ids: list[strawberry.ID] = strawberry.field(default_factory=list)


@strawberry.input
class CouponTemplateInput:
    name: str
    kind: CouponKind
    amount_off: int = strawberry.field(default=0, description="Fen (AMOUNT_OFF, NO_THRESHOLD).")
    percent_off: int | None = strawberry.field(
        default=None, description="PERCENT_OFF in whole percent (15 = 15 % off)."
    )
    percent_off_basis_points: int | None = strawberry.field(
        default=None, description="PERCENT_OFF in basis points (1250 = 12.5 % off)."
    )
    max_discount: int | None = strawberry.field(default=None, description="PERCENT_OFF's cap.")
    threshold: int = strawberry.field(default=0, description="满减: fen the items must reach.")
    scope: CouponScopeInput | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    valid_days: int | None = strawberry.field(
        default=None, description="Valid this many days from issue, instead of a window."
    )
    total_quantity: int
    per_member_limit: int = 1
    new_members_only: bool = False
    stackable_with_points: bool = True
    stackable_with_coupons: bool = False


@strawberry.input
class UpdateCouponTemplateInput:
    template_id: strawberry.ID
    template: CouponTemplateInput


@strawberry.input
class CouponTemplateIdInput:
    template_id: strawberry.ID


@strawberry.input
class PauseCouponTemplateInput:
    template_id: strawberry.ID
    paused: bool = strawberry.field(default=True, description="false: give coupons out again.")


@strawberry.input
class ClaimCouponInput:
    template_id: strawberry.ID
    idempotency_key: str | None = None


@strawberry.input
class GrantCouponInput:
    template_id: strawberry.ID
    member_id: strawberry.ID
    reason: str
    idempotency_key: str


@strawberry.input
class CreateCouponCodesInput:
    template_id: strawberry.ID
    count: int = strawberry.field(description="1-1000 codes.")


@strawberry.input
class RedeemCouponCodeInput:
    code: str


@strawberry.type
class CouponTemplatePayload:
    template: CouponTemplate | None = None
    errors: list[PromotionUserError] = strawberry.field(default_factory=list)


@strawberry.type
class CouponPayload:
    coupon: Coupon | None = None
    errors: list[PromotionUserError] = strawberry.field(default_factory=list)


@strawberry.type
class CouponCodesPayload:
    codes: list[str] = strawberry.field(
        default_factory=list, description="Shown once: only their hashes are stored."
    )
    errors: list[PromotionUserError] = strawberry.field(default_factory=list)


def _ids(values: list[strawberry.ID], type_name: str, *field: str) -> tuple[UUID, ...]:
    return tuple(decode_id(v, type_name, [*field, str(n)]) for n, v in enumerate(values))


def _percent(value: CouponTemplateInput) -> int:
    if value.percent_off is not None and value.percent_off_basis_points is not None:
        raise PromotionError(
            PromotionErrorCode.INVALID_INPUT,
            "Give `percentOff` or `percentOffBasisPoints`, not both.",
            ["percentOff"],
        )
    if value.percent_off is not None:
        return value.percent_off * 100
    return value.percent_off_basis_points or 0


def _draft(value: CouponTemplateInput) -> m.TemplateDraft:
    scope = value.scope or CouponScopeInput()
    return m.TemplateDraft(
        name=value.name,
        rules=m.CouponRules(
            kind=value.kind,
            amount_off=value.amount_off,
            percent_off_bp=_percent(value),
            max_discount=value.max_discount,
            threshold=value.threshold,
        ),
        scope=m.CouponScope(
            product_ids=_ids(scope.product_ids, "Product", "scope", "productIds"),
            category_ids=_ids(scope.category_ids, "Category", "scope", "categoryIds"),
            channels=tuple(scope.channels),
            location_ids=_ids(scope.store_ids, "Location", "scope", "storeIds"),
        ),
        validity=m.Validity(value.starts_at, value.ends_at, value.valid_days),
        total_quantity=value.total_quantity,
        per_member_limit=value.per_member_limit,
        new_members_only=value.new_members_only,
        stackable_with_points=value.stackable_with_points,
        stackable_with_coupons=value.stackable_with_coupons,
    )


def _template_id(value: strawberry.ID) -> UUID:
    return decode_id(value, "CouponTemplate", "templateId")


def _present_template(template: m.CouponTemplate) -> CouponTemplatePayload:
    return CouponTemplatePayload(template=CouponTemplate.from_domain(template))


def _present_coupon(issued: coupons.Issued) -> CouponPayload:
    return CouponPayload(coupon=Coupon.from_pair(issued))


@strawberry.type
class CouponMutations:
    @strawberry.mutation(
        permission_classes=[IsAdmin],
        description="A new kind of coupon (ACTIVE): 满减 (AMOUNT_OFF with a threshold), "
        "PERCENT_OFF with an optional cap, or NO_THRESHOLD (无门槛).",
    )
    async def create_coupon_template(
        self, info: Info[Context, object], input: CouponTemplateInput
    ) -> CouponTemplatePayload:
        deps, admin = info.context.runtime.coupons, actor(info)
        return await mutate(
            CouponTemplatePayload,
            PromotionUserError,
            lambda: coupons.create_template(deps, admin, _draft(input)),
            _present_template,
        )

    @strawberry.mutation(
        permission_classes=[IsAdmin],
        description="Edit a template. Once a coupon is issued its rules stay (make a new "
        "template); the quantity never drops below what was issued.",
    )
    async def update_coupon_template(
        self, info: Info[Context, object], input: UpdateCouponTemplateInput
    ) -> CouponTemplatePayload:
        deps, admin = info.context.runtime.coupons, actor(info)
        return await mutate(
            CouponTemplatePayload,
            PromotionUserError,
            lambda: coupons.update_template(
                deps, admin, _template_id(input.template_id), _draft(input.template)
            ),
            _present_template,
        )

    @strawberry.mutation(
        permission_classes=[IsAdmin],
        description="Stop giving coupons out for now (or again, with paused: false). Issued "
        "coupons stay usable.",
    )
    async def pause_coupon_template(
        self, info: Info[Context, object], input: PauseCouponTemplateInput
    ) -> CouponTemplatePayload:
        deps, admin = info.context.runtime.coupons, actor(info)
        target = TemplateStatus.PAUSED if input.paused else TemplateStatus.ACTIVE
        return await mutate(
            CouponTemplatePayload,
            PromotionUserError,
            lambda: coupons.change_template_status(
                deps, admin, _template_id(input.template_id), target
            ),
            _present_template,
        )

    @strawberry.mutation(
        permission_classes=[IsAdmin],
        description="End a template for good. Issued coupons stay usable until they expire.",
    )
    async def end_coupon_template(
        self, info: Info[Context, object], input: CouponTemplateIdInput
    ) -> CouponTemplatePayload:
        deps, admin = info.context.runtime.coupons, actor(info)
        return await mutate(
            CouponTemplatePayload,
            PromotionUserError,
            lambda: coupons.change_template_status(
                deps, admin, _template_id(input.template_id), TemplateStatus.ENDED
            ),
            _present_template,
        )

    @strawberry.mutation(
        permission_classes=[IsMember],
        description="Take a coupon from the coupon centre (领券中心), within the template's "
        "quantity and per-member limit.",
    )
    async def claim_coupon(
        self, info: Info[Context, object], input: ClaimCouponInput
    ) -> CouponPayload:
        deps, member = info.context.runtime.coupons, actor(info)
        return await mutate(
            CouponPayload,
            PromotionUserError,
            lambda: coupons.claim_coupon(
                deps, member, _template_id(input.template_id), input.idempotency_key
            ),
            _present_coupon,
        )

    @strawberry.mutation(
        permission_classes=[IsCustomerService],
        description="Give a member a coupon, saying why (kept in the staff action log). A "
        "retry with the same key gives no second coupon.",
    )
    async def grant_coupon(
        self, info: Info[Context, object], input: GrantCouponInput
    ) -> CouponPayload:
        deps, agent = info.context.runtime.coupons, actor(info)
        return await mutate(
            CouponPayload,
            PromotionUserError,
            lambda: coupons.grant_coupon(
                deps,
                agent,
                _template_id(input.template_id),
                decode_id(input.member_id, "Member", "memberId"),
                input.reason,
                input.idempotency_key,
            ),
            _present_coupon,
        )

    @strawberry.mutation(
        permission_classes=[IsAdmin],
        description="Redemption codes (兑换码) for a template, each usable once. The codes are "
        "in this answer only.",
    )
    async def create_coupon_codes(
        self, info: Info[Context, object], input: CreateCouponCodesInput
    ) -> CouponCodesPayload:
        deps, admin = info.context.runtime.coupons, actor(info)
        return await mutate(
            CouponCodesPayload,
            PromotionUserError,
            lambda: coupons.create_codes(deps, admin, _template_id(input.template_id), input.count),
            lambda codes: CouponCodesPayload(codes=codes),
        )

    @strawberry.mutation(
        permission_classes=[IsMember],
        description="Turn a redemption code into a coupon. Wrong codes are rate-limited.",
    )
    async def redeem_coupon_code(
        self, info: Info[Context, object], input: RedeemCouponCodeInput
    ) -> CouponPayload:
        deps, member = info.context.runtime.coupons, actor(info)
        return await mutate(
            CouponPayload,
            PromotionUserError,
            lambda: coupons.redeem_code(deps, member, input.code),
            _present_coupon,
        )
