"""Flash sales in prebuilt SQL: the counters are conditional updates (a sale's units, a member's
units), which the ORM cannot say; the rest is plain reads and writes of one row."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from domain.ids import new_id
from domain.promotions.flash_sales_model import FlashSale, FlashTake
from domain.promotions.flash_sales_ports import FlashSaleRepository
from infra.db import sql

FLASH_SALE_COLUMNS = (
    "id",
    "variant_id",
    "price",
    "currency",
    "starts_at",
    "ends_at",
    "units_offered",
    "units_sold",
    "per_member_limit",
    "online",
    "location_ids",
    "created_at",
    "updated_at",
    "cancelled_at",
    "cancel_reason",
)
SELECT_SALES = f"SELECT {', '.join(FLASH_SALE_COLUMNS)} FROM flash_sale"


def _sale(row: Any) -> FlashSale:
    return FlashSale(
        id=sql.as_uuid(row["id"]),
        variant_id=sql.as_uuid(row["variant_id"]),
        price=row["price"],
        currency=row["currency"],
        starts_at=sql.as_datetime(row["starts_at"]),
        ends_at=sql.as_datetime(row["ends_at"]),
        units_offered=row["units_offered"],
        units_sold=row["units_sold"],
        per_member_limit=row["per_member_limit"],
        online=bool(row["online"]),
        location_ids=tuple(UUID(x) for x in sql.as_json(row["location_ids"])),
        created_at=sql.as_datetime(row["created_at"]),
        updated_at=sql.as_datetime(row["updated_at"]),
        cancelled_at=sql.as_optional_datetime(row["cancelled_at"]),
        cancel_reason=row["cancel_reason"],
    )


def _terms(sale: FlashSale) -> dict[str, Any]:
    return {
        "price": sale.price,
        "starts_at": sale.starts_at,
        "ends_at": sale.ends_at,
        "units_offered": sale.units_offered,
        "per_member_limit": sale.per_member_limit,
        "online": sale.online,
        "location_ids": [str(x) for x in sale.location_ids],
        "updated_at": sale.updated_at,
        "cancelled_at": sale.cancelled_at,
        "cancel_reason": sale.cancel_reason,
    }


class TortoiseFlashSaleRepository(FlashSaleRepository):
    async def add_flash_sale(self, sale: FlashSale) -> None:
        await sql.insert_row(
            "flash_sale",
            {
                "id": sale.id,
                "variant_id": sale.variant_id,
                "currency": sale.currency,
                "units_sold": sale.units_sold,
                "created_at": sale.created_at,
                **_terms(sale),
            },
        )

    async def update_flash_sale(self, sale: FlashSale) -> None:
        await sql.update("flash_sale", _terms(sale), "id = $1", sale.id)

    async def get_flash_sale(self, sale_id: UUID, lock: bool = False) -> FlashSale | None:
        lock_clause = " FOR UPDATE" if lock and not sql.is_sqlite() else ""
        rows = await sql.fetch(f"{SELECT_SALES} WHERE id = $1{lock_clause}", sale_id)
        return _sale(rows[0]) if rows else None

    async def flash_sales_of_variants(
        self, variant_ids: Sequence[UUID], ending_after: datetime
    ) -> list[FlashSale]:
        if not variant_ids:
            return []
        rows = await sql.fetch(
            f"{SELECT_SALES} WHERE variant_id IN ({sql.placeholders(len(variant_ids), 2)}) "
            "AND ends_at > $1 AND cancelled_at IS NULL ORDER BY ends_at, id",
            ending_after,
            *variant_ids,
        )
        return [_sale(row) for row in rows]

    async def list_flash_sales(
        self, now: datetime, active: bool | None, limit: int
    ) -> list[FlashSale]:
        where = {
            None: "",
            True: " WHERE ends_at > $1 AND cancelled_at IS NULL",
            False: " WHERE (ends_at <= $1 OR cancelled_at IS NOT NULL)",
        }[active]
        values = (limit,) if active is None else (limit, now)
        where = where.replace("$1", "$2")
        rows = await sql.fetch(
            f"{SELECT_SALES}{where} ORDER BY starts_at DESC, id LIMIT $1", *values
        )
        return [_sale(row) for row in rows]

    async def take_units(self, sale_id: UUID, quantity: int) -> bool:
        changed = await sql.execute(
            "UPDATE flash_sale SET units_sold = units_sold + $2 "
            "WHERE id = $1 AND units_sold + $2 <= units_offered AND cancelled_at IS NULL",
            sale_id,
            quantity,
        )
        return changed == 1

    async def take_member_units(
        self, sale_id: UUID, member_id: UUID, quantity: int, limit: int
    ) -> bool:
        # One round trip: the member's first purchase inserts the row, a later one adds to it
        # only within the limit (no row returned: refused). Two tabs of one member: the second
        # waits for the first's row lock (or its insert's commit), then sees its count.
        if quantity > limit:
            return False
        taken = await sql.fetch(
            "INSERT INTO flash_sale_buyer (id, flash_sale_id, member_id, bought) "
            "VALUES ($1, $2, $3, $4) ON CONFLICT (flash_sale_id, member_id) DO UPDATE "
            "SET bought = flash_sale_buyer.bought + $4 "
            "WHERE flash_sale_buyer.bought + $4 <= $5 RETURNING id",
            new_id(),
            sale_id,
            member_id,
            quantity,
            limit,
        )
        return bool(taken)

    async def record_take(self, order_id: UUID, take: FlashTake) -> None:
        await sql.insert_row(
            "flash_sale_order",
            {
                "id": new_id(),
                "order_id": order_id,
                "flash_sale_id": take.flash_sale_id,
                "member_id": take.member_id,
                "quantity": take.quantity,
            },
        )

    async def pop_takes(self, order_id: UUID) -> list[FlashTake]:
        rows = await sql.fetch(
            "DELETE FROM flash_sale_order WHERE order_id = $1 "
            "RETURNING flash_sale_id, member_id, quantity",
            order_id,
        )
        takes = [
            FlashTake(sql.as_uuid(r["flash_sale_id"]), sql.as_uuid(r["member_id"]), r["quantity"])
            for r in rows
        ]
        return sorted(takes, key=lambda t: t.flash_sale_id)  # lock order: by sale id

    async def move_member(self, source: UUID, target: UUID) -> None:
        await sql.execute(
            "UPDATE flash_sale_buyer SET bought = bought + COALESCE((SELECT s.bought "
            "FROM flash_sale_buyer s WHERE s.member_id = $1 "
            "AND s.flash_sale_id = flash_sale_buyer.flash_sale_id), 0) WHERE member_id = $2",
            source,
            target,
        )
        await sql.execute(
            "DELETE FROM flash_sale_buyer WHERE member_id = $1 AND flash_sale_id IN "
            "(SELECT flash_sale_id FROM flash_sale_buyer WHERE member_id = $2)",
            source,
            target,
        )
        await sql.execute(
            "UPDATE flash_sale_buyer SET member_id = $2 WHERE member_id = $1", source, target
        )
        await sql.execute(
            "UPDATE flash_sale_order SET member_id = $2 WHERE member_id = $1", source, target
        )

    async def give_back(self, take: FlashTake) -> None:
        await sql.execute(
            "UPDATE flash_sale_buyer SET bought = bought - $3 "
            "WHERE flash_sale_id = $1 AND member_id = $2",
            take.flash_sale_id,
            take.member_id,
            take.quantity,
        )
        await sql.execute(
            "UPDATE flash_sale SET units_sold = units_sold - $2 WHERE id = $1",
            take.flash_sale_id,
            take.quantity,
        )
