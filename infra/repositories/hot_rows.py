"""The hot rows of a pickup checkout in one statement on PostgreSQL (domain/ordering/hot_take.py).

Each row is one data-modifying CTE, the same conditional update its own repository makes
(`flash_sale.units_sold` as in `take_units`, the order's coupons AVAILABLE → HELD as in
`hold`, `stock_level.reserved` as in `try_reserve`, the `pickup_counter` upsert as in
`next_pickup_sequence`). Each step's WHERE names the step before
it in an uncorrelated sub-select, which PostgreSQL evaluates (a one-time filter) before it
scans the step's row: the rows are locked one after another in the lock order, a sale sold out
stops the steps after it, and the counter moves (and the order's row gets its pickup number)
only when every sale and line was taken. The statement ends the checkout's writes: what
follows it is the COMMIT."""

from __future__ import annotations

from typing import Any

from domain.ids import new_id
from domain.ordering.model import PICKUP_SERIES, PICKUP_SERIES_SIZE
from domain.ordering.ports import HotRowRepository, HotTake, HotTaken
from infra.db import sql
from infra.repositories.coupons import AVAILABLE, HELD


class TortoiseHotRowRepository(HotRowRepository):
    async def take_together(self, take: HotTake) -> HotTaken | None:
        if sql.is_sqlite():  # one writer at a time: nobody waits between the statements
            return None
        text, values = _statement(take)
        row = (await sql.fetch(text, *values))[0]
        for n, (sale_id, _) in enumerate(take.sales):
            if not row[f"s{n}"]:
                return HotTaken(sold_out=sale_id)
        for n, hold in enumerate(take.coupons):
            if not row[f"h{n}"]:
                return HotTaken(unheld=hold.coupon_id)
        short = tuple(v for n, (v, _) in enumerate(take.stock) if not row[f"k{n}"])
        if short or take.pickup is None:
            return HotTaken(short=short)
        return HotTaken(pickup_sequence=int(row["sequence"]))


def pickup_number_sql(sequence: str) -> str:
    """`domain.ordering.model.pickup_number` of the SQL integer `sequence`, from the same
    constants, so the order's row gets its number in the statement that counts it (the two
    are compared across the series' boundaries in tests/integration/test_hot_take.py)."""
    size, last = PICKUP_SERIES_SIZE, PICKUP_SERIES_SIZE * len(PICKUP_SERIES)
    return (
        f"CASE WHEN {sequence} > {last} THEN '#' || {sequence} "
        f"ELSE substr('{PICKUP_SERIES}', ({sequence} - 1) / {size} + 1, 1) "
        f"|| lpad((({sequence} - 1) % {size} + 1)::text, {len(str(size))}, '0') END"
    )


def _statement(take: HotTake) -> tuple[str, list[Any]]:
    values: list[Any] = []

    def param(value: Any, cast: str) -> str:
        values.append(value)
        return f"${len(values)}::{cast}"

    location = param(take.location_id, "uuid")
    steps: list[str] = []
    for n, (sale_id, units) in enumerate(take.sales):
        after = f" AND EXISTS (SELECT FROM s{n - 1})" if n else ""
        q = param(units, "int")
        steps.append(
            f"s{n} AS (UPDATE flash_sale SET units_sold = units_sold + {q} "
            f"WHERE id = {param(sale_id, 'uuid')} AND units_sold + {q} <= units_offered "
            f"AND cancelled_at IS NULL{after} RETURNING 1)"
        )
    sold = f"EXISTS (SELECT FROM s{len(take.sales) - 1})" if take.sales else "TRUE"
    for n, hold in enumerate(take.coupons):
        after = f"EXISTS (SELECT FROM h{n - 1})" if n else sold
        steps.append(
            f"h{n} AS (UPDATE coupon SET status = '{HELD}', "
            f"order_id = {param(hold.order_id, 'uuid')}, "
            f"discount = {param(hold.discount, 'bigint')} "
            f"WHERE id = {param(hold.coupon_id, 'uuid')} "
            f"AND member_id = {param(hold.member_id, 'uuid')} AND status = '{AVAILABLE}' "
            f"AND valid_from <= {param(hold.at, 'timestamptz')} "
            f"AND valid_until > {param(hold.at, 'timestamptz')} AND {after} RETURNING 1)"
        )
    if take.coupons:
        sold = f"EXISTS (SELECT FROM h{len(take.coupons) - 1})"
    for n, (variant_id, units) in enumerate(take.stock):
        # Every line is tried (the error names each short one), each after the one before.
        after = f" AND (SELECT count(*) FROM k{n - 1}) >= 0" if n else ""
        q = param(units, "int")
        steps.append(
            f"k{n} AS (UPDATE stock_level SET reserved = reserved + {q} "
            f"WHERE location_id = {location} AND variant_id = {param(variant_id, 'uuid')} "
            f"AND on_hand - reserved - safety_stock >= {q} AND {sold}{after} RETURNING 1)"
        )
    stocked = " AND ".join(f"EXISTS (SELECT FROM k{n})" for n in range(len(take.stock)))
    sequence = "NULL::int"
    if take.pickup is not None:
        order_id, day = take.pickup
        steps.append(
            "c AS (INSERT INTO pickup_counter (id, location_id, day, sequence) "
            f"SELECT {param(new_id(), 'uuid')}, {location}, {param(day, 'date')}, 1 "
            f"WHERE {sold} AND {stocked or 'TRUE'} ON CONFLICT (location_id, day) "
            "DO UPDATE SET sequence = pickup_counter.sequence + 1 RETURNING sequence)"
        )
        steps.append(
            f"n AS (UPDATE customer_order SET pickup_number = {pickup_number_sql('c.sequence')} "
            f"FROM c WHERE customer_order.id = {param(order_id, 'uuid')} RETURNING 1)"
        )
        sequence = "(SELECT sequence FROM c)"
    flags = [
        *[f"EXISTS (SELECT FROM s{n}) AS s{n}" for n in range(len(take.sales))],
        *[f"EXISTS (SELECT FROM h{n}) AS h{n}" for n in range(len(take.coupons))],
        *[f"EXISTS (SELECT FROM k{n}) AS k{n}" for n in range(len(take.stock))],
    ]
    select = ", ".join([*flags, f"{sequence} AS sequence"])
    with_ = f"WITH {', '.join(steps)} " if steps else ""
    return f"{with_}SELECT {select}", values
