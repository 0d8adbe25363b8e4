"""Friend-assist campaigns as ADMIN runs them, and tasks as their share page shows them."""

from __future__ import annotations

from datetime import datetime

import strawberry

from api.relay import Connection, encode_id
from domain.growth import assists_model as m
from domain.growth.assists_model import CampaignStatus, TaskStatus

strawberry.enum(CampaignStatus, name="AssistCampaignStatus")
strawberry.enum(TaskStatus, name="AssistTaskStatus")


@strawberry.type(description="A coupon and/or points.")
class AssistReward:
    coupon_template_id: strawberry.ID | None
    points: int

    @classmethod
    def from_domain(cls, reward: m.Reward) -> AssistReward:
        template = reward.coupon_template_id
        return cls(
            coupon_template_id=encode_id("CouponTemplate", template) if template else None,
            points=reward.points,
        )


@strawberry.type(description="What the task's owner gets when this many members assisted.")
class AssistThreshold:
    helpers: int
    reward: AssistReward

    @classmethod
    def from_domain(cls, threshold: m.Threshold) -> AssistThreshold:
        return cls(helpers=threshold.helpers, reward=AssistReward.from_domain(threshold.reward))


@strawberry.type(description="A friend-assist (助力) campaign.")
class AssistCampaign:
    id: strawberry.ID
    name: str
    thresholds: list[AssistThreshold] = strawberry.field(description="Ascending by helpers.")
    task_hours: int = strawberry.field(description="How long a task collects helpers.")
    new_helpers_only: bool = strawberry.field(description="Only new members (by OneID) assist.")
    helper_reward: AssistReward | None = strawberry.field(description="What each helper gets.")
    status: CampaignStatus
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_domain(cls, c: m.AssistCampaign) -> AssistCampaign:
        return cls(
            id=encode_id("AssistCampaign", c.id),
            name=c.name,
            thresholds=[AssistThreshold.from_domain(t) for t in c.thresholds],
            task_hours=c.task_hours,
            new_helpers_only=c.new_helpers_only,
            helper_reward=None
            if c.helper_reward.is_empty
            else AssistReward.from_domain(c.helper_reward),
            status=c.status,
            created_at=c.created_at,
            updated_at=c.updated_at,
        )


@strawberry.type(description="A member who assisted, masked (王**).")
class AssistHelper:
    name: str
    assisted_at: datetime


@strawberry.type(description="A member's friend-assist task, as its share page shows it.")
class AssistTask:
    id: strawberry.ID
    campaign: AssistCampaign
    status: TaskStatus
    count: int = strawberry.field(description="Members who assisted.")
    helpers: list[AssistHelper] = strawberry.field(description="In the order they assisted.")
    next_threshold: int | None = strawberry.field(
        description="The helpers the next reward needs; null once every threshold is reached."
    )
    started_at: datetime
    expires_at: datetime

    @classmethod
    def from_domain(cls, view: m.TaskView) -> AssistTask:
        task = view.task
        return cls(
            id=encode_id("AssistTask", task.id),
            campaign=AssistCampaign.from_domain(view.campaign),
            status=view.status,
            count=task.helpers,
            helpers=[
                AssistHelper(name=a.helper_name, assisted_at=a.created_at) for a in view.helpers
            ],
            next_threshold=view.next_threshold,
            started_at=task.started_at,
            expires_at=task.expires_at,
        )


@strawberry.type
class AssistCampaignConnection(Connection[AssistCampaign]):
    """Newest first."""
