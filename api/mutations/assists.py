"""Friend-assist (助力): ADMIN runs campaigns; a member starts a task, other members assist."""

from __future__ import annotations

from uuid import UUID

import strawberry
from strawberry.types import Info

from api.context import Context
from api.errors import GrowthUserError
from api.mutations import actor, mutate
from api.permissions import IsAdmin, IsMember
from api.relay import decode_id
from api.types.assists import AssistCampaign, AssistTask
from domain.growth import assists
from domain.growth import assists_model as m


@strawberry.input(description="A coupon (of a coupon template) and/or points.")
class AssistRewardInput:
    coupon_template_id: strawberry.ID | None = None
    points: int = 0


@strawberry.input
class AssistThresholdInput:
    helpers: int = strawberry.field(description="Members who assisted (1-1000).")
    reward: AssistRewardInput


@strawberry.input
class AssistCampaignInput:
    name: str
    thresholds: list[AssistThresholdInput] = strawberry.field(
        description="Ascending by helpers, at most 10; e.g. 3 → a sample coupon, 10 → more."
    )
    task_hours: int = strawberry.field(description="How long a task collects helpers (72).")
    new_helpers_only: bool = strawberry.field(
        default=False, description="Only new members (by OneID) may assist."
    )
    helper_reward: AssistRewardInput | None = strawberry.field(
        default=None, description="What each helper gets for assisting."
    )


@strawberry.input
class UpdateAssistCampaignInput:
    campaign_id: strawberry.ID
    campaign: AssistCampaignInput


@strawberry.input
class AssistCampaignIdInput:
    campaign_id: strawberry.ID


@strawberry.input
class AssistInput:
    task_id: strawberry.ID
    idempotency_key: str | None = None


@strawberry.type
class AssistCampaignPayload:
    campaign: AssistCampaign | None = None
    errors: list[GrowthUserError] = strawberry.field(default_factory=list)


@strawberry.type
class AssistTaskPayload:
    task: AssistTask | None = None
    errors: list[GrowthUserError] = strawberry.field(default_factory=list)


def _reward(value: AssistRewardInput | None, *path: str) -> m.Reward:
    if value is None:
        return m.Reward()
    template = value.coupon_template_id
    return m.Reward(
        decode_id(template, "CouponTemplate", [*path, "couponTemplateId"]) if template else None,
        value.points,
    )


def _draft(value: AssistCampaignInput) -> m.CampaignDraft:
    return m.CampaignDraft(
        name=value.name,
        thresholds=tuple(
            m.Threshold(t.helpers, _reward(t.reward, "thresholds", str(n), "reward"))
            for n, t in enumerate(value.thresholds)
        ),
        task_hours=value.task_hours,
        new_helpers_only=value.new_helpers_only,
        helper_reward=_reward(value.helper_reward, "helperReward"),
    )


def _campaign_id(value: strawberry.ID) -> UUID:
    return decode_id(value, "AssistCampaign", "campaignId")


def _present_campaign(campaign: m.AssistCampaign) -> AssistCampaignPayload:
    return AssistCampaignPayload(campaign=AssistCampaign.from_domain(campaign))


def _present_task(view: m.TaskView) -> AssistTaskPayload:
    return AssistTaskPayload(task=AssistTask.from_domain(view))


@strawberry.type
class AssistMutations:
    @strawberry.mutation(
        permission_classes=[IsAdmin],
        description="A friend-assist (助力) campaign (ACTIVE): rewards per threshold of helpers, "
        "the task lifetime, new helpers only, a helper's reward.",
    )
    async def create_assist_campaign(
        self, info: Info[Context, object], input: AssistCampaignInput
    ) -> AssistCampaignPayload:
        deps, admin = info.context.runtime.assists, actor(info)
        return await mutate(
            AssistCampaignPayload,
            GrowthUserError,
            lambda: assists.create_campaign(deps, admin, _draft(input)),
            _present_campaign,
        )

    @strawberry.mutation(
        permission_classes=[IsAdmin],
        description="Edit an ACTIVE campaign; open tasks follow the new thresholds from their "
        "next assist and keep their deadline; a threshold paid is never paid again.",
    )
    async def update_assist_campaign(
        self, info: Info[Context, object], input: UpdateAssistCampaignInput
    ) -> AssistCampaignPayload:
        deps, admin = info.context.runtime.assists, actor(info)
        return await mutate(
            AssistCampaignPayload,
            GrowthUserError,
            lambda: assists.update_campaign(
                deps, admin, _campaign_id(input.campaign_id), _draft(input.campaign)
            ),
            _present_campaign,
        )

    @strawberry.mutation(
        permission_classes=[IsAdmin],
        description="No new tasks; open tasks run to their deadline.",
    )
    async def end_assist_campaign(
        self, info: Info[Context, object], input: AssistCampaignIdInput
    ) -> AssistCampaignPayload:
        deps, admin = info.context.runtime.assists, actor(info)
        return await mutate(
            AssistCampaignPayload,
            GrowthUserError,
            lambda: assists.end_campaign(deps, admin, _campaign_id(input.campaign_id)),
            _present_campaign,
        )

    @strawberry.mutation(
        permission_classes=[IsMember],
        description="The member's task of a campaign, to share: their open one, else a new one.",
    )
    async def start_assist(
        self, info: Info[Context, object], input: AssistCampaignIdInput
    ) -> AssistTaskPayload:
        deps, member = info.context.runtime.assists, actor(info)
        return await mutate(
            AssistTaskPayload,
            GrowthUserError,
            lambda: assists.start_assist(deps, member, _campaign_id(input.campaign_id)),
            _present_task,
        )

    @strawberry.mutation(
        permission_classes=[IsMember],
        description="Help another member's task (助力): once per task, at most 3 a day.",
    )
    async def assist(self, info: Info[Context, object], input: AssistInput) -> AssistTaskPayload:
        deps, member = info.context.runtime.assists, actor(info)
        return await mutate(
            AssistTaskPayload,
            GrowthUserError,
            lambda: assists.assist(
                deps,
                member,
                decode_id(input.task_id, "AssistTask", "taskId"),
                input.idempotency_key,
            ),
            _present_task,
        )
