"""Automations (engagement) as ADMIN and CS see them: definitions, their sends, a dry run."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from strawberry.types import Info

from api.arguments import page_args
from api.context import Context
from api.relay import Connection, encode_id
from domain.engagement import automations as service
from domain.engagement.automations_model import (
    ActionKind,
    AutomationStatus,
    MessageChannel,
    SendOutcome,
    TriggerKind,
)
from domain.engagement.automations_model import Automation as DomainAutomation
from domain.engagement.automations_model import DryRun as DomainDryRun
from domain.engagement.automations_model import Send as DomainSend

for _enum in (AutomationStatus, TriggerKind, ActionKind, MessageChannel, SendOutcome):
    strawberry.enum(_enum)


@strawberry.type
class AutomationTrigger:
    kind: TriggerKind
    days: int | None
    segment_id: strawberry.ID | None = strawberry.field(description="ENTERED_SEGMENT's.")


@strawberry.type
class AutomationConditions:
    tiers: list[str]
    min_orders: int


@strawberry.type
class AutomationAction:
    kind: ActionKind
    coupon_template_id: strawberry.ID | None
    points: int | None
    channel: MessageChannel | None
    text: str | None
    tag_id: strawberry.ID | None


@strawberry.type(description="At most `messages` automation messages a member in `days` days.")
class FrequencyCap:
    messages: int
    days: int


@strawberry.type(description="Store-local hours (start to end, may wrap midnight).")
class QuietHours:
    start: int
    end: int


@strawberry.type(description="One member hit by an automation in one trigger period.")
class AutomationSend:
    id: strawberry.ID
    automation_id: strawberry.ID
    member_id: strawberry.ID
    period_key: str
    action: ActionKind
    outcome: SendOutcome
    due_at: datetime
    done_at: datetime | None
    message_key: str | None = strawberry.field(description="The outbox message's dedupe key.")
    coupon_id: strawberry.ID | None
    points_entry_id: strawberry.ID | None
    detail: str
    tag_id: strawberry.ID | None = strawberry.field(description="ADD_TAG: the tag put on.")

    @classmethod
    def from_domain(cls, send: DomainSend) -> AutomationSend:
        return cls(
            id=encode_id("AutomationSend", send.id),
            automation_id=encode_id("Automation", send.automation_id),
            member_id=encode_id("Member", send.member_id),
            period_key=send.period_key,
            action=send.action,
            outcome=send.outcome,
            due_at=send.due_at,
            done_at=send.done_at,
            message_key=send.message_key,
            coupon_id=encode_id("Coupon", send.coupon_id) if send.coupon_id else None,
            points_entry_id=strawberry.ID(str(send.points_entry_id))
            if send.points_entry_id
            else None,
            detail=send.detail,
            tag_id=encode_id("Tag", send.tag_id) if send.tag_id else None,
        )


@strawberry.type
class AutomationSendConnection(Connection[AutomationSend]):
    """Newest first."""


@strawberry.type
class AutomationRuns:
    """How many sends ended each way."""

    done: int
    pending: int
    blocked_consent: int
    blocked_cap: int
    skipped: int
    failed: int


@strawberry.type(description="What a run would do now; nothing is changed.")
class AutomationDryRun:
    candidates: int
    would_hit: int
    blocked_consent: int
    blocked_cap: int
    deferred_quiet_hours: int
    skipped_conditions: int

    @classmethod
    def from_domain(cls, run: DomainDryRun) -> AutomationDryRun:
        return cls(**run.__dict__)


@strawberry.type
class Automation:
    id: strawberry.ID
    name: str
    status: AutomationStatus
    trigger: AutomationTrigger
    conditions: AutomationConditions
    action: AutomationAction
    frequency_cap: FrequencyCap
    quiet_hours: QuietHours
    created_at: datetime
    updated_at: datetime
    key: strawberry.Private[Any]

    @classmethod
    def from_domain(cls, automation: DomainAutomation) -> Automation:
        d = automation.draft
        a = d.action
        return cls(
            id=encode_id("Automation", automation.id),
            name=d.name,
            status=automation.status,
            trigger=AutomationTrigger(
                kind=d.trigger.kind,
                days=d.trigger.days,
                segment_id=encode_id("Segment", d.trigger.segment_id)
                if d.trigger.segment_id
                else None,
            ),
            conditions=AutomationConditions(
                tiers=list(d.conditions.tiers), min_orders=d.conditions.min_orders
            ),
            action=AutomationAction(
                kind=a.kind,
                coupon_template_id=encode_id("CouponTemplate", a.coupon_template_id)
                if a.coupon_template_id
                else None,
                points=a.points,
                channel=a.channel,
                text=a.text,
                tag_id=encode_id("Tag", a.tag_id) if a.tag_id else None,
            ),
            frequency_cap=FrequencyCap(messages=d.cap.messages, days=d.cap.days),
            quiet_hours=QuietHours(start=d.quiet.start, end=d.quiet.end),
            created_at=automation.created_at,
            updated_at=automation.updated_at,
            key=automation.id,
        )

    @strawberry.field(description="How many sends ended each way.")
    async def runs(self, info: Info[Context, Any]) -> AutomationRuns:
        c = await info.context.loaders.automation_runs.load(self.key)  # ADMIN's, as the root
        return AutomationRuns(
            done=c.get(SendOutcome.DONE, 0),
            pending=c.get(SendOutcome.PENDING, 0),
            blocked_consent=c.get(SendOutcome.BLOCKED_CONSENT, 0),
            blocked_cap=c.get(SendOutcome.BLOCKED_CAP, 0),
            skipped=c.get(SendOutcome.SKIPPED, 0),
            failed=c.get(SendOutcome.FAILED, 0),
        )

    @strawberry.field(description="One row per member hit, newest first.")
    async def sends(
        self, info: Info[Context, Any], first: int | None = None, after: str | None = None
    ) -> AutomationSendConnection:
        principal = info.context.principal
        assert principal is not None
        page = await service.sends_of(
            info.context.runtime.automations, principal, self.key, page_args(first, after)
        )
        return AutomationSendConnection.from_page(page, AutomationSend.from_domain)


@strawberry.type
class AutomationConnection(Connection[Automation]):
    """Newest first."""
