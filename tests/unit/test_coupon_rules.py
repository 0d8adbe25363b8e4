"""Coupon rules: what a template may say, what a coupon takes off a cart, and why not."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.errors import PromotionError, PromotionErrorCode
from domain.ids import new_id
from domain.promotions.coupons_model import (
    CartLine,
    Coupon,
    CouponCart,
    CouponKind,
    CouponRules,
    CouponScope,
    CouponSource,
    CouponStatus,
    CouponTemplate,
    TemplateStatus,
    Validity,
    allocate,
    apply_in_order,
    best_first,
    clean_draft,
    discount_of,
    evaluate,
    is_new_member,
    rule_text,
)
from domain.promotions.deps import CouponPolicy
from tests.support.coupons import draft

NOW = datetime(2027, 3, 1, 4, 0, tzinfo=UTC)
CHANNELS = CouponPolicy().channels
OFF_20_FROM_99 = CouponRules(CouponKind.AMOUNT_OFF, amount_off=2000, threshold=9900)


def refused(code: PromotionErrorCode, **changes: object) -> list[str] | None:
    with pytest.raises(PromotionError) as caught:
        clean_draft(draft(**changes), CHANNELS)
    assert caught.value.code is code
    return caught.value.field


def test_a_good_draft_is_kept_and_its_scope_deduplicated() -> None:
    product = new_id()
    cleaned = clean_draft(
        draft(name="  新人券 ", scope=CouponScope(product_ids=(product, product))), CHANNELS
    )
    assert cleaned.name == "新人券"
    assert cleaned.scope.product_ids == (product,)


@pytest.mark.parametrize(
    ("rules", "field"),
    [
        (CouponRules(CouponKind.AMOUNT_OFF, amount_off=0, threshold=100), "amountOff"),
        (CouponRules(CouponKind.AMOUNT_OFF, amount_off=2000, threshold=1000), "threshold"),
        (CouponRules(CouponKind.NO_THRESHOLD, amount_off=500, threshold=100), "threshold"),
        (CouponRules(CouponKind.PERCENT_OFF, percent_off_bp=10_000), "percentOffBasisPoints"),
        (CouponRules(CouponKind.PERCENT_OFF, percent_off_bp=0), "percentOffBasisPoints"),
        (CouponRules(CouponKind.PERCENT_OFF, percent_off_bp=1000, amount_off=5), "amountOff"),
        (
            CouponRules(CouponKind.NO_THRESHOLD, amount_off=500, max_discount=100),
            "percentOffBasisPoints",
        ),
    ],
)
def test_rules_that_make_no_sense_are_refused(rules: CouponRules, field: str) -> None:
    assert refused(PromotionErrorCode.INVALID_INPUT, rules=rules) == [field]


def test_validity_is_a_window_or_days_never_both_or_neither() -> None:
    start = NOW
    both = Validity(starts_at=start, ends_at=start + timedelta(days=1), days=3)
    assert refused(PromotionErrorCode.INVALID_INPUT, validity=both) == ["validDays"]
    assert refused(PromotionErrorCode.INVALID_INPUT, validity=Validity()) == ["endsAt"]
    backwards = Validity(starts_at=start, ends_at=start - timedelta(seconds=1))
    assert refused(PromotionErrorCode.INVALID_INPUT, validity=backwards) == ["endsAt"]
    assert refused(PromotionErrorCode.INVALID_INPUT, validity=Validity(days=0)) == ["validDays"]
    ancient = Validity(starts_at=datetime(1, 1, 1, tzinfo=UTC), ends_at=start)
    assert refused(PromotionErrorCode.INVALID_INPUT, validity=ancient) == ["startsAt"]


def test_quantities_limits_and_channels_are_checked() -> None:
    assert refused(PromotionErrorCode.INVALID_INPUT, total_quantity=0) == ["totalQuantity"]
    assert refused(PromotionErrorCode.INVALID_INPUT, per_member_limit=0) == ["perMemberLimit"]
    assert refused(PromotionErrorCode.INVALID_INPUT, scope=CouponScope(channels=("TV",))) == [
        "scope",
        "channels",
        "0",
    ]
    many = CouponScope(product_ids=tuple(new_id() for _ in range(201)))
    assert refused(PromotionErrorCode.TOO_MANY_ITEMS, scope=many) == ["scope", "productIds"]


def test_amount_off_applies_from_its_threshold() -> None:
    assert discount_of(OFF_20_FROM_99, 9899) == 0
    assert discount_of(OFF_20_FROM_99, 9900) == 2000
    no_threshold = CouponRules(CouponKind.NO_THRESHOLD, amount_off=5000)
    assert discount_of(no_threshold, 3000) == 3000  # never more than the items cost


def test_percent_off_rounds_down_and_stops_at_its_cap() -> None:
    rules = CouponRules(CouponKind.PERCENT_OFF, percent_off_bp=1250, max_discount=1000)
    assert discount_of(rules, 999) == 124  # 12.5 % of 9.99 is 1.24875: rounded down
    assert discount_of(rules, 100_000) == 1000
    assert discount_of(replace(rules, max_discount=None), 100_000) == 12_500


@given(
    st.integers(min_value=0, max_value=10**9),
    st.lists(st.integers(min_value=0, max_value=10**7), min_size=1, max_size=12),
)
def test_an_allocation_adds_up_and_follows_the_weights(total: int, weights: list[int]) -> None:
    shares = allocate(total, weights)
    if sum(weights):
        assert sum(shares) == total
        for share, weight in zip(shares, weights, strict=True):
            assert abs(share * sum(weights) - total * weight) < sum(weights)  # within a fen
    else:
        assert shares == tuple(0 for _ in weights)


def _template(**changes: object) -> CouponTemplate:
    base = CouponTemplate(
        id=new_id(),
        name="t",
        rules=OFF_20_FROM_99,
        scope=CouponScope(),
        validity=Validity(days=30),
        total_quantity=10,
        per_member_limit=1,
        new_members_only=False,
        stackable_with_points=True,
        stackable_with_coupons=False,
        status=TemplateStatus.ACTIVE,
        issued=0,
        created_at=NOW,
        updated_at=NOW,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def _coupon(template: CouponTemplate, **changes: object) -> Coupon:
    base = Coupon(
        id=new_id(),
        template_id=template.id,
        member_id=new_id(),
        status=CouponStatus.AVAILABLE,
        source=CouponSource.CLAIM,
        valid_from=NOW - timedelta(days=1),
        valid_until=NOW + timedelta(days=1),
        issued_at=NOW - timedelta(days=1),
        slot=1,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def _line(total: int, **changes: object) -> CartLine:
    return replace(CartLine(new_id(), new_id(), None, 1, total), **changes)  # type: ignore[arg-type]


def test_a_coupon_covers_only_its_scope_and_is_allocated_to_those_lines() -> None:
    food = new_id()
    covered, other = _line(6000, category_id=food), _line(8000)
    offered = _template(scope=CouponScope(category_ids=(food,)))
    cart = CouponCart([covered, other], "MINI_PROGRAM")

    option = evaluate(_coupon(offered), offered, cart, NOW)
    assert option.discount == 0
    assert option.reason == "Add ¥39.00 more of the items it covers."

    bigger = CouponCart([covered, _line(4000, category_id=food), other], "MINI_PROGRAM")
    option = evaluate(_coupon(offered), offered, bigger, NOW)
    assert (option.discount, option.allocation) == (2000, (1200, 800, 0))


@pytest.mark.parametrize(
    ("coupon_changes", "template_changes", "cart_changes", "reason"),
    [
        ({"status": CouponStatus.USED}, {}, {}, "This coupon is used."),
        ({"valid_until": NOW}, {}, {}, "This coupon has expired."),
        ({}, {"scope": CouponScope(channels=("POS",))}, {}, "Only for orders through POS."),
        ({}, {"scope": CouponScope(location_ids=(new_id(),))}, {}, "Not valid at this store."),
        ({}, {"scope": CouponScope(product_ids=(new_id(),))}, {}, "None of these items"),
    ],
)
def test_why_a_coupon_does_not_apply(
    coupon_changes: dict[str, object],
    template_changes: dict[str, object],
    cart_changes: dict[str, object],
    reason: str,
) -> None:
    offered = _template(**template_changes)
    cart = replace(CouponCart([_line(20_000)], "MINI_PROGRAM", new_id()), **cart_changes)
    option = evaluate(_coupon(offered, **coupon_changes), offered, cart, NOW)
    assert option.discount == 0
    assert option.reason is not None and option.reason.startswith(reason)


def test_the_best_coupon_comes_first_and_the_inapplicable_last() -> None:
    ten = _template(rules=CouponRules(CouponKind.NO_THRESHOLD, amount_off=1000))
    twenty = _template()
    far = _template(rules=CouponRules(CouponKind.AMOUNT_OFF, amount_off=5000, threshold=50_000))
    cart = CouponCart([_line(10_000)], "MINI_PROGRAM")
    options = [evaluate(_coupon(t), t, cart, NOW) for t in (far, ten, twenty)]
    assert [o.template for o in best_first(options)] == [twenty, ten, far]


def test_stacked_coupons_never_take_off_more_than_the_cart_holds() -> None:
    a = _template(rules=CouponRules(CouponKind.NO_THRESHOLD, amount_off=3000))
    b = _template(rules=CouponRules(CouponKind.PERCENT_OFF, percent_off_bp=5000))
    cart = CouponCart([_line(4000), _line(2000)], "MINI_PROGRAM")
    first, second = apply_in_order([(_coupon(a), a), (_coupon(b), b)], cart, NOW)
    assert first.discount == 3000
    assert second.discount == 1500  # half of what the first left
    assert [x + y for x, y in zip(first.allocation, second.allocation, strict=True)] == [
        3000,
        1500,
    ]


def test_rule_text_says_what_a_member_gets() -> None:
    assert rule_text(OFF_20_FROM_99, CouponScope()) == "¥20.00 off orders from ¥99.00"
    capped = CouponRules(CouponKind.PERCENT_OFF, percent_off_bp=1250, max_discount=3000)
    assert (
        rule_text(capped, CouponScope(channels=("POS",)))
        == "12.5% off, at most ¥30.00, no minimum; POS only"
    )
    assert rule_text(CouponRules(CouponKind.NO_THRESHOLD, amount_off=500), CouponScope()) == (
        "¥5.00 off, no minimum"
    )


def test_a_member_is_new_for_thirty_days() -> None:
    assert is_new_member(NOW - timedelta(days=29), NOW)
    assert not is_new_member(NOW - timedelta(days=30), NOW)
