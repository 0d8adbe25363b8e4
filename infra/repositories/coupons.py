"""Coupons in prebuilt SQL: issuing and holding are conditional updates the ORM cannot say."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from domain.ids import new_id
from domain.pagination import Page, PageRequest
from domain.promotions.coupons_model import (
    Coupon,
    CouponKind,
    CouponRules,
    CouponScope,
    CouponSource,
    CouponStatus,
    CouponTemplate,
    CouponView,
    TemplateStatus,
    Validity,
)
from domain.promotions.coupons_ports import CouponRepository
from infra.db import sql
from infra.repositories.paging import after_uuid, id_page

TEMPLATE_COLUMNS = (
    "id",
    "name",
    "kind",
    "amount_off",
    "percent_off_bp",
    "max_discount",
    "threshold",
    "currency",
    "scope",
    "starts_at",
    "ends_at",
    "valid_days",
    "total_quantity",
    "issued",
    "per_member_limit",
    "new_members_only",
    "stackable_with_points",
    "stackable_with_coupons",
    "status",
    "created_at",
    "updated_at",
)
COUPON_COLUMNS = (
    "id",
    "template_id",
    "member_id",
    "status",
    "source",
    "slot",
    "issue_key",
    "valid_from",
    "valid_until",
    "issued_at",
    "order_id",
    "used_at",
    "reminded_at",
    "discount",
)
SELECT_TEMPLATES = f"SELECT {', '.join(TEMPLATE_COLUMNS)} FROM coupon_template"
SELECT_COUPONS = f"SELECT {', '.join(COUPON_COLUMNS)} FROM coupon"
# A coupon with its template in one row (checkout's reads): the template's columns as t_<name>.
SELECT_WITH_TEMPLATES = (
    f"SELECT {', '.join(f'c.{c}' for c in COUPON_COLUMNS)}, "
    f"{', '.join(f't.{c} AS t_{c}' for c in TEMPLATE_COLUMNS)} "
    "FROM coupon c JOIN coupon_template t ON t.id = c.template_id"
)
INSERT_COUPON = (
    f"INSERT INTO coupon ({', '.join(COUPON_COLUMNS)}) "
    f"VALUES ({sql.placeholders(len(COUPON_COLUMNS))}) ON CONFLICT DO NOTHING RETURNING id"
)
AVAILABLE, HELD, USED, EXPIRED = (s.value for s in CouponStatus)
BATCH_ROWS = (
    1000  # coupons per INSERT of a batch: 14,000 parameters (SQLite and asyncpg allow 32,766)
)


def _scope(value: Any) -> CouponScope:
    data = sql.as_json(value)
    return CouponScope(
        tuple(UUID(x) for x in data.get("products", [])),
        tuple(UUID(x) for x in data.get("categories", [])),
        tuple(data.get("channels", [])),
        tuple(UUID(x) for x in data.get("stores", [])),
    )


def _scope_json(scope: CouponScope) -> dict[str, list[str]]:
    return {
        "products": [str(x) for x in scope.product_ids],
        "categories": [str(x) for x in scope.category_ids],
        "channels": list(scope.channels),
        "stores": [str(x) for x in scope.location_ids],
    }


def _template(row: Any) -> CouponTemplate:
    return CouponTemplate(
        id=sql.as_uuid(row["id"]),
        name=row["name"],
        rules=CouponRules(
            kind=CouponKind(row["kind"]),
            amount_off=int(row["amount_off"]),
            percent_off_bp=int(row["percent_off_bp"]),
            max_discount=None if row["max_discount"] is None else int(row["max_discount"]),
            threshold=int(row["threshold"]),
            currency=row["currency"],
        ),
        scope=_scope(row["scope"]),
        validity=Validity(
            sql.as_optional_datetime(row["starts_at"]),
            sql.as_optional_datetime(row["ends_at"]),
            row["valid_days"],
        ),
        total_quantity=row["total_quantity"],
        per_member_limit=row["per_member_limit"],
        new_members_only=bool(row["new_members_only"]),
        stackable_with_points=bool(row["stackable_with_points"]),
        stackable_with_coupons=bool(row["stackable_with_coupons"]),
        status=TemplateStatus(row["status"]),
        issued=row["issued"],
        created_at=sql.as_datetime(row["created_at"]),
        updated_at=sql.as_datetime(row["updated_at"]),
    )


def _pair(row: Any) -> tuple[Coupon, CouponTemplate]:
    return _coupon(row), _template({c: row[f"t_{c}"] for c in TEMPLATE_COLUMNS})


def _editable(template: CouponTemplate) -> dict[str, Any]:
    rules, validity = template.rules, template.validity
    return {
        "name": template.name,
        "kind": rules.kind,
        "amount_off": rules.amount_off,
        "percent_off_bp": rules.percent_off_bp,
        "max_discount": rules.max_discount,
        "threshold": rules.threshold,
        "currency": rules.currency,
        "scope": _scope_json(template.scope),
        "starts_at": validity.starts_at,
        "ends_at": validity.ends_at,
        "valid_days": validity.days,
        "total_quantity": template.total_quantity,
        "per_member_limit": template.per_member_limit,
        "new_members_only": template.new_members_only,
        "stackable_with_points": template.stackable_with_points,
        "stackable_with_coupons": template.stackable_with_coupons,
        "status": template.status,
        "updated_at": template.updated_at,
    }


def _coupon(row: Any) -> Coupon:
    return Coupon(
        id=sql.as_uuid(row["id"]),
        template_id=sql.as_uuid(row["template_id"]),
        member_id=sql.as_uuid(row["member_id"]),
        status=CouponStatus(row["status"]),
        source=CouponSource(row["source"]),
        valid_from=sql.as_datetime(row["valid_from"]),
        valid_until=sql.as_datetime(row["valid_until"]),
        issued_at=sql.as_datetime(row["issued_at"]),
        slot=row["slot"],
        issue_key=row["issue_key"],
        order_id=sql.as_optional_uuid(row["order_id"]),
        used_at=sql.as_optional_datetime(row["used_at"]),
        reminded_at=sql.as_optional_datetime(row["reminded_at"]),
        discount=row["discount"],
    )


def _coupon_values(c: Coupon) -> tuple[Any, ...]:
    """COUPON_COLUMNS' values, as the driver takes them."""
    v = sql.as_driver_value
    return (
        v(c.id),
        v(c.template_id),
        v(c.member_id),
        v(c.status),
        v(c.source),
        v(c.slot),
        v(c.issue_key),
        v(c.valid_from),
        v(c.valid_until),
        v(c.issued_at),
        v(c.order_id),
        v(c.used_at),
        v(c.reminded_at),
        v(c.discount),
    )


class TortoiseCouponRepository(CouponRepository):
    async def add_template(self, template: CouponTemplate) -> None:
        await sql.insert_row(
            "coupon_template",
            {
                "id": template.id,
                **_editable(template),
                "issued": template.issued,
                "created_at": template.created_at,
            },
        )

    async def get_template(self, template_id: UUID, *, lock: bool = False) -> CouponTemplate | None:
        lock_clause = " FOR UPDATE" if lock and not sql.is_sqlite() else ""
        rows = await sql.fetch(f"{SELECT_TEMPLATES} WHERE id = $1{lock_clause}", template_id)
        return _template(rows[0]) if rows else None

    async def templates_of(self, template_ids: Sequence[UUID]) -> list[CouponTemplate]:
        keys = list(dict.fromkeys(template_ids))
        if not keys:
            return []
        rows = await sql.fetch(
            f"{SELECT_TEMPLATES} WHERE id IN ({sql.placeholders(len(keys))})", *keys
        )
        return [_template(r) for r in rows]

    async def save_template(self, template: CouponTemplate) -> None:
        await sql.update("coupon_template", _editable(template), "id = $1", template.id)

    async def templates(
        self, status: TemplateStatus | None, page: PageRequest
    ) -> Page[CouponTemplate]:
        return await id_page(
            SELECT_TEMPLATES, page, _template, [("status", status and status.value)]
        )

    async def take_one(self, template_id: UUID, now: datetime) -> bool:
        changed = await sql.execute(
            "UPDATE coupon_template SET issued = issued + 1 WHERE id = $1 AND status = $2 "
            "AND issued < total_quantity",
            template_id,
            TemplateStatus.ACTIVE.value,
        )
        return changed == 1

    async def take_many(self, template_id: UUID, count: int) -> bool:
        changed = await sql.execute(
            "UPDATE coupon_template SET issued = issued + $3 WHERE id = $1 AND status = $2 "
            "AND issued + $3 <= total_quantity",
            template_id,
            TemplateStatus.ACTIVE.value,
            count,
        )
        return changed == 1

    async def give_one_back(self, template_id: UUID) -> None:
        await sql.execute(
            "UPDATE coupon_template SET issued = issued - 1 WHERE id = $1", template_id
        )

    async def add_coupon(self, coupon: Coupon) -> bool:
        return bool(await sql.fetch(INSERT_COUPON, *_coupon_values(coupon)))

    async def add_coupons(self, coupons: Sequence[Coupon]) -> None:
        for start in range(0, len(coupons), BATCH_ROWS):
            batch = coupons[start : start + BATCH_ROWS]
            await sql.insert("coupon", COUPON_COLUMNS, [_coupon_values(c) for c in batch])

    async def slots_taken(self, template_id: UUID, member_id: UUID) -> set[int]:
        rows = await sql.fetch(
            "SELECT slot FROM coupon WHERE template_id = $1 AND member_id = $2 "
            "AND slot IS NOT NULL",
            template_id,
            member_id,
        )
        return {int(r["slot"]) for r in rows}

    async def by_issue_key(self, key: str) -> Coupon | None:
        rows = await sql.fetch(f"{SELECT_COUPONS} WHERE issue_key = $1", key)
        return _coupon(rows[0]) if rows else None

    async def get_coupon(self, coupon_id: UUID) -> Coupon | None:
        rows = await sql.fetch(f"{SELECT_COUPONS} WHERE id = $1", coupon_id)
        return _coupon(rows[0]) if rows else None

    async def with_templates(
        self, coupon_ids: Sequence[UUID]
    ) -> list[tuple[Coupon, CouponTemplate]]:
        keys = list(dict.fromkeys(coupon_ids))
        if not keys:
            return []
        rows = await sql.fetch(
            f"{SELECT_WITH_TEMPLATES} WHERE c.id IN ({sql.placeholders(len(keys))})", *keys
        )
        return [_pair(r) for r in rows]

    async def for_member(
        self, member_id: UUID, view: CouponView | None, now: datetime, page: PageRequest
    ) -> Page[Coupon]:
        values: list[Any] = [member_id]
        if view is None:
            where = "TRUE"
        elif view is CouponView.USED:
            where = f"status = '{USED}'"
        else:
            values.append(now)
            where = (
                f"status IN ('{AVAILABLE}', '{HELD}') AND valid_until > $2"
                if view is CouponView.AVAILABLE
                else f"(status = '{EXPIRED}' OR (status = '{AVAILABLE}' AND valid_until <= $2))"
            )
        if page.after is not None:
            values.append(after_uuid(page.after))
            where += f" AND id < ${len(values)}"
        rows = await sql.fetch(
            f"{SELECT_COUPONS} WHERE member_id = $1 AND {where} ORDER BY id DESC "
            f"LIMIT {page.first + 1}",
            *values,
        )
        found = [_coupon(r) for r in rows]
        return Page.from_rows(found, [str(c.id) for c in found], page)

    async def available_of(
        self, member_id: UUID, now: datetime
    ) -> list[tuple[Coupon, CouponTemplate]]:
        rows = await sql.fetch(
            f"{SELECT_WITH_TEMPLATES} WHERE c.member_id = $1 AND c.status = $2 "
            "AND c.valid_from <= $3 AND c.valid_until > $3 ORDER BY c.valid_until, c.id",
            member_id,
            AVAILABLE,
            now,
        )
        return [_pair(r) for r in rows]

    async def hold(
        self, coupon_id: UUID, member_id: UUID, order_id: UUID, discount: int, now: datetime
    ) -> bool:
        changed = await sql.execute(
            "UPDATE coupon SET status = $1, order_id = $2, discount = $7 WHERE id = $3 "
            "AND member_id = $4 AND status = $5 AND valid_from <= $6 AND valid_until > $6",
            HELD,
            order_id,
            coupon_id,
            member_id,
            AVAILABLE,
            now,
            discount,
        )
        return changed == 1

    async def held_by(self, order_id: UUID) -> list[Coupon]:
        rows = await sql.fetch(f"{SELECT_COUPONS} WHERE order_id = $1 ORDER BY id", order_id)
        return [_coupon(r) for r in rows]

    async def spend(self, order_id: UUID, now: datetime) -> int:
        return await sql.execute(
            "UPDATE coupon SET status = $1, used_at = $2 WHERE order_id = $3 AND status = $4",
            USED,
            now,
            order_id,
            HELD,
        )

    async def give_back(self, order_id: UUID, now: datetime) -> int:
        return await sql.execute(
            "UPDATE coupon SET status = CASE WHEN valid_until > $1 THEN $2 ELSE $3 END, "
            "order_id = NULL, used_at = NULL, discount = 0 "
            "WHERE order_id = $4 AND status IN ($5, $6)",
            now,
            AVAILABLE,
            EXPIRED,
            order_id,
            HELD,
            USED,
        )

    async def revoke(self, coupon_id: UUID, now: datetime) -> bool:
        changed = await sql.execute(
            "UPDATE coupon SET status = $1, valid_until = $2 WHERE id = $3 AND status = $4",
            EXPIRED,
            now,
            coupon_id,
            AVAILABLE,
        )
        return changed == 1

    async def expire(self, now: datetime, limit: int) -> int:
        return await sql.execute(
            "UPDATE coupon SET status = $1 WHERE id IN (SELECT id FROM coupon WHERE status = $2 "
            f"AND valid_until <= $3 LIMIT {int(limit)}) AND status = $2",
            EXPIRED,
            AVAILABLE,
            now,
        )

    async def claim_expiring(self, before: datetime, now: datetime, limit: int) -> list[Coupon]:
        skip = "" if sql.is_sqlite() else " FOR UPDATE SKIP LOCKED"
        rows = await sql.fetch(
            "UPDATE coupon SET reminded_at = $1 WHERE id IN (SELECT id FROM coupon "
            "WHERE status = $2 AND reminded_at IS NULL AND valid_until > $1 "
            f"AND valid_until <= $3 ORDER BY valid_until LIMIT {int(limit)}{skip}) "
            f"AND reminded_at IS NULL RETURNING {', '.join(COUPON_COLUMNS)}",
            now,
            AVAILABLE,
            before,
        )
        return [_coupon(r) for r in rows]

    async def move_member(self, source: UUID, target: UUID) -> int:
        return await sql.execute(
            "UPDATE coupon SET member_id = $1, slot = NULL WHERE member_id = $2", target, source
        )

    async def add_codes(self, template_id: UUID, hashes: Sequence[str], at: datetime) -> None:
        await sql.insert(
            "coupon_code",
            ("id", "template_id", "code_hash", "created_at"),
            [(new_id(), template_id, h, at) for h in hashes],
        )

    async def redeem_code(self, code_hash: str, member_id: UUID, at: datetime) -> UUID | None:
        rows = await sql.fetch(
            "UPDATE coupon_code SET redeemed_by = $1, redeemed_at = $2 WHERE code_hash = $3 "
            "AND redeemed_at IS NULL RETURNING template_id",
            member_id,
            at,
            code_hash,
        )
        return sql.as_uuid(rows[0]["template_id"]) if rows else None

    async def code_exists(self, code_hash: str) -> bool:
        return bool(await sql.fetch("SELECT 1 FROM coupon_code WHERE code_hash = $1", code_hash))
