"""Reviews as the member and CS see them (`Review`), and as the product page shows them to
everyone (`ProductReview`: published only, the reviewer masked)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.types import Info

from api.context import Context
from api.relay import Connection, Node, encode_id
from domain.aftersales import review_model as m
from domain.aftersales.review_model import ReviewStatus, reviewer_label
from domain.ordering.services import is_cs

if TYPE_CHECKING:
    from api.types.catalog import Product

strawberry.enum(ReviewStatus)


@strawberry.type(description="Stars of a product's published reviews.")
class Rating:
    average: float | None = strawberry.field(
        description="Mean stars, rounded half up to one decimal; null without reviews."
    )
    count: int

    @classmethod
    def from_domain(cls, rating: m.Rating) -> Rating:
        average = rating.average
        return cls(average=float(average) if average is not None else None, count=rating.count)


@strawberry.type(
    description="A review: its author and CS read it in any state, anyone once it is PUBLISHED."
)
class Review(Node):
    id: strawberry.ID
    rating: int
    text: str
    photo_urls: list[str]
    status: ReviewStatus
    created_at: datetime
    updated_at: datetime
    moderation_reason: str | None = strawberry.field(description="Why CS hid it.")
    order_line_id: strawberry.ID
    order_id: strawberry.ID
    domain: strawberry.Private[m.Review]

    @classmethod
    def from_domain(cls, review: m.Review) -> Review:
        return cls(
            id=encode_id("Review", review.id),
            rating=review.rating,
            text=review.text,
            photo_urls=list(review.photo_urls),
            status=review.status,
            created_at=review.created_at,
            updated_at=review.updated_at,
            moderation_reason=review.moderation_reason,
            order_line_id=encode_id("OrderLine", review.order_line_id),
            order_id=encode_id("Order", review.order_id),
            domain=review,
        )

    @strawberry.field(description="The banned words that held it for moderation (CS only).")
    def held_for(self, info: Info[Context, Any]) -> list[str] | None:
        actor = info.context.principal
        return list(self.domain.held_for) if actor is not None and is_cs(actor) else None

    @strawberry.field
    async def product(
        self, info: Info[Context, Any]
    ) -> Annotated[Product, strawberry.lazy("api.types.catalog")] | None:
        from api.types.catalog import Product

        found = await info.context.loaders.product.load(self.domain.product_id)
        return Product.from_domain(found) if found else None


@strawberry.type(description="A published review on a product's page.")
class ProductReview:
    id: strawberry.ID
    rating: int
    text: str
    photo_urls: list[str]
    created_at: datetime
    member_key: strawberry.Private[Any]

    @classmethod
    def from_domain(cls, review: m.Review) -> ProductReview:
        return cls(
            id=encode_id("Review", review.id),
            rating=review.rating,
            text=review.text,
            photo_urls=list(review.photo_urls),
            created_at=review.created_at,
            member_key=review.member_id,
        )

    @strawberry.field(description="The reviewer's name, masked (王**).")
    async def reviewer(self, info: Info[Context, Any]) -> str:
        member = await info.context.loaders.member.load(self.member_key)
        return reviewer_label(member.display_name if member else None)


@strawberry.type
class ReviewConnection(Connection[Review]):
    """A member's: newest first. CS's queue: oldest first."""


@strawberry.type
class ProductReviewConnection(Connection[ProductReview]):
    """Newest first."""
