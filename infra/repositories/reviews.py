"""Reviews in prebuilt SQL: the product page reads them for a whole page of products at once
(a window per product), which the ORM cannot say."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from domain.aftersales.review_model import ERASED, Rating, Review, ReviewStatus
from domain.aftersales.review_ports import ReviewRepository
from domain.pagination import Page, PageRequest
from infra.db import sql
from infra.repositories.paging import after_uuid, id_page

REVIEW_COLUMNS = (
    "id",
    "member_id",
    "order_id",
    "order_line_id",
    "product_id",
    "variant_id",
    "rating",
    "text",
    "photo_urls",
    "status",
    "held_for",
    "created_at",
    "updated_at",
    "moderated_by",
    "moderation_reason",
)
_LISTED = ", ".join(REVIEW_COLUMNS)
SELECT_REVIEWS = f"SELECT {_LISTED} FROM review"
INSERT_REVIEW = (
    f"INSERT INTO review ({_LISTED}) VALUES ({sql.placeholders(len(REVIEW_COLUMNS))}) "
    "ON CONFLICT (order_line_id) DO NOTHING RETURNING id"
)
PUBLISHED = ReviewStatus.PUBLISHED.value


def _review(row: Any) -> Review:
    return Review(
        id=sql.as_uuid(row["id"]),
        member_id=sql.as_uuid(row["member_id"]),
        order_id=sql.as_uuid(row["order_id"]),
        order_line_id=sql.as_uuid(row["order_line_id"]),
        product_id=sql.as_uuid(row["product_id"]),
        variant_id=sql.as_uuid(row["variant_id"]),
        rating=row["rating"],
        text=row["text"],
        photo_urls=list(sql.as_json(row["photo_urls"])),
        status=ReviewStatus(row["status"]),
        held_for=list(sql.as_json(row["held_for"])),
        created_at=sql.as_datetime(row["created_at"]),
        updated_at=sql.as_datetime(row["updated_at"]),
        moderated_by=row["moderated_by"],
        moderation_reason=row["moderation_reason"],
    )


def _values(review: Review) -> list[Any]:
    return [
        sql.as_driver_value(v)
        for v in (
            review.id,
            review.member_id,
            review.order_id,
            review.order_line_id,
            review.product_id,
            review.variant_id,
            review.rating,
            review.text,
            review.photo_urls,
            review.status,
            review.held_for,
            review.created_at,
            review.updated_at,
            review.moderated_by,
            review.moderation_reason,
        )
    ]


def _page(rows: Sequence[Any], page: PageRequest) -> Page[Review]:
    reviews = [_review(r) for r in rows]
    return Page.from_rows(reviews, [str(r.id) for r in reviews], page)


class TortoiseReviewRepository(ReviewRepository):
    async def add(self, review: Review) -> bool:
        return bool(await sql.fetch(INSERT_REVIEW, *_values(review)))

    async def get(self, review_id: UUID, *, lock: bool = False) -> Review | None:
        lock_clause = " FOR UPDATE" if lock and not sql.is_sqlite() else ""
        rows = await sql.fetch(f"{SELECT_REVIEWS} WHERE id = $1{lock_clause}", review_id)
        return _review(rows[0]) if rows else None

    async def save(self, review: Review) -> None:
        changes = {
            "status": review.status,
            "held_for": review.held_for,
            "moderated_by": review.moderated_by,
            "moderation_reason": review.moderation_reason,
            "updated_at": review.updated_at,
        }
        await sql.update("review", changes, "id = $1", review.id)

    async def of_lines(self, line_ids: Sequence[UUID]) -> list[Review]:
        if not line_ids:
            return []
        keys = list(line_ids)
        rows = await sql.fetch(
            f"{SELECT_REVIEWS} WHERE order_line_id IN ({sql.placeholders(len(keys))})", *keys
        )
        return [_review(r) for r in rows]

    async def for_member(self, member_id: UUID, page: PageRequest) -> Page[Review]:
        return await id_page(SELECT_REVIEWS, page, _review, [("member_id", member_id)])

    async def by_status(self, status: ReviewStatus | None, page: PageRequest) -> Page[Review]:
        return await id_page(
            SELECT_REVIEWS,
            page,
            _review,
            [("status", status and status.value)],
            newest_first=False,
        )

    async def published_of(
        self, product_ids: Sequence[UUID], page: PageRequest
    ) -> dict[UUID, Page[Review]]:
        keys = list(dict.fromkeys(product_ids))
        if not keys:
            return {}
        values: list[Any] = [PUBLISHED, *keys]
        after = ""
        if page.after is not None:
            values.append(after_uuid(page.after))
            after = f" AND id < ${len(values)}"
        rows = await sql.fetch(
            f"SELECT {_LISTED} FROM (SELECT {_LISTED}, ROW_NUMBER() OVER "
            "(PARTITION BY product_id ORDER BY id DESC) AS n FROM review WHERE status = $1 "
            f"AND product_id IN ({sql.placeholders(len(keys), 2)}){after}) ranked "
            f"WHERE n <= {page.first + 1} ORDER BY id DESC",
            *values,
        )
        grouped: dict[UUID, list[Any]] = {k: [] for k in keys}
        for row in rows:
            grouped[sql.as_uuid(row["product_id"])].append(row)
        return {k: _page(found, page) for k, found in grouped.items()}

    async def ratings(self, product_ids: Sequence[UUID]) -> dict[UUID, Rating]:
        keys = list(dict.fromkeys(product_ids))
        if not keys:
            return {}
        rows = await sql.fetch(
            "SELECT product_id, COUNT(*) AS n, SUM(rating) AS total FROM review "
            f"WHERE status = $1 AND product_id IN ({sql.placeholders(len(keys), 2)}) "
            "GROUP BY product_id",
            PUBLISHED,
            *keys,
        )
        return {sql.as_uuid(r["product_id"]): Rating(int(r["n"]), int(r["total"])) for r in rows}

    async def move_member(self, source: UUID, target: UUID) -> int:
        return await sql.execute(
            "UPDATE review SET member_id = $1 WHERE member_id = $2", target, source
        )

    async def erase_member(self, member_id: UUID, at: datetime) -> int:
        return await sql.update(
            "review",
            {
                "text": "",
                "photo_urls": [],
                "status": ReviewStatus.HIDDEN,
                "moderated_by": "SYSTEM",
                "moderation_reason": ERASED,
                "updated_at": at,
            },
            "member_id = $1",
            member_id,
        )
