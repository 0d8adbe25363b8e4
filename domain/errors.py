"""Every expected failure of the domain, and the code a client sees for it.

    DomainError                      base: carries a context, a code, a message and a field path
    ├── CommonError                  CommonErrorCode: raised where no context is known yet
    │     INVALID_ID, NOT_FOUND, INVALID_INPUT, TOO_MANY_ITEMS (every context's enum has them)
    ├── AuthError                    AuthErrorCode
    │     (common codes) UNAUTHENTICATED, INVALID_CREDENTIALS, TOO_MANY_ATTEMPTS,
    │     INVALID_REFRESH_TOKEN, REFRESH_TOKEN_REUSED, FORBIDDEN, DUPLICATE_USERNAME
    ├── CatalogError                 CatalogErrorCode
    │     (common codes) DUPLICATE_CODE, DUPLICATE_BARCODE, DUPLICATE_SLUG,
    │     INVALID_BARCODE, INVALID_PRICE, ARCHIVED, DUPLICATE_ATTRIBUTE, INVALID_URL
    ├── LocationError                LocationErrorCode
    │     (common codes) DUPLICATE_CODE, INVALID_COORDINATES, INVALID_TIMEZONE,
    │     INVALID_OPENING_HOURS, FORBIDDEN
    ├── InventoryError               InventoryErrorCode
    │     (common codes) INSUFFICIENT_STOCK (InsufficientStock lists the shortages),
    │     STALE_QUANTITY, INVALID_QUANTITY, DUPLICATE_VARIANT, SAME_LOCATION,
    │     TRANSFER_NOT_SHIPPED, TRANSFER_ALREADY_SHIPPED, TRANSFER_ALREADY_RECEIVED,
    │     RESERVATION_NOT_FOUND, IDEMPOTENCY_CONFLICT, FORBIDDEN, INVALID_MEMBER_CODE,
    │     MEMBER_CODE_EXPIRED, MEMBER_CODE_USED, INSUFFICIENT_POINTS, POINTS_CAP_EXCEEDED (a
    │     till sale that spends points with a member code: after-sales' and loyalty's codes),
    │     QUANTITY_EXCEEDED (a till return of more units than sold less already returned)
    ├── OrderError                   OrderErrorCode
    │     (common codes) INSUFFICIENT_STOCK (with alternative pickup locations),
    │     VARIANT_UNAVAILABLE, LOCATION_UNAVAILABLE, NO_FULFILMENT_LOCATION,
    │     ILLEGAL_TRANSITION, INVALID_PICKUP_CODE, PICKUP_CODE_EXPIRED, TOO_MANY_ATTEMPTS,
    │     AMOUNT_MISMATCH, PAYMENT_NOT_ALLOWED, IDEMPOTENCY_CONFLICT, FORBIDDEN,
    │     INVALID_MEMBER_CODE, MEMBER_CODE_EXPIRED, MEMBER_CODE_USED (a till order with a
    │     member code: the after-sales context's codes, so the payload shows them)
    ├── PointsError                  PointsErrorCode
    │     (common codes) INSUFFICIENT_POINTS, POINTS_CAP_EXCEEDED, ALREADY_CHECKED_IN,
    │     HOLD_NOT_FOUND, CLAIM_ALREADY_DECIDED (a till sale's points decided otherwise), FORBIDDEN
    ├── SubscriptionError            SubscriptionErrorCode
    │     (common codes) PLAN_UNAVAILABLE, VARIANT_NOT_IN_PLAN, INVALID_DATE,
    │     OUTSIDE_WINDOW, ILLEGAL_STATE, SUBSCRIPTION_PAUSED (skipping while paused),
    │     FIRST_ORDER_REFUSED (a prepaid plan's first order: stock, store), FORBIDDEN
    ├── MemberError                  MemberErrorCode
    │     (common codes) INVALID_PHONE, INVALID_IDENTIFIER, INVALID_CODE, CODE_EXPIRED,
    │     CODE_ALREADY_USED, TOO_MANY_ATTEMPTS, TOO_MANY_REQUESTS, SMS_UNAVAILABLE, UNKNOWN_APP,
    │     INVALID_WECHAT_CODE, WECHAT_RATE_LIMITED, WECHAT_UNAVAILABLE, MEMBER_MERGED,
    │     MEMBER_ERASED, MERGE_INTO_SELF, IDENTIFIER_TAKEN, CONFIRMATION_REQUIRED,
    │     OPEN_ORDERS (paid orders not collected yet stop an erasure), PHONE_IN_USE (held by
    │     another account with its own platform identity: queued for CS), CANDIDATE_RESOLVED,
    │     FORBIDDEN
    ├── AfterSaleError               AfterSaleErrorCode (domain/aftersales/)
    │     (common codes) ILLEGAL_STATE, FORBIDDEN; returns: ORDER_NOT_HANDED_OVER (also for a
    │     review: the line's goods are not picked up or delivered yet), RETURN_WINDOW_CLOSED,
    │     QUANTITY_EXCEEDED, REFUND_ONLY_REQUIRED (fresh produce: no goods come back, only a
    │     refund-only request within its hours), ALREADY_DECIDED (another agent decided
    │     first), REFUND_NOT_POSSIBLE
    │     (the order's payment cannot give that back); reviews: ALREADY_REVIEWED (one review
    │     per order line), INVALID_RATING (1-5), TEXT_TOO_LONG, INVALID_PHOTO_URL (https only);
    │     the CS desk: INVALID_TAX_ID, INVALID_EMAIL, ORDER_NOT_PAID (an invoice for an order
    │     not paid yet, or cancelled), INVOICE_ALREADY_REQUESTED (one per order),
    │     INVOICE_ALREADY_ISSUED; the member code at the till: INVALID_MEMBER_CODE (unreadable,
    │     badly signed, or its member is gone), MEMBER_CODE_EXPIRED, MEMBER_CODE_USED (a code
    │     is the member's consent to one till sale), TOO_MANY_ATTEMPTS (look-ups per device)
    ├── PromotionError               PromotionErrorCode (domain/promotions/)
    │     (common codes) FORBIDDEN, ILLEGAL_STATE; member prices: UNKNOWN_TIER (not one of
    │     loyalty's tiers), INVALID_PRICE (also a member price below 0 fen); coupons:
    │     TEMPLATE_NOT_ACTIVE (paused, ended, or outside its window), TEMPLATE_SOLD_OUT (every
    │     coupon issued),
    │     COUPON_LIMIT_REACHED (the member's per-template limit), NOT_A_NEW_MEMBER (a
    │     new-members-only template; a merged duplicate is not new), INVALID_COUPON_CODE,
    │     COUPON_CODE_USED, TOO_MANY_ATTEMPTS (wrong redemption codes per member),
    │     COUPON_UNAVAILABLE (not the member's, used, held by another order, or expired);
    │     flash sales: INVALID_PRICE (not below the list price), INVALID_WINDOW (ends before
    │     it starts, or in the past), FLASH_SALE_OVERLAP (another sale of the variant at the
    │     same time and place), FLASH_SALE_ENDED (ended or cancelled: no more changes),
    │     FLASH_SALE_SOLD_OUT, FLASH_SALE_LIMIT_REACHED (the member's limit),
    │     FLASH_SALE_MEMBERS_ONLY (a checkout without a member during a sale); the last three
    │     and COUPON_UNAVAILABLE are also OrderErrorCode members, so placeOrder's payload
    │     shows them; the pricing of a
    │     cart (the checkout quote, placeOrder) raises OrderError: it judges the order's input
    ├── GrowthError                  GrowthErrorCode (domain/growth/)
    │     (common codes) IDEMPOTENCY_CONFLICT, FORBIDDEN; group-buys: INVALID_PRICE (not
    │     below the list price), INVALID_WINDOW, CAMPAIGN_NOT_LIVE (not started, ended or
    │     cancelled), CAMPAIGN_SOLD_OUT (no units left for another group), GROUP_FULL (every
    │     seat taken: refused before any payment), GROUP_CLOSED (completed, failed or past its
    │     time), ALREADY_IN_GROUP, GROUP_LIMIT_REACHED (the member's seats in the campaign),
    │     FULFILMENT_NOT_OFFERED (a store or delivery the campaign does not offer),
    │     INSUFFICIENT_STOCK (the member's order could not reserve the unit),
    │     COUPON_UNAVAILABLE (a coupon of the seat's order that does not apply: ordering's);
    │     friend-assist (助力): CAMPAIGN_ENDED (no new tasks),
    │     ALREADY_ASSISTED (once per task per helper), DAILY_LIMIT_REACHED (3 assists a
    │     store-local day per helper, across all tasks), OWN_TASK (the helper's own task, also
    │     through a merged duplicate), TASK_EXPIRED (past its deadline), TASK_COMPLETED (every
    │     threshold reached), NOT_A_NEW_MEMBER (a campaign for new helpers; by OneID);
    │     referrals: INVALID_PROGRAM (no
    │     reward, a bad cap or window, an unknown coupon template), PROGRAM_ENDED (an ended
    │     program changes no more), PROGRAM_ACTIVE (another program is active: one at a time);
    │     shopping guides (导购): UNKNOWN_GUIDE_CODE, GUIDE_INACTIVE (a deactivated guide, or
    │     one no longer at the code's store: binds no one new), NOT_A_GUIDE (not a clerk or
    │     manager of the store)
    └── EngagementError              EngagementErrorCode (domain/engagement/)
          (common codes) NOT_FOUND (an unknown store), INVALID_INPUT (`from` after `to`, a
          month that is not one), IDEMPOTENCY_CONFLICT, FORBIDDEN (a store manager reading
          all stores or another store's numbers); tags: TAG_EXISTS (a tag's name is unique),
          INVALID_TAG_RULE (an automatic tag's rule names no fact, or a bad threshold),
          TAG_NOT_MANUAL (an automatic tag is set by its rule, never by hand); metrics:
          RANGE_TOO_LONG (more days than the granularity allows, more than 24 cohorts);
          automations: AUTOMATION_ARCHIVED (an archived automation changes no more),
          INVALID_TRANSITION (pausing a paused one, resuming an active one); segments:
          INVALID_RULE (a rule the segment language cannot read, with the position, or a TAG
          naming no tag), SEGMENT_EXISTS (a segment's name is unique)

Resolvers turn a DomainError into the matching GraphQL `*Error` type of the payload; nothing
else in the API layer invents codes. Permission failures that happen before a use case
runs are top-level GraphQL errors with `extensions.code` (UNAUTHENTICATED or FORBIDDEN).
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum


class CommonErrorCode(StrEnum):
    INVALID_ID = "INVALID_ID"
    NOT_FOUND = "NOT_FOUND"
    INVALID_INPUT = "INVALID_INPUT"
    TOO_MANY_ITEMS = "TOO_MANY_ITEMS"
    IDEMPOTENCY_CONFLICT = "IDEMPOTENCY_CONFLICT"


class AuthErrorCode(StrEnum):
    INVALID_ID = "INVALID_ID"
    TOO_MANY_ITEMS = "TOO_MANY_ITEMS"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    INVALID_CREDENTIALS = "INVALID_CREDENTIALS"
    TOO_MANY_ATTEMPTS = "TOO_MANY_ATTEMPTS"
    INVALID_REFRESH_TOKEN = "INVALID_REFRESH_TOKEN"
    REFRESH_TOKEN_REUSED = "REFRESH_TOKEN_REUSED"
    FORBIDDEN = "FORBIDDEN"
    DUPLICATE_USERNAME = "DUPLICATE_USERNAME"
    INVALID_INPUT = "INVALID_INPUT"
    NOT_FOUND = "NOT_FOUND"


class CatalogErrorCode(StrEnum):
    INVALID_ID = "INVALID_ID"
    NOT_FOUND = "NOT_FOUND"
    INVALID_INPUT = "INVALID_INPUT"
    TOO_MANY_ITEMS = "TOO_MANY_ITEMS"
    DUPLICATE_CODE = "DUPLICATE_CODE"
    DUPLICATE_BARCODE = "DUPLICATE_BARCODE"
    DUPLICATE_SLUG = "DUPLICATE_SLUG"
    INVALID_BARCODE = "INVALID_BARCODE"
    INVALID_PRICE = "INVALID_PRICE"
    ARCHIVED = "ARCHIVED"
    DUPLICATE_ATTRIBUTE = "DUPLICATE_ATTRIBUTE"
    INVALID_URL = "INVALID_URL"


class LocationErrorCode(StrEnum):
    INVALID_ID = "INVALID_ID"
    NOT_FOUND = "NOT_FOUND"
    INVALID_INPUT = "INVALID_INPUT"
    TOO_MANY_ITEMS = "TOO_MANY_ITEMS"
    DUPLICATE_CODE = "DUPLICATE_CODE"
    INVALID_COORDINATES = "INVALID_COORDINATES"
    INVALID_TIMEZONE = "INVALID_TIMEZONE"
    INVALID_OPENING_HOURS = "INVALID_OPENING_HOURS"
    FORBIDDEN = "FORBIDDEN"


class InventoryErrorCode(StrEnum):
    INVALID_ID = "INVALID_ID"
    NOT_FOUND = "NOT_FOUND"
    INVALID_INPUT = "INVALID_INPUT"
    TOO_MANY_ITEMS = "TOO_MANY_ITEMS"
    INSUFFICIENT_STOCK = "INSUFFICIENT_STOCK"
    STALE_QUANTITY = "STALE_QUANTITY"
    INVALID_QUANTITY = "INVALID_QUANTITY"
    DUPLICATE_VARIANT = "DUPLICATE_VARIANT"
    SAME_LOCATION = "SAME_LOCATION"
    TRANSFER_NOT_SHIPPED = "TRANSFER_NOT_SHIPPED"
    TRANSFER_ALREADY_SHIPPED = "TRANSFER_ALREADY_SHIPPED"
    TRANSFER_ALREADY_RECEIVED = "TRANSFER_ALREADY_RECEIVED"
    RESERVATION_NOT_FOUND = "RESERVATION_NOT_FOUND"
    INVALID_MEMBER_CODE = "INVALID_MEMBER_CODE"
    MEMBER_CODE_EXPIRED = "MEMBER_CODE_EXPIRED"
    MEMBER_CODE_USED = "MEMBER_CODE_USED"
    INSUFFICIENT_POINTS = "INSUFFICIENT_POINTS"
    POINTS_CAP_EXCEEDED = "POINTS_CAP_EXCEEDED"
    QUANTITY_EXCEEDED = "QUANTITY_EXCEEDED"
    IDEMPOTENCY_CONFLICT = "IDEMPOTENCY_CONFLICT"
    FORBIDDEN = "FORBIDDEN"


class OrderErrorCode(StrEnum):
    INVALID_ID = "INVALID_ID"
    NOT_FOUND = "NOT_FOUND"
    INVALID_INPUT = "INVALID_INPUT"
    TOO_MANY_ITEMS = "TOO_MANY_ITEMS"
    IDEMPOTENCY_CONFLICT = "IDEMPOTENCY_CONFLICT"
    INSUFFICIENT_STOCK = "INSUFFICIENT_STOCK"
    VARIANT_UNAVAILABLE = "VARIANT_UNAVAILABLE"
    LOCATION_UNAVAILABLE = "LOCATION_UNAVAILABLE"
    NO_FULFILMENT_LOCATION = "NO_FULFILMENT_LOCATION"
    ILLEGAL_TRANSITION = "ILLEGAL_TRANSITION"
    INVALID_PICKUP_CODE = "INVALID_PICKUP_CODE"
    PICKUP_CODE_EXPIRED = "PICKUP_CODE_EXPIRED"
    INVALID_MEMBER_CODE = "INVALID_MEMBER_CODE"
    MEMBER_CODE_EXPIRED = "MEMBER_CODE_EXPIRED"
    MEMBER_CODE_USED = "MEMBER_CODE_USED"
    TOO_MANY_ATTEMPTS = "TOO_MANY_ATTEMPTS"
    AMOUNT_MISMATCH = "AMOUNT_MISMATCH"
    PAYMENT_NOT_ALLOWED = "PAYMENT_NOT_ALLOWED"
    INSUFFICIENT_POINTS = "INSUFFICIENT_POINTS"
    POINTS_CAP_EXCEEDED = "POINTS_CAP_EXCEEDED"
    FORBIDDEN = "FORBIDDEN"
    FLASH_SALE_SOLD_OUT = "FLASH_SALE_SOLD_OUT"
    FLASH_SALE_LIMIT_REACHED = "FLASH_SALE_LIMIT_REACHED"
    FLASH_SALE_MEMBERS_ONLY = "FLASH_SALE_MEMBERS_ONLY"
    COUPON_UNAVAILABLE = "COUPON_UNAVAILABLE"


class PointsErrorCode(StrEnum):
    INVALID_ID = "INVALID_ID"
    NOT_FOUND = "NOT_FOUND"
    INVALID_INPUT = "INVALID_INPUT"
    TOO_MANY_ITEMS = "TOO_MANY_ITEMS"
    IDEMPOTENCY_CONFLICT = "IDEMPOTENCY_CONFLICT"
    INSUFFICIENT_POINTS = "INSUFFICIENT_POINTS"
    POINTS_CAP_EXCEEDED = "POINTS_CAP_EXCEEDED"
    ALREADY_CHECKED_IN = "ALREADY_CHECKED_IN"
    HOLD_NOT_FOUND = "HOLD_NOT_FOUND"
    CLAIM_ALREADY_DECIDED = "CLAIM_ALREADY_DECIDED"
    FORBIDDEN = "FORBIDDEN"


class SubscriptionErrorCode(StrEnum):
    INVALID_ID = "INVALID_ID"
    NOT_FOUND = "NOT_FOUND"
    INVALID_INPUT = "INVALID_INPUT"
    TOO_MANY_ITEMS = "TOO_MANY_ITEMS"
    IDEMPOTENCY_CONFLICT = "IDEMPOTENCY_CONFLICT"
    PLAN_UNAVAILABLE = "PLAN_UNAVAILABLE"
    VARIANT_NOT_IN_PLAN = "VARIANT_NOT_IN_PLAN"
    INVALID_DATE = "INVALID_DATE"
    OUTSIDE_WINDOW = "OUTSIDE_WINDOW"
    ILLEGAL_STATE = "ILLEGAL_STATE"
    SUBSCRIPTION_PAUSED = "SUBSCRIPTION_PAUSED"
    FIRST_ORDER_REFUSED = "FIRST_ORDER_REFUSED"
    FORBIDDEN = "FORBIDDEN"


class MemberErrorCode(StrEnum):
    INVALID_ID = "INVALID_ID"
    NOT_FOUND = "NOT_FOUND"
    INVALID_INPUT = "INVALID_INPUT"
    TOO_MANY_ITEMS = "TOO_MANY_ITEMS"
    INVALID_PHONE = "INVALID_PHONE"
    INVALID_IDENTIFIER = "INVALID_IDENTIFIER"
    INVALID_CODE = "INVALID_CODE"
    CODE_EXPIRED = "CODE_EXPIRED"
    CODE_ALREADY_USED = "CODE_ALREADY_USED"
    TOO_MANY_ATTEMPTS = "TOO_MANY_ATTEMPTS"
    TOO_MANY_REQUESTS = "TOO_MANY_REQUESTS"
    SMS_UNAVAILABLE = "SMS_UNAVAILABLE"
    UNKNOWN_APP = "UNKNOWN_APP"
    INVALID_WECHAT_CODE = "INVALID_WECHAT_CODE"
    WECHAT_RATE_LIMITED = "WECHAT_RATE_LIMITED"
    WECHAT_UNAVAILABLE = "WECHAT_UNAVAILABLE"
    MEMBER_MERGED = "MEMBER_MERGED"
    MEMBER_ERASED = "MEMBER_ERASED"
    MERGE_INTO_SELF = "MERGE_INTO_SELF"
    IDENTIFIER_TAKEN = "IDENTIFIER_TAKEN"
    CONFIRMATION_REQUIRED = "CONFIRMATION_REQUIRED"
    OPEN_ORDERS = "OPEN_ORDERS"
    PHONE_IN_USE = "PHONE_IN_USE"
    CANDIDATE_RESOLVED = "CANDIDATE_RESOLVED"
    FORBIDDEN = "FORBIDDEN"


class AfterSaleErrorCode(StrEnum):
    INVALID_ID = "INVALID_ID"
    NOT_FOUND = "NOT_FOUND"
    INVALID_INPUT = "INVALID_INPUT"
    TOO_MANY_ITEMS = "TOO_MANY_ITEMS"
    IDEMPOTENCY_CONFLICT = "IDEMPOTENCY_CONFLICT"
    ORDER_NOT_HANDED_OVER = "ORDER_NOT_HANDED_OVER"
    RETURN_WINDOW_CLOSED = "RETURN_WINDOW_CLOSED"
    REFUND_ONLY_REQUIRED = "REFUND_ONLY_REQUIRED"
    QUANTITY_EXCEEDED = "QUANTITY_EXCEEDED"
    ALREADY_DECIDED = "ALREADY_DECIDED"
    ILLEGAL_STATE = "ILLEGAL_STATE"
    REFUND_NOT_POSSIBLE = "REFUND_NOT_POSSIBLE"
    FORBIDDEN = "FORBIDDEN"
    ALREADY_REVIEWED = "ALREADY_REVIEWED"
    INVALID_RATING = "INVALID_RATING"
    TEXT_TOO_LONG = "TEXT_TOO_LONG"
    INVALID_PHOTO_URL = "INVALID_PHOTO_URL"
    INVALID_TAX_ID = "INVALID_TAX_ID"
    INVALID_EMAIL = "INVALID_EMAIL"
    ORDER_NOT_PAID = "ORDER_NOT_PAID"
    INVOICE_ALREADY_REQUESTED = "INVOICE_ALREADY_REQUESTED"
    INVOICE_ALREADY_ISSUED = "INVOICE_ALREADY_ISSUED"
    INVALID_MEMBER_CODE = "INVALID_MEMBER_CODE"
    MEMBER_CODE_EXPIRED = "MEMBER_CODE_EXPIRED"
    MEMBER_CODE_USED = "MEMBER_CODE_USED"
    TOO_MANY_ATTEMPTS = "TOO_MANY_ATTEMPTS"


class PromotionErrorCode(StrEnum):
    INVALID_ID = "INVALID_ID"
    NOT_FOUND = "NOT_FOUND"
    INVALID_INPUT = "INVALID_INPUT"
    TOO_MANY_ITEMS = "TOO_MANY_ITEMS"
    IDEMPOTENCY_CONFLICT = "IDEMPOTENCY_CONFLICT"
    FORBIDDEN = "FORBIDDEN"
    INVALID_PRICE = "INVALID_PRICE"
    INVALID_WINDOW = "INVALID_WINDOW"
    FLASH_SALE_OVERLAP = "FLASH_SALE_OVERLAP"
    FLASH_SALE_ENDED = "FLASH_SALE_ENDED"
    FLASH_SALE_SOLD_OUT = "FLASH_SALE_SOLD_OUT"
    FLASH_SALE_LIMIT_REACHED = "FLASH_SALE_LIMIT_REACHED"
    FLASH_SALE_MEMBERS_ONLY = "FLASH_SALE_MEMBERS_ONLY"
    ILLEGAL_STATE = "ILLEGAL_STATE"
    TEMPLATE_NOT_ACTIVE = "TEMPLATE_NOT_ACTIVE"
    TEMPLATE_SOLD_OUT = "TEMPLATE_SOLD_OUT"
    COUPON_LIMIT_REACHED = "COUPON_LIMIT_REACHED"
    NOT_A_NEW_MEMBER = "NOT_A_NEW_MEMBER"
    INVALID_COUPON_CODE = "INVALID_COUPON_CODE"
    COUPON_CODE_USED = "COUPON_CODE_USED"
    TOO_MANY_ATTEMPTS = "TOO_MANY_ATTEMPTS"
    COUPON_UNAVAILABLE = "COUPON_UNAVAILABLE"
    UNKNOWN_TIER = "UNKNOWN_TIER"


class GrowthErrorCode(StrEnum):
    INVALID_ID = "INVALID_ID"
    NOT_FOUND = "NOT_FOUND"
    INVALID_INPUT = "INVALID_INPUT"
    TOO_MANY_ITEMS = "TOO_MANY_ITEMS"
    IDEMPOTENCY_CONFLICT = "IDEMPOTENCY_CONFLICT"
    FORBIDDEN = "FORBIDDEN"
    CAMPAIGN_ENDED = "CAMPAIGN_ENDED"
    ALREADY_ASSISTED = "ALREADY_ASSISTED"
    DAILY_LIMIT_REACHED = "DAILY_LIMIT_REACHED"
    OWN_TASK = "OWN_TASK"
    TASK_EXPIRED = "TASK_EXPIRED"
    TASK_COMPLETED = "TASK_COMPLETED"
    NOT_A_NEW_MEMBER = "NOT_A_NEW_MEMBER"
    INVALID_PRICE = "INVALID_PRICE"
    INVALID_WINDOW = "INVALID_WINDOW"
    CAMPAIGN_NOT_LIVE = "CAMPAIGN_NOT_LIVE"
    CAMPAIGN_SOLD_OUT = "CAMPAIGN_SOLD_OUT"
    GROUP_FULL = "GROUP_FULL"
    GROUP_CLOSED = "GROUP_CLOSED"
    ALREADY_IN_GROUP = "ALREADY_IN_GROUP"
    GROUP_LIMIT_REACHED = "GROUP_LIMIT_REACHED"
    FULFILMENT_NOT_OFFERED = "FULFILMENT_NOT_OFFERED"
    INSUFFICIENT_STOCK = "INSUFFICIENT_STOCK"
    COUPON_UNAVAILABLE = "COUPON_UNAVAILABLE"
    INVALID_PROGRAM = "INVALID_PROGRAM"
    PROGRAM_ENDED = "PROGRAM_ENDED"
    PROGRAM_ACTIVE = "PROGRAM_ACTIVE"
    UNKNOWN_GUIDE_CODE = "UNKNOWN_GUIDE_CODE"
    GUIDE_INACTIVE = "GUIDE_INACTIVE"
    NOT_A_GUIDE = "NOT_A_GUIDE"


class EngagementErrorCode(StrEnum):
    INVALID_ID = "INVALID_ID"
    NOT_FOUND = "NOT_FOUND"
    INVALID_INPUT = "INVALID_INPUT"
    TOO_MANY_ITEMS = "TOO_MANY_ITEMS"
    IDEMPOTENCY_CONFLICT = "IDEMPOTENCY_CONFLICT"
    FORBIDDEN = "FORBIDDEN"
    TAG_EXISTS = "TAG_EXISTS"
    INVALID_TAG_RULE = "INVALID_TAG_RULE"
    TAG_NOT_MANUAL = "TAG_NOT_MANUAL"
    RANGE_TOO_LONG = "RANGE_TOO_LONG"
    AUTOMATION_ARCHIVED = "AUTOMATION_ARCHIVED"
    INVALID_TRANSITION = "INVALID_TRANSITION"
    INVALID_RULE = "INVALID_RULE"
    SEGMENT_EXISTS = "SEGMENT_EXISTS"


ErrorCode = (
    CommonErrorCode
    | AuthErrorCode
    | CatalogErrorCode
    | LocationErrorCode
    | InventoryErrorCode
    | OrderErrorCode
    | PointsErrorCode
    | SubscriptionErrorCode
    | MemberErrorCode
    | AfterSaleErrorCode
    | PromotionErrorCode
    | GrowthErrorCode
    | EngagementErrorCode
)


class DomainError(Exception):
    """An expected failure: it names what went wrong, where in the input, and what to do."""

    def __init__(self, code: ErrorCode, message: str, field: Sequence[str] | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = list(field) if field else None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code.value}, {self.message!r}, field={self.field})"


class CommonError(DomainError):
    code: CommonErrorCode


class AuthError(DomainError):
    code: AuthErrorCode


class CatalogError(DomainError):
    code: CatalogErrorCode


class LocationError(DomainError):
    code: LocationErrorCode


class InventoryError(DomainError):
    code: InventoryErrorCode


class OrderError(DomainError):
    code: OrderErrorCode


class PointsError(DomainError):
    code: PointsErrorCode


class SubscriptionError(DomainError):
    code: SubscriptionErrorCode


class MemberError(DomainError):
    code: MemberErrorCode


class AfterSaleError(DomainError):
    code: AfterSaleErrorCode


class PromotionError(DomainError):
    code: PromotionErrorCode


class GrowthError(DomainError):
    code: GrowthErrorCode


class EngagementError(DomainError):
    code: EngagementErrorCode
