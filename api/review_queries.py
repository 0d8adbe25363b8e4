"""Reviews for CS: the moderation queue."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from api.arguments import page_args
from api.context import Context
from api.permissions import IsCustomerService
from api.types.reviews import Review, ReviewConnection
from domain.aftersales.review_model import ReviewStatus


@strawberry.input
class ReviewFilter:
    status: ReviewStatus | None = strawberry.field(
        default=None, description="PENDING: what moderation held for you."
    )


@strawberry.type
class ReviewQueries:
    @strawberry.field(
        permission_classes=[IsCustomerService],
        description="Reviews in every state (or one), oldest first: CS's moderation queue.",
    )
    async def reviews(
        self,
        info: Info[Context, object],
        filter: ReviewFilter | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> ReviewConnection:
        status = filter.status if filter is not None else None
        page = await info.context.runtime.repos.reviews.by_status(status, page_args(first, after))
        return ReviewConnection.from_page(page, Review.from_domain)
