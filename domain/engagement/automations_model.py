"""Automations: trigger → conditions → action, with the rules every send obeys (consent, a
frequency cap across marketing automations, quiet hours on the store's wall clock, once per
member and trigger period). Plain values and rules; the use cases are in `automations.py`."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from uuid import UUID
from zoneinfo import ZoneInfo

from domain.errors import EngagementError, EngagementErrorCode
from domain.members.model import ConsentPurpose

MAX_NAME = 80
MAX_TEXT = 200  # a message's text
MAX_DAYS = 730  # NO_ORDER_FOR_DAYS(n)
MAX_POINTS = 100_000
MAX_TIERS = 10
MAX_MIN_ORDERS = 10_000


class AutomationStatus(StrEnum):
    ACTIVE = "ACTIVE"
    PAUSED = "PAUSED"  # does nothing: its pending sends wait, no new ones are made
    ARCHIVED = "ARCHIVED"  # for good: nothing more, its history stays


class TriggerKind(StrEnum):
    """A new trigger is a member here and a producer of candidates in
    `automations_triggers.py` (`scan_batch` for a scan, an event handler in
    `register_handlers` for an event)."""

    FIRST_ORDER_HANDED_OVER = "FIRST_ORDER_HANDED_OVER"  # event: the member's first hand-over
    REFERRAL_REWARDED = "REFERRAL_REWARDED"  # event: a referral rewarded invitee and referrer
    NO_ORDER_FOR_DAYS = "NO_ORDER_FOR_DAYS"  # scan: no order placed for `days` days
    POINTS_EXPIRING = "POINTS_EXPIRING"  # scan: points that expire within `days` days
    SUBSCRIPTION_ENDING = "SUBSCRIPTION_ENDING"  # scan: last prepaid delivery within `days`
    # scan: the member's birthday on their store's clock, from BIRTHDAY_HOUR; once a year
    BIRTHDAY = "BIRTHDAY"
    # scan: the member is in the segment `segment_id` now and was not at the last scan
    ENTERED_SEGMENT = "ENTERED_SEGMENT"

    @property
    def takes_days(self) -> bool:
        return self in WITH_DAYS


WITH_DAYS = (
    TriggerKind.NO_ORDER_FOR_DAYS,
    TriggerKind.POINTS_EXPIRING,
    TriggerKind.SUBSCRIPTION_ENDING,
)
SCANNED = (*WITH_DAYS, TriggerKind.BIRTHDAY)  # found by `scan_batch`, a cursor at a time
# ENTERED_SEGMENT is scanned too, but set-based: it keeps whom it saw in the segment
# (`automation_segment_member`), so its scan writes (`automations_triggers.scan_segment`).
BIRTHDAY_HOUR = 9  # the store-local morning: a birthday is found from 09:00 on the day


class ActionKind(StrEnum):
    GRANT_COUPON = "GRANT_COUPON"  # promotions' grant_in_uow, keyed by automation+member+period
    GRANT_POINTS = "GRANT_POINTS"  # loyalty's credit_reward_in_uow, same key
    SEND_MESSAGE = "SEND_MESSAGE"  # a WeChat subscribe message through the outbox
    SEND_SMS = "SEND_SMS"  # a text to the member's phone through the outbox
    # a MANUAL tag (tags' tag_member_in_uow; actor the automation, reason its name): nothing
    # is sent, so no consent and no message (tags are for staff, never shown to the member)
    ADD_TAG = "ADD_TAG"


MESSAGE_ACTIONS = (ActionKind.SEND_MESSAGE, ActionKind.SEND_SMS)  # marketing: consent and cap


class MessageChannel(StrEnum):
    WECHAT = "WECHAT"  # a WeChat subscribe message
    SMS = "SMS"

    @property
    def purpose(self) -> ConsentPurpose:
        if self is MessageChannel.SMS:
            return ConsentPurpose.MARKETING_SMS
        return ConsentPurpose.MARKETING_WECHAT


class SendOutcome(StrEnum):
    PENDING = "PENDING"  # waiting for `due_at` (made now, or deferred out of quiet hours)
    DONE = "DONE"  # the action ran (a grant given, a message written to the outbox)
    BLOCKED_CONSENT = "BLOCKED_CONSENT"  # a message to a member without the consent
    BLOCKED_CAP = "BLOCKED_CAP"  # a message over the member's frequency cap
    SKIPPED = "SKIPPED"  # the conditions did not hold, or the member is gone
    FAILED = "FAILED"  # the action was refused (a template sold out or ended)


@dataclass(frozen=True)
class Trigger:
    kind: TriggerKind
    days: int | None = None  # NO_ORDER_FOR_DAYS, POINTS_EXPIRING, SUBSCRIPTION_ENDING
    segment_id: UUID | None = None  # ENTERED_SEGMENT


@dataclass(frozen=True)
class Conditions:
    """All must hold (empty: everyone the trigger finds)."""

    tiers: tuple[str, ...] = ()  # the member's loyalty tier is one of these
    min_orders: int = 0  # the member's orders in 365 days (member facts' orders_365), at least


@dataclass(frozen=True)
class Action:
    kind: ActionKind
    coupon_template_id: UUID | None = None  # GRANT_COUPON
    points: int | None = None  # GRANT_POINTS
    channel: MessageChannel | None = None  # SEND_MESSAGE (WECHAT), SEND_SMS (SMS); a notice
    text: str | None = None  # the message
    tag_id: UUID | None = None  # ADD_TAG

    @property
    def messages(self) -> bool:
        return self.channel is not None


@dataclass(frozen=True)
class FrequencyCap:
    """At most `messages` automation messages per member in `days` days, across automations."""

    messages: int = 2
    days: int = 7


@dataclass(frozen=True)
class QuietHours:
    """Store-local hours (start inclusive, end exclusive, may wrap midnight) when nothing is
    sent: a send due then waits until `end`."""

    start: int = 21
    end: int = 9

    def contains(self, local: time) -> bool:
        if self.start == self.end:
            return False
        if self.start < self.end:
            return self.start <= local.hour < self.end
        return local.hour >= self.start or local.hour < self.end

    def next_end(self, moment: datetime, zone: ZoneInfo) -> datetime:
        """The first moment after `moment` when quiet hours are over (`moment` if not quiet),
        in UTC like every stored time."""
        local = moment.astimezone(zone)
        if not self.contains(local.time()):
            return moment
        end = local.replace(hour=self.end, minute=0, second=0, microsecond=0)
        if end <= local:
            end = (local + timedelta(days=1)).replace(
                hour=self.end, minute=0, second=0, microsecond=0
            )
        return end.astimezone(UTC)


@dataclass(frozen=True)
class AutomationDraft:
    name: str
    trigger: Trigger
    action: Action
    conditions: Conditions = Conditions()
    cap: FrequencyCap = FrequencyCap()
    quiet: QuietHours = QuietHours()


@dataclass
class Automation:
    id: UUID
    draft: AutomationDraft
    status: AutomationStatus
    created_at: datetime
    updated_at: datetime


@dataclass
class Send:
    """One member hit by one automation in one trigger period: the row that makes it once."""

    id: UUID
    automation_id: UUID
    member_id: UUID
    period_key: str
    outcome: SendOutcome
    due_at: datetime
    created_at: datetime
    action: ActionKind
    done_at: datetime | None = None
    message_key: str | None = None  # the outbox message's dedupe key (a message was written)
    coupon_id: UUID | None = None
    points_entry_id: UUID | None = None
    detail: str = ""
    tag_id: UUID | None = None  # ADD_TAG: the tag put on (or there already: `detail` says)


@dataclass(frozen=True)
class DryRun:
    candidates: int = 0  # members the trigger finds now (not yet hit in this period)
    would_hit: int = 0  # the action would run for them now
    blocked_consent: int = 0
    blocked_cap: int = 0
    deferred_quiet_hours: int = 0  # would run at the end of quiet hours
    skipped_conditions: int = 0


@dataclass
class Tally:
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, name: str) -> None:
        self.counts[name] = self.counts.get(name, 0) + 1


def _invalid(message: str, *path: str) -> EngagementError:
    return EngagementError(EngagementErrorCode.INVALID_INPUT, message, list(path))


def clean_draft(draft: AutomationDraft) -> AutomationDraft:
    """Every rule on an automation's shape, each error naming its field."""
    name = draft.name.strip()
    if not 0 < len(name) <= MAX_NAME:
        raise _invalid(f"A name is 1-{MAX_NAME} characters.", "name")
    trigger = draft.trigger
    if trigger.kind.takes_days:
        if trigger.days is None or not 1 <= trigger.days <= MAX_DAYS:
            raise _invalid(f"{trigger.kind.value} needs days 1-{MAX_DAYS}.", "trigger", "days")
    elif trigger.days is not None:
        raise _invalid(f"{trigger.kind.value} takes no days.", "trigger", "days")
    if trigger.kind is TriggerKind.ENTERED_SEGMENT and trigger.segment_id is None:
        raise _invalid("ENTERED_SEGMENT needs a segment.", "trigger", "segmentId")
    if trigger.kind is not TriggerKind.ENTERED_SEGMENT and trigger.segment_id is not None:
        raise _invalid("Only ENTERED_SEGMENT takes a segment.", "trigger", "segmentId")
    conditions = draft.conditions
    tiers = tuple(dict.fromkeys(t.strip().upper() for t in conditions.tiers))
    if len(tiers) > MAX_TIERS or any(not 0 < len(t) <= 20 for t in tiers):
        raise _invalid(f"At most {MAX_TIERS} tiers of 1-20 characters.", "conditions", "tiers")
    if not 0 <= conditions.min_orders <= MAX_MIN_ORDERS:
        raise _invalid(f"minOrders is 0-{MAX_MIN_ORDERS}.", "conditions", "minOrders")
    action = _clean_action(draft.action)
    cap, quiet = draft.cap, draft.quiet
    if not 1 <= cap.messages <= 50 or not 1 <= cap.days <= 90:
        raise _invalid("A cap is 1-50 messages in 1-90 days.", "frequencyCap")
    if not (0 <= quiet.start <= 23 and 0 <= quiet.end <= 23):
        raise _invalid("Quiet hours start and end at an hour 0-23.", "quietHours")
    return replace(draft, name=name, conditions=replace(conditions, tiers=tiers), action=action)


def _clean_action(action: Action) -> Action:
    text = action.text.strip() if action.text is not None else None
    if action.kind is ActionKind.GRANT_COUPON and action.coupon_template_id is None:
        raise _invalid("GRANT_COUPON needs a coupon template.", "action", "couponTemplateId")
    if action.kind is not ActionKind.GRANT_COUPON and action.coupon_template_id is not None:
        raise _invalid("Only GRANT_COUPON takes a template.", "action", "couponTemplateId")
    if action.kind is ActionKind.GRANT_POINTS:
        if action.points is None or not 1 <= action.points <= MAX_POINTS:
            raise _invalid(f"GRANT_POINTS gives 1-{MAX_POINTS} points.", "action", "points")
    elif action.points is not None:
        raise _invalid("Only GRANT_POINTS takes points.", "action", "points")
    if action.kind is ActionKind.ADD_TAG and action.tag_id is None:
        raise _invalid("ADD_TAG needs a tag.", "action", "tagId")
    if action.kind is not ActionKind.ADD_TAG and action.tag_id is not None:
        raise _invalid("Only ADD_TAG takes a tag.", "action", "tagId")
    if action.kind is ActionKind.ADD_TAG and action.channel is not None:
        raise _invalid("A tag is for staff: ADD_TAG sends nothing.", "action", "channel")
    if action.kind is ActionKind.SEND_SMS:
        if action.channel not in (None, MessageChannel.SMS):
            raise _invalid("SEND_SMS goes by SMS.", "action", "channel")
        action = replace(action, channel=MessageChannel.SMS)
    if action.kind is ActionKind.SEND_MESSAGE and action.channel is not MessageChannel.WECHAT:
        raise _invalid("SEND_MESSAGE goes by WECHAT (a text is SEND_SMS).", "action", "channel")
    if action.channel is not None and not (text and len(text) <= MAX_TEXT):
        raise _invalid(f"A message's text is 1-{MAX_TEXT} characters.", "action", "text")
    if action.channel is None and text:
        raise _invalid("Text needs a channel to go by.", "action", "channel")
    return replace(action, text=text if action.channel is not None else None)


def segment_period(segment_id: UUID, entered: date) -> str:
    """ENTERED_SEGMENT's period: the segment and the store-local day the member entered it, so
    a member who leaves and comes back another day is hit again, once a day at most."""
    return f"segment:{segment_id}:{entered.isoformat()}"


def grant_key(automation_id: UUID, member_id: UUID, period_key: str) -> str:
    """The idempotency key of a grant: the automation, the member and the trigger period."""
    return f"automation:{automation_id}:{member_id}:{period_key}"


def message_key(send_id: UUID) -> str:
    """The outbox dedupe key of a send's message: the outbox row names its send."""
    return f"automation:{send_id}"
