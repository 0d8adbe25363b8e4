"""Reviews: members submit them for handed-over order lines; CS moderates them."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from api.context import Context
from api.errors import AfterSaleUserError
from api.mutations import actor, mutate
from api.permissions import IsCustomerService, IsMember
from api.relay import decode_id
from api.types.reviews import Review
from domain.aftersales import review_model as m
from domain.aftersales.review_model import ReviewDraft
from domain.aftersales.reviews import hide_review, publish_review, submit_review


@strawberry.input
class SubmitReviewInput:
    order_line_id: strawberry.ID
    rating: int = strawberry.field(description="1 to 5 stars.")
    text: str = strawberry.field(default="", description="At most 1000 characters.")
    photo_urls: list[str] = strawberry.field(
        default_factory=list, description="At most 9 https URLs."
    )
    idempotency_key: str | None = None


@strawberry.input
class HideReviewInput:
    review_id: strawberry.ID
    reason: str


@strawberry.input
class PublishReviewInput:
    review_id: strawberry.ID


@strawberry.type
class ReviewPayload:
    review: Review | None = None
    errors: list[AfterSaleUserError] = strawberry.field(default_factory=list)


def _present(review: m.Review) -> ReviewPayload:
    return ReviewPayload(review=Review.from_domain(review))


@strawberry.type
class ReviewMutations:
    @strawberry.mutation(
        permission_classes=[IsMember],
        description="Review a picked-up or delivered order line of yours, once. A review with "
        "a banned word waits for CS (PENDING); others are PUBLISHED at once.",
    )
    async def submit_review(
        self, info: Info[Context, object], input: SubmitReviewInput
    ) -> ReviewPayload:
        deps, member = info.context.runtime.reviews, actor(info)
        return await mutate(
            ReviewPayload,
            AfterSaleUserError,
            lambda: submit_review(
                deps,
                member,
                ReviewDraft(
                    decode_id(input.order_line_id, "OrderLine", "orderLineId"),
                    input.rating,
                    input.text,
                    input.photo_urls,
                ),
                input.idempotency_key,
            ),
            _present,
        )

    @strawberry.mutation(
        permission_classes=[IsCustomerService],
        description="Take a review off the product page (PENDING or PUBLISHED), saying why.",
    )
    async def hide_review(
        self, info: Info[Context, object], input: HideReviewInput
    ) -> ReviewPayload:
        deps, caller = info.context.runtime.reviews, actor(info)
        return await mutate(
            ReviewPayload,
            AfterSaleUserError,
            lambda: hide_review(
                deps, caller, decode_id(input.review_id, "Review", "reviewId"), input.reason
            ),
            _present,
        )

    @strawberry.mutation(
        permission_classes=[IsCustomerService],
        description="Publish a review moderation held (PENDING), or a hidden one again.",
    )
    async def publish_review(
        self, info: Info[Context, object], input: PublishReviewInput
    ) -> ReviewPayload:
        deps, caller = info.context.runtime.reviews, actor(info)
        return await mutate(
            ReviewPayload,
            AfterSaleUserError,
            lambda: publish_review(deps, caller, decode_id(input.review_id, "Review", "reviewId")),
            _present,
        )
