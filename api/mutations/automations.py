"""Automations (engagement, issue 19): ADMIN creates, updates, pauses, resumes, archives."""

from __future__ import annotations

from uuid import UUID

import strawberry
from strawberry.types import Info

from api.context import Context
from api.errors import EngagementUserError
from api.mutations import actor, mutate
from api.permissions import IsAdmin
from api.relay import decode_id
from api.types.automations import Automation
from domain.engagement import automations as service
from domain.engagement.automations_model import (
    Action,
    ActionKind,
    AutomationDraft,
    AutomationStatus,
    Conditions,
    FrequencyCap,
    MessageChannel,
    QuietHours,
    Trigger,
    TriggerKind,
)
from domain.engagement.automations_model import Automation as DomainAutomation


@strawberry.input
class AutomationTriggerInput:
    kind: TriggerKind
    days: int | None = strawberry.field(
        default=None, description="NO_ORDER_FOR_DAYS, POINTS_EXPIRING, SUBSCRIPTION_ENDING: n."
    )
    segment_id: strawberry.ID | None = strawberry.field(
        default=None, description="ENTERED_SEGMENT: an ACTIVE segment."
    )


@strawberry.input(description="All must hold.")
class AutomationConditionsInput:
    tiers: list[str] = strawberry.field(default_factory=list)
    min_orders: int = 0


@strawberry.input
class AutomationActionInput:
    kind: ActionKind
    coupon_template_id: strawberry.ID | None = None
    points: int | None = None
    channel: MessageChannel | None = strawberry.field(
        default=None,
        description="SEND_MESSAGE: WECHAT; SEND_SMS: SMS (or none); a grant's notice (optional).",
    )
    text: str | None = None
    tag_id: strawberry.ID | None = strawberry.field(
        default=None, description="ADD_TAG: a MANUAL tag (nothing is sent with it)."
    )


@strawberry.input
class FrequencyCapInput:
    messages: int = 2
    days: int = 7


@strawberry.input
class QuietHoursInput:
    start: int = 21
    end: int = 9


@strawberry.input
class AutomationInput:
    name: str
    trigger: AutomationTriggerInput
    action: AutomationActionInput
    conditions: AutomationConditionsInput | None = None
    frequency_cap: FrequencyCapInput | None = None
    quiet_hours: QuietHoursInput | None = None


@strawberry.input
class CreateAutomationInput:
    automation: AutomationInput


@strawberry.input
class UpdateAutomationInput:
    id: strawberry.ID
    automation: AutomationInput


@strawberry.input
class AutomationIdInput:
    id: strawberry.ID


@strawberry.type
class AutomationPayload:
    automation: Automation | None = None
    errors: list[EngagementUserError] = strawberry.field(default_factory=list)


def _draft(given: AutomationInput) -> AutomationDraft:
    a, t = given.action, given.trigger
    template = (
        decode_id(a.coupon_template_id, "CouponTemplate", ["action", "couponTemplateId"])
        if a.coupon_template_id
        else None
    )
    c = given.conditions or AutomationConditionsInput()
    cap = given.frequency_cap or FrequencyCapInput()
    quiet = given.quiet_hours or QuietHoursInput()
    return AutomationDraft(
        name=given.name,
        trigger=Trigger(
            given.trigger.kind,
            given.trigger.days,
            decode_id(t.segment_id, "Segment", ["trigger", "segmentId"]) if t.segment_id else None,
        ),
        action=Action(
            a.kind,
            template,
            a.points,
            a.channel,
            a.text,
            decode_id(a.tag_id, "Tag", ["action", "tagId"]) if a.tag_id else None,
        ),
        conditions=Conditions(tuple(c.tiers), c.min_orders),
        cap=FrequencyCap(cap.messages, cap.days),
        quiet=QuietHours(quiet.start, quiet.end),
    )


def _present(found: DomainAutomation) -> AutomationPayload:
    return AutomationPayload(automation=Automation.from_domain(found))


def _id(value: strawberry.ID) -> UUID:
    return decode_id(value, "Automation", "id")


async def _move(
    info: Info[Context, object], input: AutomationIdInput, to: AutomationStatus
) -> AutomationPayload:
    deps, who = info.context.runtime.automations, actor(info)
    return await mutate(
        AutomationPayload,
        EngagementUserError,
        lambda: service.change_status(deps, who, _id(input.id), to),
        _present,
    )


@strawberry.type
class AutomationMutations:
    @strawberry.mutation(permission_classes=[IsAdmin], description="A new ACTIVE automation.")
    async def create_automation(
        self, info: Info[Context, object], input: CreateAutomationInput
    ) -> AutomationPayload:
        deps, who = info.context.runtime.automations, actor(info)
        return await mutate(
            AutomationPayload,
            EngagementUserError,
            lambda: service.create_automation(deps, who, _draft(input.automation)),
            _present,
        )

    @strawberry.mutation(permission_classes=[IsAdmin], description="A new definition.")
    async def update_automation(
        self, info: Info[Context, object], input: UpdateAutomationInput
    ) -> AutomationPayload:
        deps, who = info.context.runtime.automations, actor(info)
        return await mutate(
            AutomationPayload,
            EngagementUserError,
            lambda: service.update_automation(deps, who, _id(input.id), _draft(input.automation)),
            _present,
        )

    @strawberry.mutation(permission_classes=[IsAdmin], description="Nothing more is sent.")
    async def pause_automation(
        self, info: Info[Context, object], input: AutomationIdInput
    ) -> AutomationPayload:
        return await _move(info, input, AutomationStatus.PAUSED)

    @strawberry.mutation(permission_classes=[IsAdmin], description="Runs again.")
    async def resume_automation(
        self, info: Info[Context, object], input: AutomationIdInput
    ) -> AutomationPayload:
        return await _move(info, input, AutomationStatus.ACTIVE)

    @strawberry.mutation(permission_classes=[IsAdmin], description="For good (history stays).")
    async def archive_automation(
        self, info: Info[Context, object], input: AutomationIdInput
    ) -> AutomationPayload:
        return await _move(info, input, AutomationStatus.ARCHIVED)
