"""Member prices in prebuilt SQL: a cart reads its tier's prices in one statement."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from domain.ids import new_id
from domain.promotions.member_prices_model import MemberPrice
from domain.promotions.member_prices_ports import MemberPriceRepository
from infra.db import sql

MEMBER_PRICE_COLUMNS = ("variant_id", "tier", "price", "updated_at", "updated_by")
SELECT_MEMBER_PRICES = f"SELECT {', '.join(MEMBER_PRICE_COLUMNS)} FROM member_price"


def _member_price(row: Any) -> MemberPrice:
    return MemberPrice(
        sql.as_uuid(row["variant_id"]),
        row["tier"],
        row["price"],
        sql.as_datetime(row["updated_at"]),
        row["updated_by"],
    )


class TortoiseMemberPriceRepository(MemberPriceRepository):
    async def of_tier(self, variant_ids: Sequence[UUID], tier: str) -> dict[UUID, int]:
        if not variant_ids:
            return {}
        rows = await sql.fetch(
            "SELECT variant_id, price FROM member_price "
            f"WHERE tier = $1 AND variant_id IN ({sql.placeholders(len(variant_ids), 2)})",
            tier,
            *variant_ids,
        )
        return {sql.as_uuid(r["variant_id"]): r["price"] for r in rows}

    async def of_variants(self, variant_ids: Sequence[UUID]) -> list[MemberPrice]:
        if not variant_ids:
            return []
        rows = await sql.fetch(
            f"{SELECT_MEMBER_PRICES} WHERE variant_id IN ({sql.placeholders(len(variant_ids))}) "
            "ORDER BY variant_id, tier",
            *variant_ids,
        )
        return [_member_price(r) for r in rows]

    async def put(self, price: MemberPrice) -> None:
        await sql.fetch(
            "INSERT INTO member_price (id, variant_id, tier, price, updated_at, updated_by) "
            "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (variant_id, tier) DO UPDATE SET "
            "price = excluded.price, updated_at = excluded.updated_at, "
            "updated_by = excluded.updated_by RETURNING id",
            new_id(),
            price.variant_id,
            price.tier,
            price.price,
            price.updated_at,
            price.updated_by,
        )

    async def remove(self, variant_id: UUID, tier: str) -> bool:
        removed = await sql.execute(
            "DELETE FROM member_price WHERE variant_id = $1 AND tier = $2", variant_id, tier
        )
        return removed > 0
