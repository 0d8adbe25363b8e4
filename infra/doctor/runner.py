"""Run the checks in one read-only snapshot and report what they found.

On PostgreSQL the checks share one REPEATABLE READ, READ ONLY transaction: they all see the
database as of one instant, so writers committing meanwhile cannot make two checks (or two
halves of one) disagree. On SQLite one read transaction gives the same (WAL snapshot). Each
check runs in a savepoint, so one that fails (a statement timeout) leaves the rest running
in the same snapshot.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from tortoise.transactions import in_transaction

from infra.db import sql
from infra.doctor.check import Check, Options, Row
from infra.doctor.checks import CHECKS, NAMES

DEFAULT_SAMPLE = 20
# PostgreSQL, for the doctor's transaction only: hash aggregates in memory (the default 4MB
# makes the planner walk the ledgers in index order instead: random reads of the whole
# table), and one backend (parallel plans recompute each aggregate in every worker and take
# CPUs from the application).
SESSION = ("work_mem = '64MB'", "max_parallel_workers_per_gather = 0")
DEFAULT_OUTBOX_GRACE = timedelta(hours=1)


class UnknownCheck(ValueError):
    pass


@dataclass(frozen=True)
class CheckResult:
    name: str
    summary: str
    violations: int
    sample: list[str]  # one readable line per sampled row
    rows: list[dict[str, Any]]  # the sampled rows, JSON-ready
    elapsed_ms: float
    error: str | None = None

    @property
    def status(self) -> str:
        if self.error is not None:
            return "error"
        return "violations" if self.violations else "ok"


@dataclass(frozen=True)
class DoctorReport:
    backend: str
    checked_at: datetime
    results: list[CheckResult] = field(default_factory=list)
    elapsed_ms: float = 0.0

    @property
    def violations(self) -> int:
        return sum(r.violations for r in self.results)

    @property
    def exit_code(self) -> int:
        """0 clean, 1 a violation, 2 a check that could not run."""
        if any(r.error is not None for r in self.results):
            return 2
        return 1 if self.violations else 0

    def result(self, name: str) -> CheckResult:
        return next(r for r in self.results if r.name == name)

    def failing(self) -> list[str]:
        return [r.name for r in self.results if r.status != "ok"]

    def text(self) -> str:
        bad = [r for r in self.results if r.status != "ok"]
        lines = [
            f"omnishelf doctor: {len(self.results)} checks on {self.backend}, "
            f"{len(bad) or 'none'} failing ({self.elapsed_ms:.0f} ms)"
        ]
        width = max((len(r.name) for r in self.results), default=0)
        for r in self.results:
            if r.error is not None:
                outcome = "ERROR"
            elif r.violations:
                outcome = f"{r.violations} violation{'s' if r.violations != 1 else ''}"
            else:
                outcome = "OK"
            lines.append(f"  {r.name:<{width}}  {outcome:<16} {r.elapsed_ms:8.1f} ms")
        for r in bad:
            lines.append("")
            if r.error is not None:
                lines.append(f"{r.name}: could not run: {r.error}")
                continue
            lines.append(f"{r.name}: {r.summary}")
            lines.extend(f"  {line}" for line in r.sample)
            if r.violations > len(r.sample):
                lines.append(f"  ... and {r.violations - len(r.sample)} more")
        return "\n".join(lines)

    def as_json(self) -> dict[str, Any]:
        return {
            "ok": self.exit_code == 0,
            "exit_code": self.exit_code,
            "backend": self.backend,
            "checked_at": self.checked_at.isoformat(),
            "elapsed_ms": round(self.elapsed_ms, 1),
            "violations": self.violations,
            "checks": [
                {
                    "name": r.name,
                    "summary": r.summary,
                    "status": r.status,
                    "violations": r.violations,
                    "elapsed_ms": round(r.elapsed_ms, 1),
                    "error": r.error,
                    "sample": [
                        {"message": line, "row": row}
                        for line, row in zip(r.sample, r.rows, strict=True)
                    ],
                }
                for r in self.results
            ],
        }

    def json_text(self) -> str:
        return json.dumps(self.as_json(), indent=2, ensure_ascii=False)


def select_checks(names: Sequence[str] | None) -> list[Check]:
    if not names:
        return list(CHECKS)
    unknown = sorted(set(names) - set(NAMES))
    if unknown:
        raise UnknownCheck(f"unknown check {', '.join(unknown)}; the checks: {', '.join(NAMES)}")
    return [check for check in CHECKS if check.name in set(names)]


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):  # PostgreSQL's SUM of bigint
        return int(value)
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


async def _run_one(check: Check, options: Options) -> CheckResult:
    started = time.perf_counter()
    try:
        async with in_transaction():  # a savepoint: a failed check does not end the snapshot
            fetched = await sql.fetch(check.statement(options), *check.args(options))
    except Exception as error:
        return CheckResult(
            check.name,
            check.summary,
            0,
            [],
            [],
            (time.perf_counter() - started) * 1000,
            f"{type(error).__name__}: {error}".strip(),
        )
    elapsed = (time.perf_counter() - started) * 1000
    rows: list[Row] = [
        {k: _plain(v) for k, v in row.items() if k != "violations"} for row in fetched
    ]
    total = int(fetched[0]["violations"]) if fetched else 0
    return CheckResult(
        check.name,
        check.summary,
        total,
        [check.describe(row) for row in rows],
        [dict(row) for row in rows],
        elapsed,
    )


async def run_checks(
    names: Sequence[str] | None = None,
    *,
    sample: int = DEFAULT_SAMPLE,
    statement_timeout: timedelta | None = None,
    outbox_grace: timedelta = DEFAULT_OUTBOX_GRACE,
    now: datetime | None = None,
) -> DoctorReport:
    """Run the named checks (all by default) on Tortoise's default connection, which the
    caller has initialised (the CLI, a test, the chaos harness). Raises UnknownCheck for a
    name that is not a check; a check that fails to run is reported with its error."""
    checks = select_checks(names)
    if sample < 1:
        raise ValueError("sample is at least 1")
    checked_at = now or datetime.now(UTC)
    started = time.perf_counter()
    results = []
    async with in_transaction() as connection:
        postgres = not sql.is_sqlite()
        options = Options(
            sample=sample,
            outbox_cutoff=checked_at - outbox_grace,
            dialect="postgresql" if postgres else "sqlite",
        )
        if postgres:
            await connection.execute_script(
                "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"
            )
            for setting in SESSION:
                await connection.execute_script(f"SET LOCAL {setting}")
            if statement_timeout is not None:
                milliseconds = max(1, int(statement_timeout.total_seconds() * 1000))
                await connection.execute_script(f"SET LOCAL statement_timeout = {milliseconds}")
        for check in checks:
            results.append(await _run_one(check, options))
    return DoctorReport(
        backend="postgresql" if postgres else "sqlite",
        checked_at=checked_at,
        results=results,
        elapsed_ms=(time.perf_counter() - started) * 1000,
    )
