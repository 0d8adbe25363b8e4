"""Friend-assist (助力): a member starts a task of a campaign and shares it; other members
assist it; each threshold of helpers pays its reward once. The rules a campaign is checked
against live here, with the entities."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from uuid import UUID

from domain.errors import GrowthError, GrowthErrorCode
from domain.loyalty.model import MAX_POINTS

DAILY_ASSISTS = 3  # a helper's assists per store-local day, across all tasks (the reports' cap)
MAX_THRESHOLDS = 10
MAX_HELPERS = 1000  # the highest threshold a campaign may set
MAX_TASK_HOURS = 30 * 24
NAME_LENGTH = 60


class CampaignStatus(StrEnum):
    ACTIVE = "ACTIVE"  # members start tasks
    ENDED = "ENDED"  # no new tasks; open tasks run to their deadline


class TaskStatus(StrEnum):
    OPEN = "OPEN"  # collecting helpers until its deadline
    COMPLETED = "COMPLETED"  # the highest threshold was reached
    EXPIRED = "EXPIRED"  # the deadline passed first
    MERGED = "MERGED"  # its member was merged into one with an open task of the campaign


@dataclass(frozen=True)
class Reward:
    """A coupon (of a promotions template) and/or points; both optional, not both missing
    where a reward is required."""

    coupon_template_id: UUID | None = None
    points: int = 0

    @property
    def is_empty(self) -> bool:
        return self.coupon_template_id is None and self.points == 0


@dataclass(frozen=True)
class Threshold:
    helpers: int
    reward: Reward


@dataclass(frozen=True)
class CampaignDraft:
    name: str
    thresholds: tuple[Threshold, ...]
    task_hours: int
    new_helpers_only: bool = False
    helper_reward: Reward = Reward()


@dataclass
class AssistCampaign:
    id: UUID
    name: str
    thresholds: tuple[Threshold, ...]  # ascending by helpers
    task_hours: int
    new_helpers_only: bool
    helper_reward: Reward
    status: CampaignStatus
    created_at: datetime
    updated_at: datetime

    @property
    def goal(self) -> int:
        """The helpers that complete a task: its highest threshold."""
        return self.thresholds[-1].helpers

    def reached_at(self, helpers: int) -> Threshold | None:
        """The threshold that the `helpers`-th assist reaches, if any."""
        return next((t for t in self.thresholds if t.helpers == helpers), None)

    def next_after(self, helpers: int) -> int | None:
        return next((t.helpers for t in self.thresholds if t.helpers > helpers), None)

    def deadline(self, started_at: datetime) -> datetime:
        return started_at + timedelta(hours=self.task_hours)


@dataclass
class AssistTask:
    id: UUID
    campaign_id: UUID
    member_id: UUID
    status: TaskStatus
    helpers: int
    started_at: datetime
    expires_at: datetime
    closed_at: datetime | None = None

    def is_open_at(self, now: datetime) -> bool:
        return self.status is TaskStatus.OPEN and now < self.expires_at

    def status_at(self, now: datetime) -> TaskStatus:
        """EXPIRED from its deadline on, also before the expiry job has run."""
        if self.status is TaskStatus.OPEN and not self.is_open_at(now):
            return TaskStatus.EXPIRED
        return self.status


def to_close_on_merge(source: AssistTask, target: AssistTask) -> AssistTask:
    """A merge leaves its person one open task per campaign: of the absorbed member's and the
    survivor's, the one with more helpers stays open (on a tie the survivor's), the other is
    MERGED. Nothing moves between them and nothing is paid or taken back: the task kept has at
    least the other's helpers, so every threshold the other paid it has paid too, and the
    thresholds still ahead of it were paid on neither."""
    return target if source.helpers > target.helpers else source


@dataclass(frozen=True)
class Assist:
    id: UUID
    task_id: UUID
    helper_id: UUID
    helper_name: str  # masked when written (王**): what the share page shows
    day: date  # the store-local day (Asia/Shanghai) the daily cap counts
    slot: int  # 1..DAILY_ASSISTS, unique per (helper, day): the database holds the cap
    created_at: datetime


@dataclass(frozen=True)
class AssistPayout:
    """A reward paid: the task's owner for a threshold (`threshold` = its helpers) or a helper
    for assisting (`threshold` = 0). Unique per (task, member, threshold)."""

    id: UUID
    task_id: UUID
    member_id: UUID
    threshold: int
    coupon_id: UUID | None
    points: int
    unpaid: str | None  # why the coupon could not be given (e.g. TEMPLATE_SOLD_OUT)
    paid_at: datetime


@dataclass(frozen=True)
class TaskView:
    """A task as its share page shows it."""

    task: AssistTask
    campaign: AssistCampaign
    helpers: tuple[Assist, ...]  # in assist order
    status: TaskStatus  # the task's at the time it was read

    @property
    def next_threshold(self) -> int | None:
        return self.campaign.next_after(self.task.helpers)


def _error(code: GrowthErrorCode, message: str, *field: str) -> GrowthError:
    return GrowthError(code, message, list(field))


def _clean_reward(reward: Reward, *path: str) -> Reward:
    if not 0 <= reward.points <= MAX_POINTS:
        raise _error(
            GrowthErrorCode.INVALID_INPUT, f"Points are 0 to {MAX_POINTS}.", *path, "points"
        )
    return reward


def clean_draft(draft: CampaignDraft) -> CampaignDraft:
    name = draft.name.strip()
    if not 1 <= len(name) <= NAME_LENGTH:
        raise _error(
            GrowthErrorCode.INVALID_INPUT, f"A name is 1-{NAME_LENGTH} characters.", "name"
        )
    if not draft.thresholds:
        raise _error(GrowthErrorCode.INVALID_INPUT, "Give at least one threshold.", "thresholds")
    if len(draft.thresholds) > MAX_THRESHOLDS:
        raise _error(
            GrowthErrorCode.TOO_MANY_ITEMS,
            f"At most {MAX_THRESHOLDS} thresholds.",
            "thresholds",
        )
    previous = 0
    for n, threshold in enumerate(draft.thresholds):
        where = ("thresholds", str(n))
        if not previous < threshold.helpers <= MAX_HELPERS:
            raise _error(
                GrowthErrorCode.INVALID_INPUT,
                f"Thresholds count 1-{MAX_HELPERS} helpers, each above the one before.",
                *where,
                "helpers",
            )
        if threshold.reward.is_empty:
            raise _error(
                GrowthErrorCode.INVALID_INPUT,
                "A threshold pays a coupon, points or both.",
                *where,
            )
        _clean_reward(threshold.reward, *where)
        previous = threshold.helpers
    if not 1 <= draft.task_hours <= MAX_TASK_HOURS:
        raise _error(
            GrowthErrorCode.INVALID_INPUT,
            f"A task lasts 1-{MAX_TASK_HOURS} hours.",
            "taskHours",
        )
    return CampaignDraft(
        name=name,
        thresholds=draft.thresholds,
        task_hours=draft.task_hours,
        new_helpers_only=draft.new_helpers_only,
        helper_reward=_clean_reward(draft.helper_reward, "helperReward"),
    )
