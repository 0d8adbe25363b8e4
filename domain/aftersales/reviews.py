"""Reviews: a member reviews an order line once its goods are theirs; moderation holds a
review with a banned word for CS, who publish or hide it; merges move reviews to the survivor,
an erasure empties them, the data export lists them.

A review belongs to the member who owns the order, and to the line, once: the unique key on
`order_line_id` decides between two concurrent submissions (the second is ALREADY_REVIEWED, or
with the same idempotency key the first's answer)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from domain.aftersales.deps import ReviewDeps
from domain.aftersales.review_model import (
    HANDED_OVER,
    MAY_HIDE,
    MAY_PUBLISH,
    Review,
    ReviewDraft,
    ReviewStatus,
    banned_words_in,
    clean_photo_urls,
    clean_rating,
    clean_reason,
    clean_text,
    status_after_moderation,
)
from domain.clock import Clock
from domain.errors import AfterSaleError, AfterSaleErrorCode
from domain.events import EventHandlers, ExportScope, MemberErased, MembersMerged
from domain.idempotency import once
from domain.identity.model import Principal
from domain.ids import new_id
from domain.ordering.services import is_cs
from domain.pagination import MAX_PAGE_SIZE, PageRequest
from domain.uow import UnitOfWork


def _not_found(what: str, field: str) -> AfterSaleError:
    return AfterSaleError(AfterSaleErrorCode.NOT_FOUND, f"No such {what}.", [field])


async def submit_review(
    deps: ReviewDeps, actor: Principal, draft: ReviewDraft, idempotency_key: str | None = None
) -> Review:
    """The member who owns the order reviews one of its handed-over lines. Without a banned
    word it is PUBLISHED at once; with one it waits for CS (PENDING)."""
    rating = clean_rating(draft.rating)
    text = clean_text(draft.text)
    photos = clean_photo_urls(draft.photo_urls)
    now = deps.clock.now()
    async with deps.uow() as uow:
        order = await uow.orders.order_of_line(draft.order_line_id)
        # Another member's line reads as no line at all: ids are not probed that way.
        if order is None or not actor.is_member or order.member_id != actor.id:
            raise _not_found("order line", "orderLineId")
        if order.status not in HANDED_OVER:
            raise AfterSaleError(
                AfterSaleErrorCode.ORDER_NOT_HANDED_OVER,
                "Only goods picked up or delivered can be reviewed; this order is "
                f"{order.status.value}.",
                ["orderLineId"],
            )
        line = next(x for x in order.lines if x.id == draft.order_line_id)
        held_for = banned_words_in(text, deps.policy.banned_words)
        review = Review(
            id=new_id(),
            member_id=actor.id,
            order_id=order.id,
            order_line_id=line.id,
            product_id=line.product_id,
            variant_id=line.variant_id,
            rating=rating,
            text=text,
            photo_urls=photos,
            status=status_after_moderation(held_for),
            held_for=held_for,
            created_at=now,
            updated_at=now,
        )

        async def write() -> dict[str, str]:
            if not await uow.reviews.add(review):
                raise AfterSaleError(
                    AfterSaleErrorCode.ALREADY_REVIEWED,
                    "This order line has a review already; a line is reviewed once.",
                    ["orderLineId"],
                )
            return {"review_id": str(review.id)}

        request = {"l": str(line.id), "r": rating, "t": text, "p": photos}
        result = await once(
            uow.idempotency, f"{actor.label}:submitReview", idempotency_key, request, now, write
        )
        first = await uow.reviews.get(UUID(result["review_id"]))
    assert first is not None  # written by this request or by the first with its key
    return first


async def _moderate(
    deps: ReviewDeps,
    actor: Principal,
    review_id: UUID,
    target: ReviewStatus,
    reason: str | None,
) -> Review:
    if not is_cs(actor):  # the permission class said so first; the rule lives here
        raise AfterSaleError(
            AfterSaleErrorCode.FORBIDDEN, "Only CS_AGENT or ADMIN staff moderate reviews."
        )
    allowed = MAY_PUBLISH if target is ReviewStatus.PUBLISHED else MAY_HIDE
    async with deps.uow() as uow:
        review = await uow.reviews.get(review_id, lock=True)
        if review is None:
            raise _not_found("review", "reviewId")
        if review.status not in allowed:
            raise AfterSaleError(
                AfterSaleErrorCode.ILLEGAL_STATE,
                f"A {review.status.value} review cannot become {target.value}.",
                ["reviewId"],
            )
        review.status = target
        review.moderated_by = actor.label
        review.moderation_reason = reason
        review.updated_at = deps.clock.now()
        await uow.reviews.save(review)
    return review


async def hide_review(deps: ReviewDeps, actor: Principal, review_id: UUID, reason: str) -> Review:
    """CS takes a review off the product page (pending or published), saying why."""
    return await _moderate(deps, actor, review_id, ReviewStatus.HIDDEN, clean_reason(reason))


async def publish_review(deps: ReviewDeps, actor: Principal, review_id: UUID) -> Review:
    """CS approves a review moderation held (or puts a hidden one back)."""
    return await _moderate(deps, actor, review_id, ReviewStatus.PUBLISHED, None)


def may_read(actor: Principal | None, review: Review) -> bool:
    """A published review is anyone's to read (the product page shows it); one moderation holds
    or hid only its member's and CS's."""
    if review.status is ReviewStatus.PUBLISHED:
        return True
    return actor is not None and (
        (actor.is_member and actor.id == review.member_id) or is_cs(actor)
    )


async def review_for(deps: ReviewDeps, actor: Principal | None, review_id: UUID) -> Review | None:
    """`node(id)`: the review when the caller may read it."""
    async with deps.uow() as uow:
        found = await uow.reviews.get(review_id)
    return found if found is not None and may_read(actor, found) else None


def register_handlers(events: EventHandlers, clock: Clock) -> None:
    async def on_merged(uow: UnitOfWork, event: MembersMerged) -> None:
        await uow.reviews.move_member(event.source_member_id, event.target_member_id)

    async def on_erased(uow: UnitOfWork, event: MemberErased) -> None:
        """What the member wrote and photographed is personal data: it goes with the account
        (the stars stay out of every rating too: the review is hidden)."""
        await uow.reviews.erase_member(event.member_id, clock.now())

    events.register(MembersMerged, on_merged)
    events.register(MemberErased, on_erased)


async def export_reviews(
    uow: UnitOfWork, scope: ExportScope, after: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of the member's reviews, for their data export."""
    page = await uow.reviews.for_member(scope.member_id, PageRequest(MAX_PAGE_SIZE, after))
    items = [
        {
            "productId": str(r.product_id),
            "orderLineId": str(r.order_line_id),
            "rating": r.rating,
            "text": r.text,
            "photoUrls": list(r.photo_urls),
            "status": r.status.value,
            "createdAt": r.created_at.isoformat(),
        }
        for r in page.items
    ]
    return items, page.keys[-1] if page.has_next else None
