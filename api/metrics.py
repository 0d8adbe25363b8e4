"""Prometheus metrics: requests and latency by GraphQL operation name, errors by code."""

from __future__ import annotations

import re

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
MAX_OPERATION_NAMES = 200


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
            "HTTP requests by route and status",
            ["route", "status"],
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
        self._names: set[str] = set()

    def _label(self, name: str | None) -> str:
        """Client-chosen names are bounded so a hostile client cannot explode the series."""
        if not name or not NAME_RE.fullmatch(name):
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

    def job(self, name: str, seconds: float, *, ok: bool) -> None:
        """Job names are the fixed list of infra/jobs.py: bounded."""
        self.job_runs.labels(name, "ok" if ok else "failed").inc()
        self.job_duration.labels(name).observe(seconds)

    def error(self, code: str) -> None:
        self.errors.labels(code[:40]).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)


METRICS = Metrics()
