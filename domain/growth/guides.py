"""Shopping-guide attribution (导购): a store clerk's or manager's share carries their code; a
member is bound to one exclusive guide, by first touch (a login or `bindGuide` with the code)
or by the store's manager or CS (with a reason, audited); each order the member then places is
attributed to that guide in the checkout's transaction; a store's month reads per guide.

Anti-abuse: first touch wins (a bound member stays with their guide, also when two shares
race); a deactivated guide, or one moved away from the code's store, keeps their history but
binds no one new; a manager assigns only their own store's staff and takes no member from
another store's guide; every assignment is written to the staff actions log."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from domain.errors import GrowthError, GrowthErrorCode
from domain.events import EventHandlers, Exporter, MemberLoggedIn, MembersMerged, OrderPlaced
from domain.growth.deps import GuideDeps
from domain.growth.guides_model import (
    MAX_REASON,
    BindingSource,
    Guide,
    GuideBinding,
    GuideCode,
    GuideShare,
    GuideStats,
    Performance,
    clean_code,
    guide_code,
    month_window,
    share_of,
)
from domain.identity.model import Principal, StaffRole, StaffUser
from domain.identity.services import record_staff_action_in_uow, staff_in_uow
from domain.members.model import MemberStatus
from domain.members.services import surviving_member_in_uow
from domain.ordering.services import is_cs, paid_orders_in_uow
from domain.uow import UnitOfWork

GUIDE_ROLES = (StaffRole.STORE_CLERK, StaffRole.STORE_MANAGER)


def _error(code: GrowthErrorCode, message: str, field: str | None = None) -> GrowthError:
    return GrowthError(code, message, [field] if field else None)


def _is_guide_of(staff: StaffUser | None, store_id: UUID) -> bool:
    return (
        staff is not None
        and staff.is_active
        and staff.role in GUIDE_ROLES
        and store_id in staff.store_ids
    )


async def guide_share(deps: GuideDeps, actor: Principal, store_id: UUID | None) -> GuideShare:
    """A clerk's or manager's code at one of their stores (the only one when not named), and
    what a share carries; stored at first ask (a code someone enters is looked up)."""
    if not actor.has_role(*GUIDE_ROLES):
        raise _error(GrowthErrorCode.FORBIDDEN, "Only store clerks and managers are guides.")
    if store_id is None:
        if len(actor.store_ids) != 1:
            raise _error(GrowthErrorCode.INVALID_INPUT, "Say which store (`storeId`).", "storeId")
        [store_id] = actor.store_ids
    elif store_id not in actor.store_ids:
        raise _error(GrowthErrorCode.FORBIDDEN, "Not one of your stores.", "storeId")
    code = guide_code(deps.key, actor.id, store_id)
    async with deps.uow() as uow:
        await uow.guides.put_code(GuideCode(code, actor.id, store_id), deps.clock.now())
    return share_of(code)


def named(binding: GuideBinding, staff: StaffUser | None) -> Guide:
    """A binding with its guide's name, and whether the guide still takes new members."""
    return Guide(
        binding, staff.display_name if staff else "", _is_guide_of(staff, binding.store_id)
    )


async def _named(uow: UnitOfWork, binding: GuideBinding) -> Guide:
    return named(binding, (await staff_in_uow(uow, [binding.staff_id])).get(binding.staff_id))


async def first_touch_in_uow(
    deps: GuideDeps, uow: UnitOfWork, member_id: UUID, code_text: str, actor: str
) -> tuple[Guide, bool]:
    """Bind the member to the code's guide unless they have one: (their guide, bound now).
    An unknown code or a guide who binds no one new raises."""
    code = clean_code(code_text)
    found = await uow.guides.code(code) if code else None
    if found is None:
        raise _error(GrowthErrorCode.UNKNOWN_GUIDE_CODE, "No guide has this code.", "guideCode")
    current = await uow.guides.binding(member_id)
    if current is not None:
        return await _named(uow, current), False
    staff = (await staff_in_uow(uow, [found.staff_id])).get(found.staff_id)
    if not _is_guide_of(staff, found.store_id):
        raise _error(
            GrowthErrorCode.GUIDE_INACTIVE, "This guide takes no new members.", "guideCode"
        )
    binding = GuideBinding(
        member_id=member_id,
        staff_id=found.staff_id,
        store_id=found.store_id,
        source=BindingSource.SHARE,
        actor=actor,
        reason="",
        bound_at=deps.clock.now(),
    )
    bound = await uow.guides.bind_first(binding)
    kept = binding if bound else await uow.guides.binding(member_id)
    assert kept is not None  # a concurrent first touch won: the member stays with it
    return await _named(uow, kept), bound


async def bind_guide(deps: GuideDeps, actor: Principal, code: str) -> tuple[Guide, bool]:
    """A signed-in member opens a guide's share: first touch wins; a repeat changes nothing."""
    if not actor.is_member:
        raise _error(GrowthErrorCode.FORBIDDEN, "Only a member binds themselves to a guide.")
    async with deps.uow() as uow:
        return await first_touch_in_uow(deps, uow, actor.id, code, actor.label)


def _reason(text: str) -> str:
    reason = " ".join(text.split())
    if not reason or len(reason) > MAX_REASON:
        raise _error(
            GrowthErrorCode.INVALID_INPUT, f"Give a reason (1-{MAX_REASON} characters).", "reason"
        )
    return reason


def _may_assign(actor: Principal) -> bool:
    return is_cs(actor) or actor.has_role(StaffRole.STORE_MANAGER)


async def _bound_member(uow: UnitOfWork, member_id: UUID) -> UUID:
    member = await surviving_member_in_uow(uow, member_id)
    if member is None or member.status is not MemberStatus.ACTIVE:
        raise _error(GrowthErrorCode.NOT_FOUND, "Unknown member.", "memberId")
    return member.id


def _check_current(actor: Principal, current: GuideBinding | None) -> None:
    """A manager takes no member from another store's guide."""
    if current is not None and not is_cs(actor) and current.store_id not in actor.store_ids:
        raise _error(
            GrowthErrorCode.FORBIDDEN, "The member's guide is at another store.", "memberId"
        )


async def set_member_guide(
    deps: GuideDeps,
    actor: Principal,
    member_id: UUID,
    staff_id: UUID,
    reason: str,
    store_id: UUID | None = None,
) -> Guide:
    """The store's manager (their store's staff) or CS binds a member to a guide, replacing
    any earlier one; the actor and reason are recorded."""
    if not _may_assign(actor):
        raise _error(GrowthErrorCode.FORBIDDEN, "Only a store manager or CS assigns guides.")
    why = _reason(reason)
    async with deps.uow() as uow:
        member = await _bound_member(uow, member_id)
        staff = (await staff_in_uow(uow, [staff_id])).get(staff_id)
        if staff is None or staff.role not in GUIDE_ROLES:
            raise _error(GrowthErrorCode.NOT_A_GUIDE, "Not a store clerk or manager.", "staffId")
        if not staff.is_active:
            raise _error(GrowthErrorCode.GUIDE_INACTIVE, "This guide is deactivated.", "staffId")
        allowed = set(staff.store_ids) if is_cs(actor) else set(staff.store_ids) & actor.store_ids
        stores = sorted(allowed)
        if store_id is not None:
            if store_id not in staff.store_ids:
                raise _error(GrowthErrorCode.NOT_A_GUIDE, "Not a guide of this store.", "storeId")
            if store_id not in allowed:
                raise _error(GrowthErrorCode.FORBIDDEN, "Not one of your stores.", "storeId")
            stores = [store_id]
        if not stores:
            raise _error(GrowthErrorCode.FORBIDDEN, "Not a guide of your stores.", "staffId")
        _check_current(actor, await uow.guides.binding(member))
        binding = GuideBinding(
            member_id=member,
            staff_id=staff.id,
            store_id=stores[0],
            source=BindingSource.ASSIGNED,
            actor=actor.label,
            reason=why,
            bound_at=deps.clock.now(),
        )
        await uow.guides.put_binding(binding)
        await record_staff_action_in_uow(
            uow,
            actor.label,
            "SET_MEMBER_GUIDE",
            f"member:{member}",
            f"{staff.id}: {why}",
            binding.bound_at,
        )
        return Guide(binding, staff.display_name, True)


async def clear_member_guide(
    deps: GuideDeps, actor: Principal, member_id: UUID, reason: str
) -> bool:
    """The guide's store manager or CS unbinds a member (their orders stay attributed);
    False when the member had no guide."""
    if not _may_assign(actor):
        raise _error(GrowthErrorCode.FORBIDDEN, "Only a store manager or CS clears guides.")
    why = _reason(reason)
    async with deps.uow() as uow:
        member = await _bound_member(uow, member_id)
        current = await uow.guides.binding(member)
        if current is None:
            return False
        _check_current(actor, current)
        await uow.guides.clear(member)
        await record_staff_action_in_uow(
            uow, actor.label, "CLEAR_MEMBER_GUIDE", f"member:{member}", why, deps.clock.now()
        )
        return True


def may_see(actor: Principal | None, member_id: UUID, binding: GuideBinding) -> bool:
    """The member, CS and ADMIN, and staff of the guide's store."""
    if actor is None:
        return False
    if actor.is_member:
        return actor.id == member_id
    return is_cs(actor) or (actor.has_role(*GUIDE_ROLES) and binding.store_id in actor.store_ids)


def visible_guide(actor: Principal | None, member_id: UUID, guide: Guide | None) -> Guide | None:
    """The member's guide as the actor may see it (None: no guide, or not for this actor);
    the guides come from the request's loader, read for a whole list of members at once."""
    if guide is None or not may_see(actor, member_id, guide.binding):
        return None
    return guide


async def performance(deps: GuideDeps, actor: Principal, store_id: UUID, month: str) -> Performance:
    """A store's month per guide and in total: paid orders (not cancelled) attributed to the
    guide, what they brought in money less refunds, members bound that month, and members
    with two paid orders or more. Statements do not grow with the guides or orders."""
    if not (
        is_cs(actor) or (actor.has_role(StaffRole.STORE_MANAGER) and store_id in actor.store_ids)
    ):
        raise _error(GrowthErrorCode.FORBIDDEN, "Only the store's manager or CS.", "storeId")
    window = month_window(month)
    if window is None:
        raise _error(GrowthErrorCode.INVALID_INPUT, "A month reads like 2026-12.", "month")
    async with deps.uow() as uow:
        attributed = await uow.guides.attributed(store_id, *window)
        paid = await paid_orders_in_uow(uow, [order for order, _, _ in attributed])
        bound = await uow.guides.bound_counts(store_id, *window)
        guides = {staff for _, _, staff in attributed} | set(bound)
        names = await staff_in_uow(uow, list(guides))
    stats = {g: _Tally() for g in guides}
    total = _Tally()
    for order, member, staff in attributed:
        if order in paid:
            for tally in (stats[staff], total):
                tally.add(member, paid[order].net_paid)
    for staff, count in bound.items():
        stats[staff].new_members = count
        total.new_members += count
    rows = [stats[g].stats(g, names[g].display_name if g in names else "") for g in guides]
    rows.sort(key=lambda s: (-s.gmv, s.staff_name, str(s.staff_id)))
    return Performance(store_id, month.strip(), rows, total.stats(None, ""))


class _Tally:
    def __init__(self) -> None:
        self.orders = 0
        self.gmv = 0
        self.new_members = 0
        self.per_member: dict[UUID, int] = {}

    def add(self, member: UUID, money: int) -> None:
        self.orders += 1
        self.gmv += money
        self.per_member[member] = self.per_member.get(member, 0) + 1

    def stats(self, staff_id: UUID | None, name: str) -> GuideStats:
        repeat = sum(1 for n in self.per_member.values() if n >= 2)
        return GuideStats(staff_id, name, self.orders, self.gmv, self.new_members, repeat)


def guide_exporter(deps: GuideDeps) -> Exporter:
    """The member's guide (name, since when, how), for their data export."""

    async def export(uow: UnitOfWork, member_id: UUID) -> dict[str, Any] | None:
        binding = await uow.guides.binding(member_id)
        if binding is None:
            return None
        guide = await _named(uow, binding)
        return {
            "guide": guide.staff_name,
            "source": binding.source.value,
            "boundAt": binding.bound_at.isoformat(),
        }

    return export


def register_handlers(deps: GuideDeps, events: EventHandlers) -> None:
    async def on_login(uow: UnitOfWork, event: MemberLoggedIn) -> None:
        if not event.guide_code.strip():
            return
        try:  # a login never fails because of a guide's code
            who = f"MEMBER:{event.member_id}"  # as the member's own bindGuide records it
            await first_touch_in_uow(deps, uow, event.member_id, event.guide_code, who)
        except GrowthError:
            return

    async def on_placed(uow: UnitOfWork, event: OrderPlaced) -> None:
        await uow.guides.attribute(event.order_id, event.member_id, event.placed_at)

    async def on_merged(uow: UnitOfWork, event: MembersMerged) -> None:
        await uow.guides.move_member(event.source_member_id, event.target_member_id)

    events.register(MemberLoggedIn, on_login)
    events.register(OrderPlaced, on_placed)
    events.register(MembersMerged, on_merged)
