"""Friend-assist rules without a database: a campaign's thresholds, a task's deadline."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest

from domain.errors import GrowthError
from domain.growth.assists_model import (
    AssistCampaign,
    AssistTask,
    CampaignDraft,
    CampaignStatus,
    Reward,
    TaskStatus,
    Threshold,
    clean_draft,
    to_close_on_merge,
)
from domain.ids import new_id

NOW = datetime(2026, 12, 6, 16, 30, tzinfo=UTC)  # 00:30 the next day in Shanghai
SAMPLE, FULL = Reward(new_id()), Reward(new_id(), 100)


def campaign(*thresholds: Threshold) -> AssistCampaign:
    return AssistCampaign(
        new_id(), "助力", thresholds, 72, False, Reward(), CampaignStatus.ACTIVE, NOW, NOW
    )


def test_each_count_reaches_at_most_one_threshold_and_the_last_is_the_goal() -> None:
    c = campaign(Threshold(3, SAMPLE), Threshold(10, FULL))
    assert [c.reached_at(n) for n in (1, 2, 3, 4, 10, 11)] == [
        None,
        None,
        Threshold(3, SAMPLE),
        None,
        Threshold(10, FULL),
        None,
    ]
    assert (c.goal, c.next_after(0), c.next_after(3), c.next_after(10)) == (10, 3, 10, None)
    assert c.deadline(NOW) == NOW + timedelta(hours=72)


def test_a_task_is_expired_from_its_deadline_on_before_the_job_runs() -> None:
    task = AssistTask(new_id(), new_id(), new_id(), TaskStatus.OPEN, 0, NOW, NOW + timedelta(1))
    assert task.status_at(NOW) is TaskStatus.OPEN and task.is_open_at(NOW)
    assert task.status_at(task.expires_at) is TaskStatus.EXPIRED
    assert not task.is_open_at(task.expires_at)


@pytest.mark.parametrize(
    ("draft", "code", "field"),
    [
        (CampaignDraft(" ", (Threshold(3, SAMPLE),), 72), "INVALID_INPUT", ["name"]),
        (CampaignDraft("x", (), 72), "INVALID_INPUT", ["thresholds"]),
        (
            CampaignDraft("x", (Threshold(3, SAMPLE), Threshold(3, FULL)), 72),
            "INVALID_INPUT",
            ["thresholds", "1", "helpers"],
        ),
        (
            CampaignDraft("x", (Threshold(0, SAMPLE),), 72),
            "INVALID_INPUT",
            ["thresholds", "0", "helpers"],
        ),
        (CampaignDraft("x", (Threshold(3, Reward()),), 72), "INVALID_INPUT", ["thresholds", "0"]),
        (
            CampaignDraft("x", (Threshold(3, Reward(points=-1)),), 72),
            "INVALID_INPUT",
            ["thresholds", "0", "points"],
        ),
        (
            CampaignDraft("x", tuple(Threshold(n, SAMPLE) for n in range(1, 12)), 72),
            "TOO_MANY_ITEMS",
            ["thresholds"],
        ),
        (CampaignDraft("x", (Threshold(3, SAMPLE),), 721), "INVALID_INPUT", ["taskHours"]),
        (
            CampaignDraft("x", (Threshold(3, SAMPLE),), 72, helper_reward=Reward(points=-5)),
            "INVALID_INPUT",
            ["helperReward", "points"],
        ),
    ],
)
def test_bad_campaigns_are_refused(draft: CampaignDraft, code: str, field: list[str]) -> None:
    with pytest.raises(GrowthError) as refused:
        clean_draft(draft)
    assert (refused.value.code.value, refused.value.field) == (code, field)


def test_a_good_campaign_keeps_its_thresholds_and_trims_its_name() -> None:
    clean = clean_draft(CampaignDraft(" 助力 ", (Threshold(3, SAMPLE), Threshold(10, FULL)), 72))
    assert (clean.name, clean.thresholds) == ("助力", (Threshold(3, SAMPLE), Threshold(10, FULL)))


def _open_task(member_id: UUID, helpers: int) -> AssistTask:
    return AssistTask(
        new_id(), new_id(), member_id, TaskStatus.OPEN, helpers, NOW, NOW + timedelta(hours=72)
    )


@pytest.mark.parametrize(
    ("source_helpers", "target_helpers", "closed"),
    [(2, 1, "target"), (1, 2, "source"), (1, 1, "source"), (0, 0, "source")],
)
def test_a_merge_closes_the_open_task_with_fewer_helpers_and_on_a_tie_the_absorbed_ones(
    source_helpers: int, target_helpers: int, closed: str
) -> None:
    source, target = _open_task(new_id(), source_helpers), _open_task(new_id(), target_helpers)
    assert to_close_on_merge(source, target) is {"source": source, "target": target}[closed]
