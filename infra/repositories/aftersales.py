"""After-sales on Tortoise: an after-sale and its lines are read in two statements whatever
the number of after-sales (lists stay constant in their page size)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from tortoise.expressions import Q

from domain.aftersales.model import (
    AfterSale,
    AfterSaleEvent,
    AfterSaleFilter,
    AfterSaleLine,
    AfterSaleStatus,
)
from domain.pagination import Page, PageRequest
from infra.db.models.aftersales import AfterSaleEventRow, AfterSaleLineRow, AfterSaleRow
from infra.repositories.paging import after_uuid


class TortoiseAfterSaleRepository:
    async def add(self, after_sale: AfterSale) -> None:
        await AfterSaleRow.create(
            id=after_sale.id,
            order_id=after_sale.order_id,
            member_id=after_sale.member_id,
            location_id=after_sale.location_id,
            kind=after_sale.kind,
            status=after_sale.status,
            reason=after_sale.reason,
            photo_urls=list(after_sale.photo_urls),
            requested_by=after_sale.requested_by,
            decision_reason=after_sale.decision_reason,
            received_at_location_id=after_sale.received_at_location_id,
            refund_amount=after_sale.refund_amount,
            refund_payment_id=after_sale.refund_payment_id,
            created_at=after_sale.created_at,
            updated_at=after_sale.updated_at,
        )
        await AfterSaleLineRow.bulk_create(
            [AfterSaleLineRow(**_line_fields(line)) for line in after_sale.lines]
        )

    async def get(self, after_sale_id: UUID) -> AfterSale | None:
        found = await self.get_many([after_sale_id])
        return found[0] if found else None

    async def get_many(self, ids: Sequence[UUID]) -> list[AfterSale]:
        if not ids:
            return []
        return await _with_lines(await AfterSaleRow.filter(id__in=list(ids)))

    async def of_orders(self, order_ids: Sequence[UUID]) -> list[AfterSale]:
        if not order_ids:
            return []
        rows = await AfterSaleRow.filter(order_id__in=list(order_ids)).order_by("created_at", "id")
        return await _with_lines(rows)

    async def transition(
        self, after_sale_id: UUID, current: AfterSaleStatus, target: AfterSaleStatus, **changes: Any
    ) -> bool:
        moved = await AfterSaleRow.filter(id=after_sale_id, status=current).update(
            status=target, **changes
        )
        return moved == 1

    async def save_lines(self, lines: Sequence[AfterSaleLine]) -> None:
        for line in lines:
            await AfterSaleLineRow.filter(id=line.id).update(
                received=line.received,
                damaged=line.damaged,
                refunded=line.refunded,
                refund_amount=line.refund_amount,
                points_returned=line.points_returned,
            )

    async def by_refund(self, refund_id: UUID) -> AfterSale | None:
        rows = await AfterSaleRow.filter(refund_payment_id=refund_id)
        found = await _with_lines(rows)
        return found[0] if found else None

    async def add_events(self, events: Sequence[AfterSaleEvent]) -> None:
        await AfterSaleEventRow.bulk_create(
            [
                AfterSaleEventRow(
                    id=e.id,
                    after_sale_id=e.after_sale_id,
                    from_status=e.from_status,
                    to_status=e.to_status,
                    actor=e.actor[:60],
                    note=e.note[:500],
                    at=e.at,
                )
                for e in events
            ]
        )

    async def events_of(self, ids: Sequence[UUID]) -> list[AfterSaleEvent]:
        if not ids:
            return []
        rows = await AfterSaleEventRow.filter(after_sale_id__in=list(ids)).order_by("at", "id")
        return [
            AfterSaleEvent(r.id, r.after_sale_id, r.from_status, r.to_status, r.actor, r.note, r.at)
            for r in rows
        ]

    async def search(
        self, where: AfterSaleFilter, page: PageRequest, *, member_ids: Sequence[UUID] = ()
    ) -> Page[AfterSale]:
        """Newest first; ids are time-ordered, so the id is the keyset."""
        query = AfterSaleRow.all()
        if member_ids:
            query = query.filter(member_id__in=list(member_ids))
        if where.location_ids is not None:
            query = query.filter(location_id__in=list(where.location_ids))
        if where.status is not None:
            query = query.filter(status=where.status)
        if page.after is not None:
            query = query.filter(Q(id__lt=after_uuid(page.after)))
        rows = await query.order_by("-id").limit(page.first + 1)
        items = await _with_lines(rows)
        return Page.from_rows(items, [str(r.id) for r in rows], page)

    async def move_member(self, source: UUID, target: UUID) -> int:
        return await AfterSaleRow.filter(member_id=source).update(member_id=target)


def _line_fields(line: AfterSaleLine) -> dict[str, Any]:
    return {
        "id": line.id,
        "after_sale_id": line.after_sale_id,
        "order_line_id": line.order_line_id,
        "variant_id": line.variant_id,
        "quantity": line.quantity,
        "received": line.received,
        "damaged": line.damaged,
        "refunded": line.refunded,
        "refund_amount": line.refund_amount,
        "points_returned": line.points_returned,
    }


async def _with_lines(rows: Sequence[AfterSaleRow]) -> list[AfterSale]:
    """The after-sales of `rows`, in their order, each with its lines (one statement)."""
    if not rows:
        return []
    lines: dict[UUID, list[AfterSaleLine]] = defaultdict(list)
    for r in await AfterSaleLineRow.filter(after_sale_id__in=[row.id for row in rows]).order_by(
        "id"
    ):
        lines[r.after_sale_id].append(
            AfterSaleLine(
                r.id,
                r.after_sale_id,
                r.order_line_id,
                r.variant_id,
                r.quantity,
                r.received,
                r.damaged,
                r.refunded,
                r.refund_amount,
                r.points_returned,
            )
        )
    return [
        AfterSale(
            id=row.id,
            order_id=row.order_id,
            member_id=row.member_id,
            location_id=row.location_id,
            kind=row.kind,
            status=row.status,
            reason=row.reason,
            photo_urls=list(row.photo_urls),
            requested_by=row.requested_by,
            created_at=row.created_at,
            updated_at=row.updated_at,
            lines=lines[row.id],
            decision_reason=row.decision_reason,
            received_at_location_id=row.received_at_location_id,
            refund_amount=row.refund_amount,
            refund_payment_id=row.refund_payment_id,
        )
        for row in rows
    ]
