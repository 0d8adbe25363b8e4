"""Till sales' lines and their in-store returns (`TillReturnRepository`)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from uuid import UUID

from domain.ids import new_id
from domain.inventory.till_model import PosReturn, PosReturnLine, TillSale, TillSaleLine
from domain.pagination import Page, PageRequest
from infra.db import sql
from infra.db.models.inventory import PosTransactionRow
from infra.db.models.till_returns import PosReturnLineRow, PosReturnRow, PosSaleLineRow
from infra.repositories.paging import after_uuid

SALE_LINE_COLUMNS = (
    "id",
    "sale_id",
    "variant_id",
    "quantity",
    "charged",
    "points_value",
    "points",
    "returned",
)


class TortoiseTillReturnRepository:
    async def keep_sale(
        self,
        location_id: UUID,
        transaction_id: str,
        member_id: UUID | None,
        lines: Sequence[TillSaleLine],
    ) -> None:
        # Two statements on the till's hot path: the sale row (its id, the member) and every
        # line in one multi-row INSERT.
        [row] = await sql.fetch(
            "UPDATE pos_transaction SET member_id = $3 "
            "WHERE location_id = $1 AND transaction_id = $2 RETURNING id",
            location_id,
            transaction_id,
            member_id,
        )
        sale_id = sql.as_uuid(row["id"])
        await sql.insert(
            "pos_sale_line",
            SALE_LINE_COLUMNS,
            [
                (
                    new_id(),
                    sale_id,
                    line.variant_id,
                    line.quantity,
                    line.charged,
                    line.points_value,
                    line.points,
                    line.returned,
                )
                for line in lines
            ],
        )

    async def sale(self, location_id: UUID, transaction_id: str) -> TillSale | None:
        row = await PosTransactionRow.get_or_none(
            location_id=location_id, transaction_id=transaction_id
        )
        if row is None:
            return None
        lines = await PosSaleLineRow.filter(sale_id=row.id).order_by("variant_id")
        if not lines:
            return None  # recorded before till sales kept their lines
        return TillSale(
            id=row.id,
            location_id=row.location_id,
            transaction_id=row.transaction_id,
            member_id=row.member_id,
            lines=[
                TillSaleLine(
                    variant_id=x.variant_id,
                    quantity=x.quantity,
                    charged=x.charged,
                    points_value=x.points_value,
                    points=x.points,
                    returned=x.returned,
                )
                for x in lines
            ],
        )

    async def take_returned(self, sale_id: UUID, variant_id: UUID, quantity: int) -> int | None:
        # One conditional statement: the row stays locked until commit, so a concurrent
        # return of the same line waits and then sees these units as returned.
        rows = await sql.fetch(
            "UPDATE pos_sale_line SET returned = returned + $3 "
            "WHERE sale_id = $1 AND variant_id = $2 AND returned + $3 <= quantity "
            "RETURNING returned",
            sale_id,
            variant_id,
            quantity,
        )
        return int(rows[0]["returned"]) - quantity if rows else None

    async def add_return(self, pos_return: PosReturn) -> None:
        await PosReturnRow.create(
            id=pos_return.id,
            location_id=pos_return.location_id,
            sale_id=pos_return.sale_id,
            transaction_id=pos_return.transaction_id,
            member_id=pos_return.member_id,
            refund_method=pos_return.refund_method,
            refund_amount=pos_return.refund_amount,
            points_returned=pos_return.points_returned,
            points_reversed=pos_return.points_reversed,
            reason=pos_return.reason,
            actor=pos_return.actor,
            created_at=pos_return.created_at,
        )
        await PosReturnLineRow.bulk_create(
            [
                PosReturnLineRow(
                    id=new_id(),
                    return_id=pos_return.id,
                    variant_id=line.variant_id,
                    condition=line.condition,
                    quantity=line.quantity,
                    refund_amount=line.refund_amount,
                    points_returned=line.points_returned,
                )
                for line in pos_return.lines
            ]
        )

    async def get_return(self, return_id: UUID) -> PosReturn | None:
        found = await _with_lines(await PosReturnRow.filter(id=return_id))
        return found[0] if found else None

    async def returns_at(self, location_id: UUID, page: PageRequest) -> Page[PosReturn]:
        query = PosReturnRow.filter(location_id=location_id)
        if page.after is not None:
            query = query.filter(id__lt=after_uuid(page.after))
        rows = await query.order_by("-id").limit(page.first + 1)
        items = await _with_lines(rows)
        return Page.from_rows(items, [str(r.id) for r in rows], page)


async def _with_lines(rows: Sequence[PosReturnRow]) -> list[PosReturn]:
    """The returns with their lines, read in one statement whatever their number."""
    lines: dict[UUID, list[PosReturnLine]] = defaultdict(list)
    if rows:
        found = await PosReturnLineRow.filter(return_id__in=[r.id for r in rows]).order_by(
            "variant_id", "condition"
        )
        for x in found:
            lines[x.return_id].append(
                PosReturnLine(
                    x.variant_id, x.condition, x.quantity, x.refund_amount, x.points_returned
                )
            )
    return [
        PosReturn(
            id=r.id,
            location_id=r.location_id,
            sale_id=r.sale_id,
            transaction_id=r.transaction_id,
            member_id=r.member_id,
            refund_method=r.refund_method,
            refund_amount=r.refund_amount,
            points_returned=r.points_returned,
            points_reversed=r.points_reversed,
            reason=r.reason,
            actor=r.actor,
            created_at=r.created_at,
            lines=lines[r.id],
        )
        for r in rows
    ]
