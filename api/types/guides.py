"""Shopping-guide attribution (导购): a guide's share, a member's guide, a store's month."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from strawberry.types import Info

from api.context import Context
from api.relay import encode_id
from api.types.locations import Location
from domain.growth import guides_model as m
from domain.growth.guides_model import BindingSource

strawberry.enum(BindingSource, name="GuideBindingSource")


@strawberry.type(description="What a guide's share carries: the code, the page and its scene.")
class GuideShare:
    code: str
    share_path: str = strawberry.field(description="The mini-program page with `?guide=`.")
    scene: str = strawberry.field(description="The `scene` of a mini-program code (≤ 32).")

    @classmethod
    def from_domain(cls, share: m.GuideShare) -> GuideShare:
        return cls(code=share.code, share_path=share.share_path, scene=share.scene)


@strawberry.type(
    description="A member's exclusive shopping guide. The member sees the name only; CS and "
    "staff of the guide's store see the guide, the store and how the binding came about."
)
class MemberGuide:
    staff_name: str
    staff_id: strawberry.ID | None
    active: bool | None = strawberry.field(
        description="False: the guide was deactivated (keeps their members, binds no one new)."
    )
    source: BindingSource | None
    bound_at: datetime | None
    assigned_by: str | None = strawberry.field(description="Who assigned the guide, if anyone.")
    reason: str | None
    store_id: strawberry.Private[Any]

    @strawberry.field(description="The store the member is bound at (staff only).")
    async def store(self, info: Info[Context, Any]) -> Location | None:
        if self.store_id is None:
            return None
        found = await info.context.loaders.location.load(self.store_id)
        return Location.from_domain(found) if found else None

    @classmethod
    def from_domain(cls, guide: m.Guide, *, staff: bool) -> MemberGuide:
        if not staff:
            return cls(
                staff_name=guide.staff_name,
                staff_id=None,
                active=None,
                source=None,
                bound_at=None,
                assigned_by=None,
                reason=None,
                store_id=None,
            )
        b = guide.binding
        assigned = b.source is BindingSource.ASSIGNED
        return cls(
            staff_name=guide.staff_name,
            staff_id=encode_id("StaffUser", b.staff_id),
            active=guide.active,
            source=b.source,
            bound_at=b.bound_at,
            assigned_by=b.actor if assigned else None,
            reason=b.reason if assigned else None,
            store_id=b.store_id,
        )


@strawberry.type(description="One guide's month (or the store's total, without a guide).")
class GuideStats:
    staff_id: strawberry.ID | None
    staff_name: str
    orders: int = strawberry.field(description="Paid orders, not cancelled, placed that month.")
    gmv: int = strawberry.field(description="Fen those orders paid in money, less refunds.")
    new_members: int = strawberry.field(description="Members bound that month.")
    repurchasing_members: int = strawberry.field(
        description="Members with two paid orders or more that month."
    )

    @classmethod
    def from_domain(cls, stats: m.GuideStats) -> GuideStats:
        return cls(
            staff_id=encode_id("StaffUser", stats.staff_id) if stats.staff_id else None,
            staff_name=stats.staff_name,
            orders=stats.orders,
            gmv=stats.gmv,
            new_members=stats.new_members,
            repurchasing_members=stats.repurchasing_members,
        )


@strawberry.type(description="A store's month of shopping-guide attribution.")
class GuidePerformance:
    store_id: strawberry.ID
    month: str
    guides: list[GuideStats] = strawberry.field(description="By GMV, highest first.")
    total: GuideStats

    @classmethod
    def from_domain(cls, found: m.Performance) -> GuidePerformance:
        return cls(
            store_id=encode_id("Location", found.store_id),
            month=found.month,
            guides=[GuideStats.from_domain(s) for s in found.guides],
            total=GuideStats.from_domain(found.total),
        )
