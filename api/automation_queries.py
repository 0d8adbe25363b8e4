"""Automations (engagement): the list, one automation, a dry run (ADMIN)."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from api.arguments import page_args, top_level_error
from api.context import Context
from api.mutations import actor
from api.permissions import IsAdmin
from api.relay import decode_id
from api.types.automations import Automation, AutomationConnection, AutomationDryRun
from domain.engagement import automations as service
from domain.engagement.automations_model import AutomationStatus
from domain.engagement.automations_run import dry_run
from domain.errors import DomainError


@strawberry.type
class AutomationQueries:
    @strawberry.field(permission_classes=[IsAdmin], description="Newest first (ADMIN).")
    async def automations(
        self,
        info: Info[Context, object],
        status: AutomationStatus | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> AutomationConnection:
        deps = info.context.runtime.automations
        page = await service.automations(deps, actor(info), status, page_args(first, after))
        return AutomationConnection.from_page(page, Automation.from_domain)

    @strawberry.field(permission_classes=[IsAdmin], description="Null for an unknown id.")
    async def automation(self, info: Info[Context, object], id: strawberry.ID) -> Automation | None:
        try:
            key = decode_id(id, "Automation", "id")
            found = await service.automation(info.context.runtime.automations, actor(info), key)
        except DomainError as error:
            if error.code.value == "NOT_FOUND":
                return None
            raise top_level_error(error) from None
        return Automation.from_domain(found)

    @strawberry.field(
        permission_classes=[IsAdmin],
        description="How many members a run would hit now, and how many consent, the "
        "frequency cap, quiet hours or the conditions would hold back; changes nothing.",
    )
    async def dry_run_automation(
        self, info: Info[Context, object], id: strawberry.ID
    ) -> AutomationDryRun:
        try:
            key = decode_id(id, "Automation", "id")
            found = await dry_run(info.context.runtime.automations, actor(info), key)
        except DomainError as error:
            raise top_level_error(error) from None
        return AutomationDryRun.from_domain(found)
