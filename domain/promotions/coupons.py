"""Coupons: ADMIN runs templates; members claim coupons (领券中心) or redeem codes (兑换码); CS
and other contexts grant them; jobs expire them and remind members before they end. (What
checkout does with them is in `coupons_checkout.py`.)

Issuing is one transaction: `take_one` counts the coupon on the template in a conditional
update (`issued < total_quantity`), which also locks the template row until the commit, then
the coupon is inserted under a unique key. Claims and codes take the member's first free
slot 1..per_member_limit, unique per (template, member, slot), so neither concurrency nor a
second process gets a member past the limit; grants carry their idempotency key instead
(unique). Whatever fails after `take_one` rolls the count back with the transaction."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from domain.clock import Clock
from domain.errors import PromotionError, PromotionErrorCode
from domain.events import EventHandlers, ExportScope, MembersMerged, PagedExporter
from domain.idempotency import clean_key, once
from domain.identity.model import Principal
from domain.identity.services import record_staff_action_in_uow
from domain.ids import new_id
from domain.locations.model import local_date
from domain.members.model import ConsentPurpose
from domain.members.services import member_since_in_uow, surviving_member_in_uow
from domain.ordering.services import is_cs
from domain.outbox import Notification, enqueue
from domain.pagination import MAX_PAGE_SIZE, Page, PageRequest
from domain.promotions.coupons_model import (
    EXPIRING_NOTICE,
    MAX_CODES_PER_CALL,
    MAY_BECOME,
    Coupon,
    CouponSource,
    CouponStatus,
    CouponTemplate,
    CouponView,
    TemplateDraft,
    TemplateStatus,
    clean_draft,
    clean_reason,
    is_new_member,
)
from domain.promotions.deps import CouponDeps
from domain.uow import UnitOfWork

Issued = tuple[Coupon, CouponTemplate]  # a coupon with its template's rules, for the member

MAX_BATCH = 100_000  # coupons given in one `grant_batch_in_uow`
MAX_ISSUE_KEY = 160  # coupon.issue_key: "cs:<agent id>:" and a client's 100-character key
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud, typed by hand
CODE_LENGTH = 12  # 60 bits: guessing one is hopeless, and guesses are rate-limited


def _error(code: PromotionErrorCode, message: str, *field: str) -> PromotionError:
    return PromotionError(code, message, list(field))


def _admin(actor: Principal) -> None:
    if not actor.is_admin:  # the permission class said so first; the rule lives here
        raise _error(PromotionErrorCode.FORBIDDEN, "Only ADMIN staff run coupon templates.")


async def _template(uow: UnitOfWork, template_id: UUID, *, lock: bool = False) -> CouponTemplate:
    found = await uow.coupons.get_template(template_id, lock=lock)
    if found is None:
        raise _error(PromotionErrorCode.NOT_FOUND, "No such coupon template.", "templateId")
    return found


async def create_template(
    deps: CouponDeps, actor: Principal, draft: TemplateDraft
) -> CouponTemplate:
    _admin(actor)
    clean = clean_draft(draft, deps.policy.channels)
    now = deps.clock.now()
    template = CouponTemplate(
        id=new_id(),
        name=clean.name,
        rules=clean.rules,
        scope=clean.scope,
        validity=clean.validity,
        total_quantity=clean.total_quantity,
        per_member_limit=clean.per_member_limit,
        new_members_only=clean.new_members_only,
        stackable_with_points=clean.stackable_with_points,
        stackable_with_coupons=clean.stackable_with_coupons,
        status=TemplateStatus.ACTIVE,
        issued=0,
        created_at=now,
        updated_at=now,
    )
    async with deps.uow() as uow:
        await uow.coupons.add_template(template)
    return template


async def update_template(
    deps: CouponDeps, actor: Principal, template_id: UUID, draft: TemplateDraft
) -> CouponTemplate:
    """Edit a template. Coupons already issued read its rules, so once one is issued the
    rules (kind, amounts, threshold) stay as they are; the quantity never drops below what
    was issued. An ENDED template is not edited."""
    _admin(actor)
    clean = clean_draft(draft, deps.policy.channels)
    async with deps.uow() as uow:
        template = await _template(uow, template_id, lock=True)
        if template.status is TemplateStatus.ENDED:
            raise _error(PromotionErrorCode.ILLEGAL_STATE, "This template has ended.", "templateId")
        if template.issued and clean.rules != template.rules:
            raise _error(
                PromotionErrorCode.ILLEGAL_STATE,
                f"{template.issued} coupons of this template were issued with its rules; "
                "make a new template for other rules.",
                "kind",
            )
        if template.issued and clean.per_member_limit < template.per_member_limit:
            raise _error(
                PromotionErrorCode.INVALID_INPUT,
                "Members may hold up to the old limit already; `perMemberLimit` can only grow "
                "once coupons are issued.",
                "perMemberLimit",
            )
        if clean.total_quantity < template.issued:
            raise _error(
                PromotionErrorCode.INVALID_INPUT,
                f"{template.issued} coupons were issued already; `totalQuantity` is at least that.",
                "totalQuantity",
            )
        template.name, template.rules, template.scope = clean.name, clean.rules, clean.scope
        template.validity = clean.validity
        template.total_quantity = clean.total_quantity
        template.per_member_limit = clean.per_member_limit
        template.new_members_only = clean.new_members_only
        template.stackable_with_points = clean.stackable_with_points
        template.stackable_with_coupons = clean.stackable_with_coupons
        template.updated_at = deps.clock.now()
        await uow.coupons.save_template(template)
    return template


async def change_template_status(
    deps: CouponDeps, actor: Principal, template_id: UUID, target: TemplateStatus
) -> CouponTemplate:
    """Pause (no new coupons for now), resume, or end for good. Coupons already issued stay
    usable until they expire."""
    _admin(actor)
    async with deps.uow() as uow:
        template = await _template(uow, template_id, lock=True)
        if template.status is target:
            return template
        if target not in MAY_BECOME[template.status]:
            raise _error(
                PromotionErrorCode.ILLEGAL_STATE,
                f"A {template.status.value} template cannot become {target.value}.",
                "templateId",
            )
        template.status = target
        template.updated_at = deps.clock.now()
        await uow.coupons.save_template(template)
    return template


async def templates(
    deps: CouponDeps, status: TemplateStatus | None, page: PageRequest
) -> Page[CouponTemplate]:
    async with deps.uow() as uow:
        return await uow.coupons.templates(status, page)


async def _issue_in_uow(
    deps: CouponDeps,
    uow: UnitOfWork,
    template: CouponTemplate,
    member_id: UUID,
    source: CouponSource,
    issue_key: str | None = None,
) -> Coupon:
    """Count the coupon on the template, then insert it: a claim or a code in the member's
    first free slot, a grant under its key (a replay returns the first coupon)."""
    now = deps.clock.now()
    if not template.claimable_at(now):
        raise _error(
            PromotionErrorCode.TEMPLATE_NOT_ACTIVE,
            f"This coupon is not being given out ({template.status.value.lower()}).",
            "templateId",
        )
    if not await uow.coupons.take_one(template.id, now):
        raise _error(
            PromotionErrorCode.TEMPLATE_SOLD_OUT,
            "Every coupon of this kind is taken.",
            "templateId",
        )
    # The template row is ours until the commit: what we read from here on is settled.
    slot = None
    if issue_key is not None:
        first = await uow.coupons.by_issue_key(issue_key)
        if first is not None:
            await uow.coupons.give_one_back(template.id)
            return first
    else:
        taken = await uow.coupons.slots_taken(template.id, member_id)
        free = [n for n in range(1, template.per_member_limit + 1) if n not in taken]
        if not free:
            raise _error(
                PromotionErrorCode.COUPON_LIMIT_REACHED,
                f"You have this coupon already (at most {template.per_member_limit} each).",
                "templateId",
            )
        slot = free[0]
    valid_from, valid_until = template.validity.window_from(now)
    coupon = Coupon(
        id=new_id(),
        template_id=template.id,
        member_id=member_id,
        status=CouponStatus.AVAILABLE,
        source=source,
        valid_from=valid_from,
        valid_until=valid_until,
        issued_at=now,
        slot=slot,
        issue_key=issue_key,
    )
    if not await uow.coupons.add_coupon(coupon):  # only if the template lock were bypassed
        raise _error(PromotionErrorCode.COUPON_LIMIT_REACHED, "Issued already.", "templateId")
    return coupon


async def _check_new(
    deps: CouponDeps, uow: UnitOfWork, template: CouponTemplate, member_id: UUID
) -> UUID:
    member = await surviving_member_in_uow(uow, member_id)
    if member is None or not member.is_active:
        raise _error(PromotionErrorCode.NOT_FOUND, "No such member.", "memberId")
    if template.new_members_only and not is_new_member(
        await member_since_in_uow(uow, member), deps.clock.now()
    ):
        raise _error(
            PromotionErrorCode.NOT_A_NEW_MEMBER,
            "This coupon is for new members only.",
            "templateId",
        )
    return member.id


async def claim_coupon(
    deps: CouponDeps, actor: Principal, template_id: UUID, idempotency_key: str | None = None
) -> Issued:
    """A member takes a coupon from the coupon centre (领券中心)."""
    if not actor.is_member:
        raise _error(PromotionErrorCode.FORBIDDEN, "Members claim coupons.")
    now = deps.clock.now()
    async with deps.uow() as uow:

        async def write() -> dict[str, str]:
            template = await _template(uow, template_id)
            member_id = await _check_new(deps, uow, template, actor.id)
            coupon = await _issue_in_uow(deps, uow, template, member_id, CouponSource.CLAIM)
            return {"coupon_id": str(coupon.id)}

        result = await once(
            uow.idempotency,
            f"{actor.label}:claimCoupon",
            idempotency_key,
            {"t": str(template_id)},
            now,
            write,
        )
        found = await uow.coupons.get_coupon(UUID(result["coupon_id"]))
        assert found is not None  # written by this request or by the first with its key
        return found, await _template(uow, found.template_id)


async def grant_in_uow(
    deps: CouponDeps, uow: UnitOfWork, template_id: UUID, member_id: UUID, key: str
) -> Coupon:
    """Give a member a coupon inside the caller's transaction (referral rewards, automations,
    CS): once per `key`, whoever calls again with it gets the first coupon. Grants count
    against the template's quantity, not the per-member limit (the caller decided); a
    new-members-only template still goes to new members only."""
    clean = key.strip()
    if not 0 < len(clean) <= MAX_ISSUE_KEY or "\x00" in clean:
        raise _error(
            PromotionErrorCode.INVALID_INPUT,
            f"A grant's key is 1-{MAX_ISSUE_KEY} characters.",
            "idempotencyKey",
        )
    first = await uow.coupons.by_issue_key(clean)
    if first is not None:
        same = await surviving_member_in_uow(uow, member_id)
        if first.template_id != template_id or same is None or same.id != first.member_id:
            raise _error(
                PromotionErrorCode.IDEMPOTENCY_CONFLICT,
                "This key gave another coupon; use a new key.",
                "idempotencyKey",
            )
        return first
    template = await _template(uow, template_id)
    survivor = await _check_new(deps, uow, template, member_id)
    return await _issue_in_uow(deps, uow, template, survivor, CouponSource.GRANT, clean)


async def grant_batch_in_uow(
    deps: CouponDeps, uow: UnitOfWork, template_id: UUID, member_ids: Sequence[UUID], key: str
) -> list[Coupon]:
    """One coupon of the template for each member named (named n times: n coupons), inside
    the caller's transaction: a campaign's batch (or the benchmark's world). All are counted
    on the template at once (`take_many`: the whole batch or nothing) and inserted in bulk,
    each a grant under the key `{key}:{n}`: a batch is given once under its key. The caller
    chose the members, who are not checked one by one: a new-members-only template
    is refused."""
    clean = key.strip()
    if not 0 < len(f"{clean}:{len(member_ids)}") <= MAX_ISSUE_KEY or "\x00" in clean:
        raise _error(
            PromotionErrorCode.INVALID_INPUT, "A batch's key is too long.", "idempotencyKey"
        )
    if not 0 < len(member_ids) <= MAX_BATCH:
        raise _error(
            PromotionErrorCode.TOO_MANY_ITEMS,
            f"A batch gives 1-{MAX_BATCH} coupons.",
            "memberIds",
        )
    if await uow.coupons.by_issue_key(f"{clean}:0") is not None:
        raise _error(
            PromotionErrorCode.IDEMPOTENCY_CONFLICT,
            "A batch was given under this key already; use a new key.",
            "idempotencyKey",
        )
    template = await _template(uow, template_id)
    now = deps.clock.now()
    if template.new_members_only:
        raise _error(
            PromotionErrorCode.NOT_A_NEW_MEMBER,
            "This coupon is for new members only: grant it one by one.",
            "templateId",
        )
    if not template.claimable_at(now):
        raise _error(
            PromotionErrorCode.TEMPLATE_NOT_ACTIVE,
            f"This coupon is not being given out ({template.status.value.lower()}).",
            "templateId",
        )
    if not await uow.coupons.take_many(template.id, len(member_ids)):
        raise _error(
            PromotionErrorCode.TEMPLATE_SOLD_OUT,
            f"Fewer than {len(member_ids)} coupons of this kind are left.",
            "templateId",
        )
    valid_from, valid_until = template.validity.window_from(now)
    coupons = [
        Coupon(
            id=new_id(),
            template_id=template.id,
            member_id=member_id,
            status=CouponStatus.AVAILABLE,
            source=CouponSource.GRANT,
            valid_from=valid_from,
            valid_until=valid_until,
            issued_at=now,
            issue_key=f"{clean}:{n}",
        )
        for n, member_id in enumerate(member_ids)
    ]
    await uow.coupons.add_coupons(coupons)
    return coupons


async def coupon_template_in_uow(uow: UnitOfWork, template_id: UUID) -> CouponTemplate | None:
    """The template, for another context that names one in its rules (a referral program's
    or a friend-assist campaign's reward); None when there is none, which the caller reports
    in its own terms."""
    return await uow.coupons.get_template(template_id)


async def revoke_unused_grant_in_uow(uow: UnitOfWork, key: str, now: datetime) -> bool:
    """Take back the coupon granted with `key` while it is unused (a reward clawed back): it
    expires now. A used or held coupon stays with the member; False then, or without one."""
    coupon = await uow.coupons.by_issue_key(key.strip())
    return coupon is not None and await uow.coupons.revoke(coupon.id, now)


async def grant_coupon(
    deps: CouponDeps,
    actor: Principal,
    template_id: UUID,
    member_id: UUID,
    reason: str,
    idempotency_key: str,
) -> Issued:
    """CS gives a member a coupon, saying why (the staff action log keeps the reason)."""
    if not is_cs(actor):
        raise _error(PromotionErrorCode.FORBIDDEN, "Only CS_AGENT or ADMIN staff grant coupons.")
    why = clean_reason(reason)
    key = clean_key(idempotency_key)
    if key is None:
        raise _error(PromotionErrorCode.INVALID_INPUT, "`idempotencyKey` is required.")
    scoped = f"cs:{actor.id}:{key}"  # the same key of two agents names two grants
    async with deps.uow() as uow:
        replay = await uow.coupons.by_issue_key(scoped)
        coupon = await grant_in_uow(deps, uow, template_id, member_id, scoped)
        if replay is None:
            await record_staff_action_in_uow(
                uow, actor.label, "GRANT_COUPON", f"coupon:{coupon.id}", why, deps.clock.now()
            )
        return coupon, await _template(uow, coupon.template_id)


def _code_hash(code: str) -> str:
    return hashlib.sha256(code.strip().upper().replace("-", "").encode()).hexdigest()


def _new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


async def create_codes(
    deps: CouponDeps, actor: Principal, template_id: UUID, count: int
) -> list[str]:
    """Redemption codes (兑换码) for a template, each usable once. Only their hashes are
    stored: the codes are in this answer and nowhere else."""
    _admin(actor)
    if not 1 <= count <= MAX_CODES_PER_CALL:
        raise _error(
            PromotionErrorCode.INVALID_INPUT, f"`count` is 1-{MAX_CODES_PER_CALL}.", "count"
        )
    codes = [_new_code() for _ in range(count)]
    async with deps.uow() as uow:
        template = await _template(uow, template_id)
        if template.status is TemplateStatus.ENDED:
            raise _error(PromotionErrorCode.ILLEGAL_STATE, "This template has ended.", "templateId")
        await uow.coupons.add_codes(template.id, [_code_hash(c) for c in codes], deps.clock.now())
    return codes


async def redeem_code(deps: CouponDeps, actor: Principal, code: str) -> Issued:
    """A member turns a redemption code into a coupon: the code is spent in the same
    transaction (a failed issue leaves it unused). Wrong codes count against the member's
    rate limit."""
    if not actor.is_member:
        raise _error(PromotionErrorCode.FORBIDDEN, "Members redeem coupon codes.")
    key, policy = f"coupon-code:{actor.id}", deps.policy
    if await deps.limiter.hit(key, policy.code_attempts, policy.code_window_seconds):
        raise _error(
            PromotionErrorCode.TOO_MANY_ATTEMPTS, "Too many wrong codes; try again later.", "code"
        )
    hashed, now = _code_hash(code), deps.clock.now()
    async with deps.uow() as uow:
        template_id = await uow.coupons.redeem_code(hashed, actor.id, now)
        if template_id is None:
            if not await uow.coupons.code_exists(hashed):
                raise _error(PromotionErrorCode.INVALID_COUPON_CODE, "No such code.", "code")
            await deps.limiter.give_back(key)  # a real code, if spent: not a guess
            raise _error(PromotionErrorCode.COUPON_CODE_USED, "This code was used.", "code")
        await deps.limiter.give_back(key)
        template = await _template(uow, template_id)
        member_id = await _check_new(deps, uow, template, actor.id)
        coupon = await _issue_in_uow(deps, uow, template, member_id, CouponSource.CODE)
        return coupon, await _template(uow, template.id)


async def coupons_of_member(
    deps: CouponDeps, member_id: UUID, view: CouponView, page: PageRequest
) -> Page[tuple[Coupon, CouponTemplate]]:
    async with deps.uow() as uow:
        found = await uow.coupons.for_member(member_id, view, deps.clock.now(), page)
        by_id = {
            t.id: t for t in await uow.coupons.templates_of([c.template_id for c in found.items])
        }
    pairs = [(c, by_id[c.template_id]) for c in found.items]
    return Page(pairs, found.keys, found.has_next, found.has_previous)


async def expire_coupons(deps: CouponDeps) -> int:
    """Job: AVAILABLE coupons past their end become EXPIRED (idempotent, in batches)."""
    total = 0
    while True:
        async with deps.uow() as uow:
            done = await uow.coupons.expire(deps.clock.now(), deps.policy.batch)
        total += done
        if done < deps.policy.batch:
            return total


async def remind_expiring(deps: CouponDeps) -> int:
    """Job: "coupons expiring" once per coupon, 3 days before its end, to members who agreed
    to marketing messages (the outbox drops it for the others). Each coupon is marked as
    reminded in the transaction that enqueues its message, so overlapping runs send one."""
    now = deps.clock.now()
    async with deps.uow() as uow:
        due = await uow.coupons.claim_expiring(now + EXPIRING_NOTICE, now, deps.policy.batch)
        names = {t.id: t.name for t in await uow.coupons.templates_of([c.template_id for c in due])}
        notes = [
            _notice(
                "COUPON_EXPIRING",
                c,
                coupon=names[c.template_id],
                expires=local_date(c.valid_until, None).isoformat(),
            )
            for c in due
        ]
        return await enqueue(uow, deps.clock, notes) if notes else 0


def _notice(kind: str, about: Coupon, **fields: str) -> Notification:
    """A marketing message about one coupon: only for members who agreed to them."""
    return Notification(
        kind=kind,
        member_id=about.member_id,
        order_id=None,
        data={**fields},
        dedupe_key=f"coupon:{about.id}:{kind.lower()}",
        consent=ConsentPurpose.MARKETING_WECHAT,
    )


def coupons_exporter(clock: Clock) -> PagedExporter:
    """The member's coupons in every state, newest first, for their data export."""

    async def export(
        uow: UnitOfWork, scope: ExportScope, after: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        page = await uow.coupons.for_member(
            scope.member_id, None, clock.now(), PageRequest(MAX_PAGE_SIZE, after)
        )
        items = [
            {
                "templateId": str(c.template_id),
                "status": c.status.value,
                "source": c.source.value,
                "validFrom": c.valid_from.isoformat(),
                "validUntil": c.valid_until.isoformat(),
                "orderId": str(c.order_id) if c.order_id else None,
            }
            for c in page.items
        ]
        return items, page.keys[-1] if page.has_next else None

    return export


def register_handlers(events: EventHandlers) -> None:
    async def on_merged(uow: UnitOfWork, event: MembersMerged) -> None:
        await uow.coupons.move_member(event.source_member_id, event.target_member_id)

    events.register(MembersMerged, on_merged)
