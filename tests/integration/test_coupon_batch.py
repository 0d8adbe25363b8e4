"""Coupons given in one batch (`grant_batch_in_uow`): counted on the template at once, each a
grant under its own key, all or none, once per key; what may not be batched is refused and changes
nothing."""

from __future__ import annotations

from collections import Counter

import pytest

from domain.errors import PromotionError, PromotionErrorCode
from domain.promotions.coupons import change_template_status, grant_batch_in_uow
from domain.promotions.coupons_model import CouponSource, CouponStatus, TemplateStatus
from infra.db.models.coupons import CouponRow, CouponTemplateRow
from infra.runtime import Runtime
from tests.support.coupons import ADMIN, template
from tests.support.points import new_member


async def test_a_batch_gives_each_member_named_a_coupon_counted_at_once(
    runtime: Runtime,
) -> None:
    deps = runtime.coupons
    alice = await new_member(runtime, "batch-alice")
    bob = await new_member(runtime, "batch-bob")
    made = await template(runtime, total_quantity=5)
    async with runtime.unit_of_work() as uow:
        given = await grant_batch_in_uow(deps, uow, made.id, [alice, alice, alice, bob], "camp")

    rows = await CouponRow.filter(template_id=made.id)
    assert sorted(str(r.id) for r in rows) == sorted(str(c.id) for c in given)
    assert Counter(r.member_id for r in rows) == {alice: 3, bob: 1}
    assert {(r.status, r.source, r.slot) for r in rows} == {
        (CouponStatus.AVAILABLE.value, CouponSource.GRANT.value, None)
    }
    assert sorted(r.issue_key for r in rows) == ["camp:0", "camp:1", "camp:2", "camp:3"]
    assert (await CouponTemplateRow.get(id=made.id)).issued == 4


async def test_refused_batches_change_nothing(runtime: Runtime) -> None:
    deps = runtime.coupons
    alice = await new_member(runtime, "batch-refused")
    made = await template(runtime, total_quantity=2)
    new_only = await template(runtime, new_members_only=True)
    paused = await template(runtime)
    await change_template_status(deps, ADMIN, paused.id, TemplateStatus.PAUSED)
    cases = [
        (made.id, [alice] * 3, "x", PromotionErrorCode.TEMPLATE_SOLD_OUT),
        (new_only.id, [alice], "x", PromotionErrorCode.NOT_A_NEW_MEMBER),
        (paused.id, [alice], "x", PromotionErrorCode.TEMPLATE_NOT_ACTIVE),
        (made.id, [], "x", PromotionErrorCode.TOO_MANY_ITEMS),
        (made.id, [alice], "k" * 200, PromotionErrorCode.INVALID_INPUT),
    ]
    for template_id, members, key, code in cases:
        with pytest.raises(PromotionError) as caught:
            async with runtime.unit_of_work() as uow:
                await grant_batch_in_uow(deps, uow, template_id, members, key)
        assert caught.value.code is code, (template_id, key)
    assert await CouponRow.all().count() == 0
    assert {t.issued for t in await CouponTemplateRow.all()} == {0}


async def test_a_batch_is_given_once_under_its_key(runtime: Runtime) -> None:
    deps = runtime.coupons
    alice = await new_member(runtime, "batch-twice")
    made = await template(runtime, total_quantity=10)
    async with runtime.unit_of_work() as uow:
        await grant_batch_in_uow(deps, uow, made.id, [alice, alice], "once")
    with pytest.raises(PromotionError) as caught:
        async with runtime.unit_of_work() as uow:
            await grant_batch_in_uow(deps, uow, made.id, [alice], "once")
    assert caught.value.code is PromotionErrorCode.IDEMPOTENCY_CONFLICT
    assert await CouponRow.filter(template_id=made.id).count() == 2
    assert (await CouponTemplateRow.get(id=made.id)).issued == 2
