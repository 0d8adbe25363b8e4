"""Member facts read at a moment (domain/engagement/facts_model.py)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from uuid import uuid4

from domain.engagement.facts_model import Cutoffs, MemberFacts
from tests.support.locations import location

NOW = datetime(2026, 12, 6, 16, 30, tzinfo=UTC)  # 00:30 on 7 December in Shanghai


def _facts(last: datetime | None) -> MemberFacts:
    return MemberFacts(
        member_id=uuid4(),
        first_order_at=last,
        last_order_at=last,
        orders_30=0,
        orders_90=0,
        orders_365=0,
        spend_30=0,
        spend_90=0,
        spend_365=0,
        avg_order_value=0,
        preferred_store_id=None,
        preferred_channel=None,
        tier=None,
        points_balance=0,
        birthday=None,
        marketing_sms=False,
        marketing_wechat=False,
        referrals_count=0,
        group_buys_count=0,
        r_score=None,
        f_score=None,
        m_score=None,
        rfm_segment=None,
        updated_at=NOW,
    )


def test_last_order_days_count_the_stores_calendar_days() -> None:
    an_hour_ago = _facts(NOW - timedelta(hours=1))  # 23:30 on 6 December in Shanghai
    assert an_hour_ago.last_order_days(NOW, None) == 1
    assert _facts(NOW - timedelta(minutes=20)).last_order_days(NOW, None) == 0
    assert _facts(NOW - timedelta(days=60)).last_order_days(NOW, None) == 60
    assert _facts(None).last_order_days(NOW, None) is None


def test_last_order_days_follow_the_preferred_stores_zone() -> None:
    london = location({}, "Europe/London")
    assert _facts(NOW - timedelta(hours=1)).last_order_days(NOW, london) == 0


def test_windows_end_now() -> None:
    at = Cutoffs.at(NOW)
    assert (at.now - at.d30, at.now - at.d90, at.now - at.d365) == (
        timedelta(days=30),
        timedelta(days=90),
        timedelta(days=365),
    )
    assert replace(_facts(None), orders_30=1).orders_30 == 1
