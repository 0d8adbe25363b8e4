"""Coupon templates and coupons: what a template promises, who may have one, what a coupon
takes off a cart. Plain rules; the services (`coupons.py`) store and issue them.

Money is integer fen; a percentage is basis points (10 % = 1000). A discount never exceeds
what the coupon's scope covers in the cart, so it can be allocated to those lines."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from uuid import UUID

from domain.catalog.model import Money
from domain.errors import PromotionError, PromotionErrorCode

MAX_NAME_LENGTH = 60
MAX_SCOPE_ITEMS = 200  # ids per scope list
MAX_QUANTITY = 10_000_000
MAX_PER_MEMBER = 100
MAX_VALID_DAYS = 3650
MAX_AMOUNT = 100_000_000  # ¥1,000,000 in fen
BASIS_POINTS = 10_000
NEW_MEMBER_DAYS = 30  # a OneID younger than this is a new member (新人)
EXPIRING_NOTICE = timedelta(days=3)  # "coupons expiring" is sent this long before the end
MAX_CODES_PER_CALL = 1000
MAX_REASON_LENGTH = 200
MIN_YEAR, MAX_YEAR = 2000, 2200  # a campaign's window, not the calendar's limits


class CouponKind(StrEnum):
    AMOUNT_OFF = "AMOUNT_OFF"  # 满减: `amount_off` once the scope's subtotal reaches `threshold`
    PERCENT_OFF = "PERCENT_OFF"  # 折扣: basis points off, at most `max_discount`
    NO_THRESHOLD = "NO_THRESHOLD"  # 无门槛: `amount_off` from the first fen


class TemplateStatus(StrEnum):
    ACTIVE = "ACTIVE"
    PAUSED = "PAUSED"  # no new coupons; issued ones stay usable
    ENDED = "ENDED"  # for good: no new coupons, issued ones stay usable until they expire


class CouponStatus(StrEnum):
    AVAILABLE = "AVAILABLE"
    HELD = "HELD"  # by an unpaid order (order_id)
    USED = "USED"  # the order was paid
    EXPIRED = "EXPIRED"


class CouponView(StrEnum):
    """What `me { coupons(status:) }` lists: AVAILABLE (also HELD by an unpaid order) while
    valid; USED; EXPIRED (also AVAILABLE ones past their end the expiry job has not reached)."""

    AVAILABLE = "AVAILABLE"
    USED = "USED"
    EXPIRED = "EXPIRED"


class CouponSource(StrEnum):
    CLAIM = "CLAIM"  # the member, in the coupon centre (领券中心)
    CODE = "CODE"  # the member, with a redemption code (兑换码)
    GRANT = "GRANT"  # CS, or another context (referrals, automations) with a key


# What a template may move to.
MAY_BECOME = {
    TemplateStatus.ACTIVE: frozenset({TemplateStatus.PAUSED, TemplateStatus.ENDED}),
    TemplateStatus.PAUSED: frozenset({TemplateStatus.ACTIVE, TemplateStatus.ENDED}),
    TemplateStatus.ENDED: frozenset[TemplateStatus](),
}


@dataclass(frozen=True)
class CouponRules:
    """What a coupon takes off. AMOUNT_OFF and NO_THRESHOLD: `amount_off`; PERCENT_OFF:
    `percent_off_bp` capped at `max_discount` (None: no cap). `threshold`: the scope's subtotal
    from which it applies (0 for NO_THRESHOLD)."""

    kind: CouponKind
    amount_off: int = 0
    percent_off_bp: int = 0
    max_discount: int | None = None
    threshold: int = 0
    currency: str = "CNY"


@dataclass(frozen=True)
class CouponScope:
    """Where a coupon applies; an empty list does not restrict. Products and categories
    together: a line in either."""

    product_ids: tuple[UUID, ...] = ()
    category_ids: tuple[UUID, ...] = ()
    channels: tuple[str, ...] = ()
    location_ids: tuple[UUID, ...] = ()

    @property
    def is_everything(self) -> bool:
        return not (self.product_ids or self.category_ids or self.channels or self.location_ids)


@dataclass(frozen=True)
class Validity:
    """A fixed window (`starts_at`..`ends_at`), or `days` from the moment of issue. Claims
    are open while the template is ACTIVE and (fixed window) before `ends_at`."""

    starts_at: datetime | None = None
    ends_at: datetime | None = None
    days: int | None = None

    def window_from(self, issued_at: datetime) -> tuple[datetime, datetime]:
        if self.days is not None:
            return issued_at, issued_at + timedelta(days=self.days)
        assert self.starts_at is not None and self.ends_at is not None
        return self.starts_at, self.ends_at


@dataclass(frozen=True)
class TemplateDraft:
    name: str
    rules: CouponRules
    scope: CouponScope
    validity: Validity
    total_quantity: int
    per_member_limit: int = 1
    new_members_only: bool = False
    stackable_with_points: bool = True
    stackable_with_coupons: bool = False


@dataclass
class CouponTemplate:
    id: UUID
    name: str
    rules: CouponRules
    scope: CouponScope
    validity: Validity
    total_quantity: int
    per_member_limit: int
    new_members_only: bool
    stackable_with_points: bool
    stackable_with_coupons: bool
    status: TemplateStatus
    issued: int  # coupons issued so far (claims, codes and grants): never above total_quantity
    created_at: datetime
    updated_at: datetime

    @property
    def remaining(self) -> int:
        return self.total_quantity - self.issued

    def claimable_at(self, now: datetime) -> bool:
        if self.status is not TemplateStatus.ACTIVE:
            return False
        v = self.validity
        return v.days is not None or (v.ends_at is not None and now < v.ends_at)


@dataclass
class Coupon:
    id: UUID
    template_id: UUID
    member_id: UUID
    status: CouponStatus
    source: CouponSource
    valid_from: datetime
    valid_until: datetime
    issued_at: datetime
    # The member's claim slot 1..per_member_limit (claims and codes): the unique key
    # (template, member, slot) enforces the limit. Grants and merged-in coupons have none.
    slot: int | None = None
    issue_key: str | None = None  # a grant's idempotency key (unique)
    order_id: UUID | None = None  # the order holding or having used it
    used_at: datetime | None = None
    reminded_at: datetime | None = None  # "coupons expiring" was enqueued
    discount: int = 0  # fen it takes off the order holding or having used it

    def usable_at(self, now: datetime) -> bool:
        return self.status is CouponStatus.AVAILABLE and self.valid_from <= now < self.valid_until


@dataclass(frozen=True)
class CouponHold:
    """One coupon to hold for an order: AVAILABLE, the member's and valid at `at` → HELD by
    `order_id`, taking `discount` fen off it (one conditional update)."""

    coupon_id: UUID
    member_id: UUID
    order_id: UUID
    discount: int
    at: datetime


@dataclass(frozen=True)
class CartLine:
    """A cart line as a coupon sees it: what it is, where it sits, what it costs."""

    variant_id: UUID
    product_id: UUID
    category_id: UUID | None
    quantity: int
    total: int  # fen, after member prices (and earlier coupons): what the member would pay


@dataclass(frozen=True)
class CouponCart:
    lines: Sequence[CartLine]
    channel: str
    location_id: UUID | None = None
    currency: str = "CNY"


@dataclass(frozen=True)
class CouponOption:
    """One of the member's coupons against one cart: the discount it gives (0 when it does
    not apply, with the reason), allocated to the cart's lines by index."""

    coupon: Coupon
    template: CouponTemplate
    discount: int
    reason: str | None = None
    allocation: tuple[int, ...] = field(default=())


def _refuse(message: str, *path: str) -> PromotionError:
    return PromotionError(PromotionErrorCode.INVALID_INPUT, message, list(path))


def clean_name(name: str) -> str:
    cleaned = name.strip()
    if not cleaned or len(cleaned) > MAX_NAME_LENGTH:
        raise _refuse(f"`name` is 1-{MAX_NAME_LENGTH} characters.", "name")
    return cleaned


def clean_reason(reason: str) -> str:
    cleaned = reason.strip()
    if not cleaned or len(cleaned) > MAX_REASON_LENGTH:
        raise _refuse(f"`reason` is 1-{MAX_REASON_LENGTH} characters.", "reason")
    return cleaned


def _amount(value: int, name: str, *, positive: bool) -> int:
    low = 1 if positive else 0
    if not low <= value <= MAX_AMOUNT:
        raise _refuse(f"`{name}` is {low} to {MAX_AMOUNT} fen; got {value}.", name)
    return value


def clean_rules(rules: CouponRules) -> CouponRules:
    if rules.kind is CouponKind.PERCENT_OFF:
        if not 0 < rules.percent_off_bp < BASIS_POINTS:
            raise _refuse(
                "`percentOff` is 1-99 % (`percentOffBasisPoints` 1-9999): a coupon takes off "
                "part of the price, never all of it.",
                "percentOffBasisPoints",
            )
        if rules.amount_off:
            raise _refuse("A PERCENT_OFF coupon has no `amountOff`.", "amountOff")
        if rules.max_discount is not None:
            _amount(rules.max_discount, "maxDiscount", positive=True)
    else:
        _amount(rules.amount_off, "amountOff", positive=True)
        if rules.percent_off_bp or rules.max_discount is not None:
            raise _refuse(
                f"A {rules.kind.value} coupon takes off `amountOff`: no percentage or cap.",
                "percentOffBasisPoints",
            )
    _amount(rules.threshold, "threshold", positive=False)
    if rules.kind is CouponKind.NO_THRESHOLD and rules.threshold:
        raise _refuse("A NO_THRESHOLD coupon has no `threshold`.", "threshold")
    if rules.kind is CouponKind.AMOUNT_OFF and rules.threshold < rules.amount_off:
        raise _refuse(
            "An AMOUNT_OFF coupon's `threshold` is at least its `amountOff` (满减: ¥20 off "
            "from ¥99); without one, use NO_THRESHOLD.",
            "threshold",
        )
    return rules


def clean_scope(scope: CouponScope, channels: Sequence[str]) -> CouponScope:
    for name, items in (
        ("productIds", scope.product_ids),
        ("categoryIds", scope.category_ids),
        ("channels", scope.channels),
        ("storeIds", scope.location_ids),
    ):
        if len(items) > MAX_SCOPE_ITEMS:
            raise PromotionError(
                PromotionErrorCode.TOO_MANY_ITEMS,
                f"`{name}` lists at most {MAX_SCOPE_ITEMS}; got {len(items)}.",
                ["scope", name],
            )
    for index, channel in enumerate(scope.channels):
        if channel not in channels:
            raise _refuse(
                f"Unknown channel {channel!r}; one of {', '.join(channels)}.",
                "scope",
                "channels",
                str(index),
            )
    return CouponScope(
        tuple(dict.fromkeys(scope.product_ids)),
        tuple(dict.fromkeys(scope.category_ids)),
        tuple(dict.fromkeys(scope.channels)),
        tuple(dict.fromkeys(scope.location_ids)),
    )


def clean_validity(validity: Validity) -> Validity:
    if validity.days is not None:
        if validity.starts_at is not None or validity.ends_at is not None:
            raise _refuse(
                "Give `validDays` or a window (`startsAt`, `endsAt`), not both.", "validDays"
            )
        if not 1 <= validity.days <= MAX_VALID_DAYS:
            raise _refuse(f"`validDays` is 1-{MAX_VALID_DAYS}.", "validDays")
        return validity
    if validity.starts_at is None or validity.ends_at is None:
        raise _refuse("Give `validDays`, or both `startsAt` and `endsAt`.", "endsAt")
    if validity.starts_at.tzinfo is None or validity.ends_at.tzinfo is None:
        raise _refuse("`startsAt` and `endsAt` carry a time zone.", "startsAt")
    for name, moment in (("startsAt", validity.starts_at), ("endsAt", validity.ends_at)):
        if not MIN_YEAR <= moment.year <= MAX_YEAR:  # also keeps UTC conversions in range
            raise _refuse(f"`{name}` is a date from {MIN_YEAR} to {MAX_YEAR}.", name)
    if validity.ends_at <= validity.starts_at:
        raise _refuse("`endsAt` is after `startsAt`.", "endsAt")
    return validity


def clean_draft(draft: TemplateDraft, channels: Sequence[str]) -> TemplateDraft:
    if not 1 <= draft.total_quantity <= MAX_QUANTITY:
        raise _refuse(f"`totalQuantity` is 1-{MAX_QUANTITY}.", "totalQuantity")
    if not 1 <= draft.per_member_limit <= MAX_PER_MEMBER:
        raise _refuse(f"`perMemberLimit` is 1-{MAX_PER_MEMBER}.", "perMemberLimit")
    return TemplateDraft(
        name=clean_name(draft.name),
        rules=clean_rules(draft.rules),
        scope=clean_scope(draft.scope, channels),
        validity=clean_validity(draft.validity),
        total_quantity=draft.total_quantity,
        per_member_limit=draft.per_member_limit,
        new_members_only=draft.new_members_only,
        stackable_with_points=draft.stackable_with_points,
        stackable_with_coupons=draft.stackable_with_coupons,
    )


def in_scope(scope: CouponScope, line: CartLine) -> bool:
    if not (scope.product_ids or scope.category_ids):
        return True
    return line.product_id in scope.product_ids or (
        line.category_id is not None and line.category_id in scope.category_ids
    )


def _money(fen: int, currency: str) -> str:
    return Money(fen, currency).formatted


def discount_of(rules: CouponRules, eligible: int) -> int:
    """What the rules take off `eligible` fen (the scope's subtotal): never more than it."""
    if eligible < rules.threshold or eligible <= 0:
        return 0
    if rules.kind is CouponKind.PERCENT_OFF:
        off = eligible * rules.percent_off_bp // BASIS_POINTS  # rounded down: never over
        if rules.max_discount is not None:
            off = min(off, rules.max_discount)
        return off
    return min(rules.amount_off, eligible)


def allocate(total: int, weights: Sequence[int]) -> tuple[int, ...]:
    """`total` split over lines in proportion to `weights`, largest remainder first (ties to
    the earlier line): the shares add up to `total` exactly."""
    whole = sum(weights)
    if not whole or not total:
        return tuple(0 for _ in weights)
    shares = [total * w // whole for w in weights]
    order = sorted(range(len(weights)), key=lambda i: (-(total * weights[i] % whole), i))
    for i in order[: total - sum(shares)]:
        shares[i] += 1
    return tuple(shares)


def evaluate(
    coupon: Coupon, template: CouponTemplate, cart: CouponCart, now: datetime
) -> CouponOption:
    """The discount `coupon` gives on `cart` now, allocated to its lines; or 0 and why not."""

    def no(reason: str) -> CouponOption:
        return CouponOption(coupon, template, 0, reason, tuple(0 for _ in cart.lines))

    rules, scope = template.rules, template.scope
    if coupon.status is not CouponStatus.AVAILABLE:
        return no(f"This coupon is {coupon.status.value.lower()}.")
    if now < coupon.valid_from:
        return no(f"Valid from {coupon.valid_from.isoformat()}.")
    if now >= coupon.valid_until:
        return no("This coupon has expired.")
    if rules.currency != cart.currency:
        return no(f"This coupon is in {rules.currency}.")
    if scope.channels and cart.channel not in scope.channels:
        return no(f"Only for orders through {', '.join(scope.channels)}.")
    if scope.location_ids and cart.location_id not in scope.location_ids:
        return no("Not valid at this store.")
    weights = [line.total if in_scope(scope, line) else 0 for line in cart.lines]
    eligible = sum(weights)
    if not eligible:
        return no("None of these items is covered by this coupon.")
    if eligible < rules.threshold:
        short = _money(rules.threshold - eligible, rules.currency)
        return no(f"Add {short} more of the items it covers.")
    off = discount_of(rules, eligible)
    return CouponOption(coupon, template, off, None, allocate(off, weights))


def best_first(options: Sequence[CouponOption]) -> list[CouponOption]:
    """Applicable options by discount (largest first), then the earliest to expire; the
    ones that do not apply last."""
    return sorted(
        options,
        key=lambda o: (o.reason is not None, -o.discount, o.coupon.valid_until, str(o.coupon.id)),
    )


def apply_in_order(
    pairs: Sequence[tuple[Coupon, CouponTemplate]], cart: CouponCart, now: datetime
) -> list[CouponOption]:
    """Several coupons on one cart, one after another: each sees the line totals the ones
    before it left, so together they never take off more than the cart holds."""
    options = []
    for coupon, template in pairs:
        option = evaluate(coupon, template, cart, now)
        options.append(option)
        if option.discount:
            lines = [
                CartLine(x.variant_id, x.product_id, x.category_id, x.quantity, x.total - off)
                for x, off in zip(cart.lines, option.allocation, strict=True)
            ]
            cart = CouponCart(lines, cart.channel, cart.location_id, cart.currency)
    return options


def rule_text(rules: CouponRules, scope: CouponScope) -> str:
    """What a coupon takes off, in words a member reads: "¥20.00 off orders from ¥99.00"."""
    c = rules.currency
    if rules.kind is CouponKind.PERCENT_OFF:
        bp = rules.percent_off_bp
        percent = f"{bp // 100}" if bp % 100 == 0 else f"{bp // 100}.{bp % 100:02d}".rstrip("0")
        text = f"{percent}% off"
        if rules.max_discount is not None:
            text += f", at most {_money(rules.max_discount, c)}"
    else:
        text = f"{_money(rules.amount_off, c)} off"
    text += f" orders from {_money(rules.threshold, c)}" if rules.threshold else ", no minimum"
    if scope.product_ids or scope.category_ids:
        text += "; selected items only"
    if scope.channels:
        text += f"; {', '.join(scope.channels)} only"
    if scope.location_ids:
        text += "; selected stores only"
    return text


def is_new_member(member_since: datetime, now: datetime) -> bool:
    return now - member_since < timedelta(days=NEW_MEMBER_DAYS)
