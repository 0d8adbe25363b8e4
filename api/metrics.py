"""Prometheus metrics, one registry per process: GraphQL operations and latency by operation
name, errors by code, HTTP requests by route template, open WebSockets, payment webhooks by
provider and outcome, background jobs, and what the database says at scrape time (the outbox
backlog, payments and refunds by state). Every label takes values from a bounded set."""

from __future__ import annotations

import hmac
import logging
import re
import time
from collections.abc import Awaitable, Callable, Collection
from datetime import datetime
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

if TYPE_CHECKING:
    from domain.clock import Clock
    from infra.gauges import Readings
    from infra.settings import Settings

NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
MAX_OPERATION_NAMES = 200
WEBHOOK_OUTCOMES = frozenset(
    {
        "paid",
        "duplicate",
        "refunded",
        "ignored",
        "unknown",
        "mismatch",
        "malformed",
        "rejected",
        "refund_completed",
        "refund_failed",
    }
)

log = logging.getLogger("omnishelf.metrics")


def operation_name(name: str | None) -> str | None:
    """A client-chosen operation name as logs and metrics may show it: a GraphQL name of at
    most 64 characters, or None."""
    return name if name and NAME_RE.fullmatch(name) else None


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "omnishelf_graphql_requests",
            "GraphQL operations served",
            ["operation", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "omnishelf_graphql_duration_seconds",
            "GraphQL operation latency",
            ["operation"],
            registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
        )
        self.errors = Counter(
            "omnishelf_graphql_errors",
            "Top-level GraphQL errors by code",
            ["code"],
            registry=self.registry,
        )
        self.http = Counter(
            "omnishelf_http_requests",
            "HTTP requests by route template and status",
            ["route", "status"],
            registry=self.registry,
        )
        self.websockets = Gauge(
            "omnishelf_websockets_open",
            "WebSocket connections accepted and not yet closed",
            registry=self.registry,
        )
        self.webhooks = Counter(
            "omnishelf_payment_webhooks",
            "Payment provider notifications by provider and outcome",
            ["provider", "outcome"],
            registry=self.registry,
        )
        self.job_runs = Counter(
            "omnishelf_job_runs",
            "Background job runs by job and outcome (ok, failed), in this process",
            ["job", "outcome"],
            registry=self.registry,
        )
        self.job_duration = Histogram(
            "omnishelf_job_duration_seconds",
            "Background job run time, failed runs included",
            ["job"],
            registry=self.registry,
            buckets=(0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 150, 300),
        )
        self.outbox_undelivered = Gauge(
            "omnishelf_outbox_undelivered",
            "Outbox messages PENDING or SENDING (read from the database at scrape time)",
            registry=self.registry,
        )
        self.outbox_oldest_age = Gauge(
            "omnishelf_outbox_oldest_undelivered_age_seconds",
            "Age of the oldest undelivered outbox message; 0 when there is none",
            registry=self.registry,
        )
        self.payments = Gauge(
            "omnishelf_payments",
            "Payment and refund records by kind and status (read at scrape time)",
            ["kind", "status"],
            registry=self.registry,
        )
        self.database_read_at = Gauge(
            "omnishelf_metrics_database_read_timestamp_seconds",
            "When the database gauges above were last read (Unix time)",
            registry=self.registry,
        )
        self._names: set[str] = set()
        self._read_at: float | None = None  # monotonic

    def _label(self, name: str | None) -> str:
        """Client-chosen names are bounded so a hostile client cannot explode the series: the
        first MAX_OPERATION_NAMES distinct names a process sees, then `other`."""
        name = operation_name(name)
        if name is None:
            return "anonymous"
        if name not in self._names:
            if len(self._names) >= MAX_OPERATION_NAMES:
                return "other"
            self._names.add(name)
        return name

    def operation(self, name: str | None, seconds: float, status: str) -> None:
        label = self._label(name)
        self.requests.labels(label, status).inc()
        self.latency.labels(label).observe(seconds)

    def error(self, code: str) -> None:
        self.errors.labels(code[:40]).inc()

    def webhook(self, provider: str, known: Collection[str], outcome: str) -> None:
        """`provider` comes from the URL: only configured providers name a series."""
        self.webhooks.labels(
            provider if provider in known else "unknown_provider",
            outcome if outcome in WEBHOOK_OUTCOMES else "other",
        ).inc()

    def job(self, name: str, seconds: float, *, ok: bool) -> None:
        """Job names are the fixed list of infra/jobs.py: bounded."""
        self.job_runs.labels(name, "ok" if ok else "failed").inc()
        self.job_duration.labels(name).observe(seconds)

    def record_readings(self, readings: Readings, now: datetime) -> None:
        self.outbox_undelivered.set(readings.outbox_undelivered)
        oldest = readings.outbox_oldest
        self.outbox_oldest_age.set(max(0.0, (now - oldest).total_seconds()) if oldest else 0)
        self.payments.clear()
        for (kind, status), count in readings.payments.items():
            self.payments.labels(kind, status).set(count)
        self.database_read_at.set(now.timestamp())

    async def refresh(
        self, read: Callable[[], Awaitable[Readings]], now: datetime, max_age: float
    ) -> None:
        """Read the database gauges unless the last reading is younger than `max_age` seconds
        (two scrapes at the same moment may both read). A failed read keeps the previous values
        (their timestamp says how old they are) and is logged."""
        if self._read_at is not None and time.monotonic() - self._read_at < max_age:
            return
        try:
            readings = await read()
        except Exception:
            log.warning("metrics: reading the database failed", exc_info=True)
            return
        self._read_at = time.monotonic()
        self.record_readings(readings, now)

    def render(self) -> bytes:
        return generate_latest(self.registry)


METRICS = Metrics()


def metrics_endpoint(settings: Settings, clock: Clock) -> Callable[[Request], Awaitable[Response]]:
    """GET /metrics: Prometheus text; with METRICS_TOKEN set, only for `Bearer <token>`."""
    from infra.gauges import read_gauges

    token = settings.metrics_token
    expected = f"Bearer {token}".encode() if token else None

    async def metrics(request: Request) -> Response:
        if expected is not None:
            presented = request.headers.get("authorization", "").encode("latin-1", "replace")
            if not hmac.compare_digest(presented, expected):
                return JSONResponse(
                    {"error": "Send METRICS_TOKEN as `Authorization: Bearer <token>`."},
                    status_code=401,
                    headers={"www-authenticate": 'Bearer realm="metrics"'},
                )
        await METRICS.refresh(read_gauges, clock.now(), settings.metrics_refresh_seconds)
        return PlainTextResponse(METRICS.render(), media_type="text/plain; version=0.0.4")

    return metrics
