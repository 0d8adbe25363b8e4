"""What every check shares: the options of a run, the Check record, and the few SQL
fragments the checks are written with.

Every check is one SQL statement that returns the offending rows (a sample: `LIMIT
{limit}`) and, on each row, `violations`: how many there are in all. The SQL runs on
PostgreSQL and SQLite ($n placeholders through `infra.db.sql`); the status lists come from
the domain's own definitions, so a new status cannot silently fall outside a check.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from domain.inventory.model import MovementKind
from domain.ordering.model import PAID_STATES, OrderStatus

Row = Mapping[str, Any]

# Orders that keep their customer's money, and orders that were paid at some point.
KEEPS_MONEY = PAID_STATES | {OrderStatus.PICKED_UP, OrderStatus.DELIVERED}
WAS_PAID = KEEPS_MONEY | {OrderStatus.UNCLAIMED}


def sql_list(values: Iterable[StrEnum]) -> str:
    """A SQL list of enum values (constants of the code, never input)."""
    return "(" + ", ".join(f"'{v.value}'" for v in sorted(values)) + ")"


def sql_value(value: StrEnum) -> str:
    return f"'{value.value}'"


ORDER_OWNER = "'order:' || CAST(o.id AS TEXT)"  # domain.ordering.model.reservation_owner
LEVEL_CODES = (
    "LEFT JOIN location loc ON loc.id = bad.location_id "
    "LEFT JOIN variant v ON v.id = bad.variant_id"
)


def order_of(owner: str, dialect: str) -> str:
    """The join condition "order `o` is the one `owner` ('order:<id>') names". PostgreSQL
    hashes the orders' owner strings; SQLite has no hash join, so it looks the id up in the
    primary key instead (its ids are text). Both read the same rows."""
    if dialect == "sqlite":
        return f"o.id = substr({owner}, 7)"
    return f"{owner} = {ORDER_OWNER}"


def level_name(row: Row) -> str:
    """`<location code>/<variant code>` of a row with location_id and variant_id."""
    location = row.get("location_code") or row["location_id"]
    return f"{location}/{row.get('variant_code') or row['variant_id']}"


@dataclass(frozen=True)
class Options:
    """What a run may vary: the sample size, the outbox's grace period (`cutoff`: a
    PENDING or SENDING message due before it means delivery has stalled), the dialect."""

    sample: int
    outbox_cutoff: datetime
    dialect: str = "postgresql"  # or "sqlite"


@dataclass(frozen=True)
class Check:
    name: str
    summary: str  # one line: what must hold
    sql: str  # with {limit}, {materialized}, and {r_order} / {h_order} where needed
    describe: Callable[[Row], str]  # one offending row, readably
    args: Callable[[Options], tuple[Any, ...]] = lambda _: ()

    def statement(self, options: Options) -> str:
        return self.sql.format(
            limit=int(options.sample),
            r_order=order_of("r.owner", options.dialect),
            h_order=order_of("h.owner", options.dialect),
            # Evaluate the violations on their own: the sample's ORDER BY ... LIMIT must
            # not talk PostgreSQL into walking a whole table in index order.
            materialized="MATERIALIZED " if options.dialect == "postgresql" else "",
        )


def returned_goods_sql(received: str, prefix: str) -> str:
    """The check that goods taken back (an after-sale's receipt, a till return) are in the
    stock ledger under `<prefix><id>`: RETURN for every unit, ADJUSTMENT out for the damaged
    ones. `received` selects (reference, received, damaged) per taken-back record."""
    returned = sql_value(MovementKind.RETURN)
    written_off = sql_value(MovementKind.ADJUSTMENT)
    return f"""
WITH received AS ({received}
), moved AS (
    SELECT reference,
           SUM(CASE WHEN kind = {returned} THEN on_hand_delta ELSE 0 END) AS returned,
           SUM(CASE WHEN kind = {written_off} THEN -on_hand_delta ELSE 0 END) AS written_off
    FROM stock_movement WHERE reference LIKE '{prefix}%'
    GROUP BY reference
), bad AS {{materialized}}(
    SELECT r.reference, r.received, r.damaged, COALESCE(m.returned, 0) AS returned,
           COALESCE(m.written_off, 0) AS written_off
    FROM received r LEFT JOIN moved m ON m.reference = r.reference
    WHERE r.received <> COALESCE(m.returned, 0) OR r.damaged <> COALESCE(m.written_off, 0)
    UNION ALL
    SELECT m.reference, 0, 0, m.returned, m.written_off
    FROM moved m LEFT JOIN received r ON r.reference = m.reference
    WHERE r.reference IS NULL
)
SELECT bad.*, COUNT(*) OVER () AS violations FROM bad
ORDER BY bad.reference
LIMIT {{limit}}
"""
