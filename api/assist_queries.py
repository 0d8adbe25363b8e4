"""Friend-assist: campaigns for ADMIN, a task's share page for members."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from api.arguments import page_args, top_level_error
from api.context import Context
from api.permissions import IsAdmin, IsMember
from api.relay import decode_id
from api.types.assists import AssistCampaign, AssistCampaignConnection, AssistTask
from domain.errors import DomainError, GrowthError
from domain.growth.assists import campaigns, task_view
from domain.growth.assists_model import CampaignStatus


@strawberry.type
class AssistQueries:
    @strawberry.field(
        permission_classes=[IsAdmin],
        description="Friend-assist campaigns in every state (or one), newest first.",
    )
    async def assist_campaigns(
        self,
        info: Info[Context, object],
        status: CampaignStatus | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> AssistCampaignConnection:
        deps = info.context.runtime.assists
        page = await campaigns(deps, status, page_args(first, after))
        return AssistCampaignConnection.from_page(page, AssistCampaign.from_domain)

    @strawberry.field(
        permission_classes=[IsMember],
        description="A friend-assist task's share page: helpers (masked), count, the next "
        "threshold, the deadline; null for an unknown id.",
    )
    async def assist_task(
        self, info: Info[Context, object], id: strawberry.ID
    ) -> AssistTask | None:
        try:
            key = decode_id(id, "AssistTask")
        except DomainError as error:
            raise top_level_error(error) from None
        try:
            view = await task_view(info.context.runtime.assists, key)
        except GrowthError:  # NOT_FOUND
            return None
        return AssistTask.from_domain(view)
