"""The coupon services on a real database: what checkout will call (hold, spend, give back),
grants by key, new members by OneID, the expiry job and the "coupons expiring" reminder."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

import pytest

from domain.errors import PromotionError, PromotionErrorCode
from domain.ids import new_id
from domain.members.merge import merge_members
from domain.members.model import Channel, ConsentPurpose
from domain.members.privacy import ConsentChange, export_member_data, update_consents
from domain.promotions.coupons import (
    claim_coupon,
    create_codes,
    expire_coupons,
    grant_in_uow,
    redeem_code,
    remind_expiring,
)
from domain.promotions.coupons_checkout import (
    give_back_in_uow,
    hold_in_uow,
    spend_in_uow,
    usable_coupons,
)
from domain.promotions.coupons_model import (
    CartLine,
    CouponCart,
    CouponKind,
    CouponRules,
    CouponStatus,
)
from infra.db.models.coupons import CouponRow, CouponTemplateRow
from infra.db.models.outbox import OutboxMessageRow
from infra.runtime import Runtime
from tests.support import MovableClock
from tests.support.coupons import ADMIN, CS, member, template
from tests.support.points import new_member


def cart(total: int) -> CouponCart:
    return CouponCart([CartLine(new_id(), new_id(), None, 1, total)], "MINI_PROGRAM")


async def status_of(coupon_id: UUID) -> tuple[CouponStatus, UUID | None]:
    row = await CouponRow.get(id=coupon_id)
    return CouponStatus(row.status), row.order_id


async def refused(code: PromotionErrorCode, pending: object) -> None:
    with pytest.raises(PromotionError) as caught:
        await pending  # type: ignore[misc]
    assert caught.value.code is code


async def test_checkout_holds_spends_and_gives_back(runtime: Runtime, clock: MovableClock) -> None:
    deps = runtime.coupons
    alice = await new_member(runtime, "checkout-alice")
    coupon, _ = await claim_coupon(deps, member(alice), (await template(runtime)).id)

    [option] = await usable_coupons(deps, alice, cart(12_000))
    assert (option.coupon.id, option.discount, option.reason) == (coupon.id, 2000, None)
    [short] = await usable_coupons(deps, alice, cart(5000))
    assert (short.discount, short.reason) == (0, "Add ¥49.00 more of the items it covers.")

    order, other = new_id(), new_id()
    async with runtime.unit_of_work() as uow:
        [held] = await hold_in_uow(deps, uow, alice, [coupon.id], order, cart(12_000))
    assert held.discount == 2000 and held.allocation == (2000,)
    assert await status_of(coupon.id) == (CouponStatus.HELD, order)
    assert await usable_coupons(deps, alice, cart(12_000)) == []
    async with runtime.unit_of_work() as uow:
        with pytest.raises(PromotionError) as caught:
            await hold_in_uow(deps, uow, alice, [coupon.id], other, cart(12_000))
    assert caught.value.code is PromotionErrorCode.COUPON_UNAVAILABLE

    async with runtime.unit_of_work() as uow:  # cancelled before payment
        assert await give_back_in_uow(uow, order, deps.clock.now()) == 1
    assert await status_of(coupon.id) == (CouponStatus.AVAILABLE, None)

    async with runtime.unit_of_work() as uow:
        await hold_in_uow(deps, uow, alice, [coupon.id], other, cart(12_000))
        assert await spend_in_uow(uow, other, deps.clock.now()) == 1
    assert await status_of(coupon.id) == (CouponStatus.USED, other)

    clock.advance(timedelta(days=31))  # refunded after the coupon ended: it is not back
    async with runtime.unit_of_work() as uow:
        assert await give_back_in_uow(uow, other, deps.clock.now()) == 1
    assert await status_of(coupon.id) == (CouponStatus.EXPIRED, None)


async def test_a_hold_refuses_what_does_not_apply_or_combine(runtime: Runtime) -> None:
    deps = runtime.coupons
    bob = await new_member(runtime, "hold-bob")
    first, _ = await claim_coupon(deps, member(bob), (await template(runtime)).id)
    second, _ = await claim_coupon(deps, member(bob), (await template(runtime)).id)
    mallory = await new_member(runtime, "hold-mallory")
    async with runtime.unit_of_work() as uow:
        await refused(
            PromotionErrorCode.COUPON_UNAVAILABLE,
            hold_in_uow(deps, uow, bob, [first.id], new_id(), cart(100)),  # under the threshold
        )
        await refused(
            PromotionErrorCode.COUPON_UNAVAILABLE,
            hold_in_uow(deps, uow, bob, [first.id, second.id], new_id(), cart(50_000)),
        )
        await refused(  # somebody else's coupon
            PromotionErrorCode.COUPON_UNAVAILABLE,
            hold_in_uow(deps, uow, mallory, [first.id], new_id(), cart(50_000)),
        )
    assert await status_of(first.id) == (CouponStatus.AVAILABLE, None)


async def test_a_grant_happens_once_per_key_and_counts_against_the_quantity(
    runtime: Runtime,
) -> None:
    deps = runtime.coupons
    carol = await new_member(runtime, "grant-carol")
    offered = await template(runtime, total_quantity=2)
    async with runtime.unit_of_work() as uow:
        first = await grant_in_uow(deps, uow, offered.id, carol, "referral:1")
    async with runtime.unit_of_work() as uow:
        again = await grant_in_uow(deps, uow, offered.id, carol, "referral:1")
    async with runtime.unit_of_work() as uow:
        other = await grant_in_uow(deps, uow, offered.id, carol, "referral:2")  # past the limit
    assert again.id == first.id and other.id != first.id
    assert (await CouponTemplateRow.get(id=offered.id)).issued == 2
    async with runtime.unit_of_work() as uow:
        await refused(
            PromotionErrorCode.TEMPLATE_SOLD_OUT,
            grant_in_uow(deps, uow, offered.id, carol, "referral:3"),
        )


async def test_new_members_only_follows_the_oneid(runtime: Runtime, clock: MovableClock) -> None:
    deps = runtime.coupons
    welcome = await template(runtime, new_members_only=True, total_quantity=10)
    veteran = await new_member(runtime, "oneid-veteran")
    clock.advance(timedelta(days=60))
    await refused(
        PromotionErrorCode.NOT_A_NEW_MEMBER, claim_coupon(deps, member(veteran), welcome.id)
    )
    newcomer = await new_member(runtime, "oneid-newcomer")
    duplicate = await new_member(runtime, "oneid-duplicate")
    await claim_coupon(deps, member(newcomer), welcome.id)
    # The veteran signed up again: merged into the new account, it is still a veteran.
    await merge_members(runtime.members, CS, veteran, duplicate, "same person")
    await refused(
        PromotionErrorCode.NOT_A_NEW_MEMBER, claim_coupon(deps, member(duplicate), welcome.id)
    )


async def test_a_merge_moves_coupons_without_taking_the_survivors_slots(runtime: Runtime) -> None:
    deps = runtime.coupons
    offered = await template(runtime)
    one, two = await new_member(runtime, "merge-one"), await new_member(runtime, "merge-two")
    moved, _ = await claim_coupon(deps, member(one), offered.id)
    kept, _ = await claim_coupon(deps, member(two), offered.id)
    await merge_members(runtime.members, CS, one, two, "same person")
    rows = await CouponRow.filter(member_id=two).order_by("slot").values_list("id", "slot")
    assert sorted(rows, key=str) == sorted([(moved.id, None), (kept.id, 1)], key=str)


async def test_a_redemption_code_works_once(runtime: Runtime) -> None:
    deps = runtime.coupons
    offered = await template(runtime, per_member_limit=3)
    dave = await new_member(runtime, "code-dave")
    [code] = await create_codes(deps, ADMIN, offered.id, 1)
    coupon, _ = await redeem_code(deps, member(dave), code.lower())
    assert coupon.template_id == offered.id
    await refused(PromotionErrorCode.COUPON_CODE_USED, redeem_code(deps, member(dave), code))
    for _ in range(deps.policy.code_attempts):
        await refused(
            PromotionErrorCode.INVALID_COUPON_CODE, redeem_code(deps, member(dave), "WRONG")
        )
    [fresh] = await create_codes(deps, ADMIN, offered.id, 1)
    await refused(PromotionErrorCode.TOO_MANY_ATTEMPTS, redeem_code(deps, member(dave), fresh))


async def test_expiry_and_the_reminder_with_consent_only(
    runtime: Runtime, clock: MovableClock
) -> None:
    deps = runtime.coupons
    offered = await template(
        runtime, rules=CouponRules(CouponKind.NO_THRESHOLD, amount_off=500), total_quantity=5
    )
    agreed, silent = await new_member(runtime, "remind-yes"), await new_member(runtime, "remind-no")
    await update_consents(
        runtime.members,
        member(agreed),
        [ConsentChange(ConsentPurpose.MARKETING_WECHAT, True)],
        "2026-01",
        Channel.MINI_PROGRAM,
    )
    told, _ = await claim_coupon(deps, member(agreed), offered.id)
    await claim_coupon(deps, member(silent), offered.id)

    assert await remind_expiring(deps) == 0  # 30 days left
    clock.advance(timedelta(days=27, hours=1))
    assert await remind_expiring(deps) == 1
    assert await remind_expiring(deps) == 0  # once per coupon
    [message] = await OutboxMessageRow.filter(kind="COUPON_EXPIRING")
    assert message.member_id == agreed and message.dedupe_key == f"coupon:{told.id}:coupon_expiring"
    assert message.data["coupon"] == offered.name

    assert await expire_coupons(deps) == 0
    clock.advance(timedelta(days=3))
    assert await expire_coupons(deps) == 2
    assert set(await CouponRow.all().values_list("status", flat=True)) == {CouponStatus.EXPIRED}


async def test_the_data_export_lists_the_members_coupons(runtime: Runtime) -> None:
    erin = await new_member(runtime, "export-erin")
    offered = await template(runtime, per_member_limit=2)
    first, _ = await claim_coupon(runtime.coupons, member(erin), offered.id)
    second, _ = await claim_coupon(runtime.coupons, member(erin), offered.id)
    document = await export_member_data(runtime.members, member(erin))
    listed = document["coupons"]
    assert [c["templateId"] for c in listed] == [str(offered.id)] * 2
    assert {c["status"] for c in listed} == {"AVAILABLE"}
    assert sorted(c["validUntil"] for c in listed) == sorted(
        c.valid_until.isoformat() for c in (first, second)
    )
