"""What /metrics reads from the database at scrape time: the outbox backlog and payments by
state. One statement each; api/metrics.py caches the answer (METRICS_REFRESH_SECONDS)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from domain.outbox.model import OutboxStatus
from infra.db import sql


@dataclass(frozen=True)
class Readings:
    outbox_undelivered: int  # PENDING or SENDING: written, not yet delivered nor given up
    outbox_oldest: datetime | None  # created_at of the oldest of them
    payments: dict[tuple[str, str], int]  # (kind, status) -> rows


async def read_gauges() -> Readings:
    # ix_outbox_due (status, next_attempt_at) holds the undelivered rows: the backlog's size,
    # not the table's. order_payment has no index on status: a scan, hence the cache.
    outbox = await sql.fetch(
        "SELECT COUNT(*) AS n, MIN(created_at) AS oldest FROM outbox_message "
        "WHERE status IN ($1, $2)",
        OutboxStatus.PENDING.value,
        OutboxStatus.SENDING.value,
    )
    payments = await sql.fetch(
        "SELECT kind, status, COUNT(*) AS n FROM order_payment GROUP BY kind, status"
    )
    return Readings(
        outbox_undelivered=int(outbox[0]["n"]),
        outbox_oldest=sql.as_optional_datetime(outbox[0]["oldest"]),
        payments={(str(r["kind"]), str(r["status"])): int(r["n"]) for r in payments},
    )
