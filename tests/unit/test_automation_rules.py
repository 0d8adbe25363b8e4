"""Automations' rules without a database: quiet hours on a store's clock (wrapping midnight,
none when start = end), where a deferred send goes, and the shape an automation must have."""

from __future__ import annotations

from datetime import UTC, datetime, time
from uuid import uuid4
from zoneinfo import ZoneInfo

import pytest

from domain.engagement.automations_model import (
    Action,
    ActionKind,
    AutomationDraft,
    Conditions,
    MessageChannel,
    QuietHours,
    Trigger,
    TriggerKind,
    clean_draft,
    grant_key,
)
from domain.errors import EngagementError
from domain.members.model import ConsentPurpose

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.mark.parametrize(
    ("quiet", "hour", "inside"),
    [
        (QuietHours(21, 9), 21, True),
        (QuietHours(21, 9), 23, True),
        (QuietHours(21, 9), 0, True),
        (QuietHours(21, 9), 8, True),
        (QuietHours(21, 9), 9, False),
        (QuietHours(21, 9), 20, False),
        (QuietHours(12, 14), 13, True),
        (QuietHours(12, 14), 14, False),
        (QuietHours(0, 0), 3, False),
    ],
)
def test_quiet_hours_contain_their_hours_and_may_wrap_midnight(
    quiet: QuietHours, hour: int, inside: bool
) -> None:
    assert quiet.contains(time(hour, 30)) is inside


def test_a_send_due_in_quiet_hours_goes_when_they_end_on_the_stores_clock() -> None:
    quiet = QuietHours()
    evening = datetime(2027, 1, 5, 22, 15, tzinfo=SHANGHAI)
    early = datetime(2027, 1, 6, 7, 0, tzinfo=SHANGHAI)
    nine = datetime(2027, 1, 6, 9, 0, tzinfo=SHANGHAI)
    assert quiet.next_end(evening, SHANGHAI) == nine
    assert quiet.next_end(early, SHANGHAI) == nine
    assert quiet.next_end(nine, SHANGHAI) == nine  # not quiet: now
    assert quiet.next_end(evening, SHANGHAI).tzinfo == UTC  # stored in UTC
    berlin = ZoneInfo("Europe/Berlin")
    at = datetime(2027, 1, 6, 2, 0, tzinfo=UTC)  # 03:00 in Berlin
    assert quiet.next_end(at, berlin) == datetime(2027, 1, 6, 9, 0, tzinfo=berlin)


def _draft(**changes: object) -> AutomationDraft:
    fields: dict[str, object] = {
        "name": " 回访 ",
        "trigger": Trigger(TriggerKind.NO_ORDER_FOR_DAYS, 30),
        "action": Action(ActionKind.SEND_SMS, text=" hi "),
        **changes,
    }
    return AutomationDraft(**fields)  # type: ignore[arg-type]


def test_a_clean_draft_is_trimmed_and_its_tiers_upper_cased_once() -> None:
    clean = clean_draft(_draft(conditions=Conditions(("gold", "GOLD ", "silver"), 1)))
    assert (clean.name, clean.action.text) == ("回访", "hi")
    assert clean.conditions.tiers == ("GOLD", "SILVER")
    assert clean.action.channel is MessageChannel.SMS  # SEND_SMS goes by SMS
    assert clean.action.channel.purpose is ConsentPurpose.MARKETING_SMS


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"trigger": Trigger(TriggerKind.SUBSCRIPTION_ENDING)}, ["trigger", "days"]),
        ({"trigger": Trigger(TriggerKind.REFERRAL_REWARDED, 2)}, ["trigger", "days"]),
        ({"trigger": Trigger(TriggerKind.ENTERED_SEGMENT)}, ["trigger", "segmentId"]),
        ({"trigger": Trigger(TriggerKind.ENTERED_SEGMENT, 3, uuid4())}, ["trigger", "days"]),
        ({"trigger": Trigger(TriggerKind.BIRTHDAY, None, uuid4())}, ["trigger", "segmentId"]),
        ({"action": Action(ActionKind.GRANT_POINTS, points=0)}, ["action", "points"]),
        ({"action": Action(ActionKind.GRANT_POINTS, uuid4(), 5)}, ["action", "couponTemplateId"]),
        ({"action": Action(ActionKind.GRANT_COUPON, text="x")}, ["action", "couponTemplateId"]),
        (
            {"action": Action(ActionKind.GRANT_COUPON, uuid4(), text="x")},
            ["action", "channel"],
        ),
        (
            {"action": Action(ActionKind.SEND_MESSAGE, channel=MessageChannel.SMS, text="x")},
            ["action", "channel"],
        ),
        (
            {"action": Action(ActionKind.SEND_SMS, channel=MessageChannel.WECHAT, text="x")},
            ["action", "channel"],
        ),
        ({"action": Action(ActionKind.SEND_SMS)}, ["action", "text"]),
        ({"conditions": Conditions(tuple("ABCDEFGHIJK"))}, ["conditions", "tiers"]),
        ({"quiet": QuietHours(9, 24)}, ["quietHours"]),
    ],
)
def test_a_bad_draft_names_its_field(changes: dict[str, object], field: list[str]) -> None:
    with pytest.raises(EngagementError) as refused:
        clean_draft(_draft(**changes))
    assert refused.value.field == field


def test_a_grant_key_fits_promotions_and_loyalty_keys() -> None:
    longest = grant_key(uuid4(), uuid4(), f"referral:{uuid4()}")
    assert len(longest) <= 160
