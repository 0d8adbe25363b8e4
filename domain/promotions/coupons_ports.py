"""Storage of coupon templates, coupons and redemption codes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol
from uuid import UUID

from domain.pagination import Page, PageRequest
from domain.promotions.coupons_model import (
    Coupon,
    CouponTemplate,
    CouponView,
    TemplateStatus,
)


class CouponRepository(Protocol):
    async def add_template(self, template: CouponTemplate) -> None: ...
    async def get_template(
        self, template_id: UUID, *, lock: bool = False
    ) -> CouponTemplate | None: ...
    async def templates_of(self, template_ids: Sequence[UUID]) -> list[CouponTemplate]: ...
    async def save_template(self, template: CouponTemplate) -> None:
        """Write what an edit or a status change may change (never `issued`)."""
        ...

    async def templates(
        self, status: TemplateStatus | None, page: PageRequest
    ) -> Page[CouponTemplate]:
        """Newest first."""
        ...

    async def take_one(self, template_id: UUID, now: datetime) -> bool:
        """Count one more coupon issued, in one conditional update, only while the template
        is ACTIVE and `issued < total_quantity`: False means none is left (or it is not
        active). The row stays locked until the transaction ends, so claims of one template
        are issued one after another, in every process."""
        ...

    async def take_many(self, template_id: UUID, count: int) -> bool:
        """`take_one` for `count` coupons at once (a batch): all of them or none."""
        ...

    async def give_one_back(self, template_id: UUID) -> None:
        """Undo `take_one` in the same transaction (a replayed grant found its coupon)."""
        ...

    async def add_coupon(self, coupon: Coupon) -> bool:
        """Insert; False (nothing written) when its (template, member, slot) or its issue key
        is taken, also by a concurrent transaction (the unique keys decide)."""
        ...

    async def add_coupons(self, coupons: Sequence[Coupon]) -> None:
        """Insert a batch (counted with `take_many` first); a taken key fails the
        transaction."""
        ...

    async def slots_taken(self, template_id: UUID, member_id: UUID) -> set[int]: ...
    async def by_issue_key(self, key: str) -> Coupon | None: ...
    async def get_coupon(self, coupon_id: UUID) -> Coupon | None: ...
    async def with_templates(
        self, coupon_ids: Sequence[UUID]
    ) -> list[tuple[Coupon, CouponTemplate]]:
        """The coupons found, each with its template, in one read (checkout's)."""
        ...

    async def for_member(
        self, member_id: UUID, view: CouponView | None, now: datetime, page: PageRequest
    ) -> Page[Coupon]:
        """The member's coupons in that view (see `CouponView`; None: all), newest first."""
        ...

    async def available_of(
        self, member_id: UUID, now: datetime
    ) -> list[tuple[Coupon, CouponTemplate]]:
        """The member's AVAILABLE coupons valid at `now`, each with its template, in one read,
        soonest to end first."""
        ...

    async def hold(
        self, coupon_id: UUID, member_id: UUID, order_id: UUID, discount: int, now: datetime
    ) -> bool:
        """AVAILABLE and valid now → HELD by `order_id`, taking `discount` fen off it, in one
        conditional update: of two orders holding one coupon, one wins."""
        ...

    async def held_by(self, order_id: UUID) -> list[Coupon]: ...
    async def spend(self, order_id: UUID, now: datetime) -> int:
        """The order's HELD coupons → USED."""
        ...

    async def give_back(self, order_id: UUID, now: datetime) -> int:
        """The order's HELD or USED coupons → AVAILABLE while still valid (EXPIRED if not);
        they no longer name the order."""
        ...

    async def revoke(self, coupon_id: UUID, now: datetime) -> bool:
        """An AVAILABLE coupon → EXPIRED now (a reward taken back); False when it is used,
        held or expired already."""
        ...

    async def expire(self, now: datetime, limit: int) -> int:
        """AVAILABLE coupons past `valid_until` → EXPIRED (at most `limit`)."""
        ...

    async def claim_expiring(self, before: datetime, now: datetime, limit: int) -> list[Coupon]:
        """AVAILABLE coupons ending before `before` whose reminder was not enqueued: marked
        reminded in one conditional update each (SKIP LOCKED), so two workers never remind
        twice."""
        ...

    async def move_member(self, source: UUID, target: UUID) -> int:
        """A merged member's coupons go to the survivor, without claim slots (the survivor's
        own slots stay theirs)."""
        ...

    async def add_codes(self, template_id: UUID, hashes: Sequence[str], at: datetime) -> None: ...
    async def redeem_code(self, code_hash: str, member_id: UUID, at: datetime) -> UUID | None:
        """Mark the code redeemed by the member in one conditional update; its template id, or
        None when there is no such code or it was redeemed."""
        ...

    async def code_exists(self, code_hash: str) -> bool: ...
