"""The load generator: one process per run, spawned by the runner (`python -m bench.loadgen`),
the run's spec as one JSON line on stdin, events and the result as JSON lines on stdout.

    {"event": "ready"}                        connections open, the first operation checked
    {"event": "window", "edge": "start"}      the window is about to open: the runner reads
                                              the CPU counters and answers with a line
    {"event": "window", "edge": "end"}        it has closed: the same
    {"event": "result", ...}                  latencies, throughput, errors, own CPU
    {"event": "failed", "error": "..."}       the first, strictly checked operation failed

Implementations: `http` (the flows of bench.flows over keep-alive HTTP/1.1 to the server),
`raw` (bench.raw, or the raw halves of bench.inproc, on an asyncpg pool in this process),
`domain` (the domain services of bench.inproc in this process). It runs on uvloop and
spends as little CPU per request as it can: on a 2-CPU machine it competes with the server.
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
import time
import traceback
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg

from bench.driver import Client, Op, Recorder, drive
from bench.stats import summary

_SKIP = ("BEGIN", "COMMIT", "ROLLBACK")


class CountingConnection(asyncpg.Connection):  # type: ignore[misc]
    """Counts the statements sent (transaction control left out)."""

    sent = 0

    @staticmethod
    def _count(query: str) -> None:
        if not query.lstrip()[:8].upper().startswith(_SKIP):
            CountingConnection.sent += 1

    async def execute(self, query: str, *args: Any, **kwargs: Any) -> Any:
        self._count(query)
        return await super().execute(query, *args, **kwargs)

    async def fetch(self, query: str, *args: Any, **kwargs: Any) -> Any:
        self._count(query)
        return await super().fetch(query, *args, **kwargs)

    async def fetchrow(self, query: str, *args: Any, **kwargs: Any) -> Any:
        self._count(query)
        return await super().fetchrow(query, *args, **kwargs)

    async def fetchval(self, query: str, *args: Any, **kwargs: Any) -> Any:
        self._count(query)
        return await super().fetchval(query, *args, **kwargs)


class CheckRecorder(Recorder):
    """For the strict first operation: statements per step, as the counters moved."""

    def __init__(self, counter: Any):
        super().__init__()
        self.counter = counter
        self.mark = counter()
        self.statements: dict[str, int] = {}

    def step(self, kind: str, seconds: float) -> None:
        now = self.counter()
        self.statements.setdefault(kind, now - self.mark)
        self.mark = now


def emit(event: str, **fields: Any) -> None:
    sys.stdout.write(json.dumps({"event": event, **fields}) + "\n")
    sys.stdout.flush()


async def _keep_session(connection: asyncpg.Connection) -> None:
    """No reset when a connection goes back to the pool (asyncpg's default costs a round
    trip per release); the baselines change no session state, and infra.db.connection
    configures the application's pool the same way."""


async def _pool(spec: dict[str, Any]) -> asyncpg.Pool:
    size = spec["pool_size"]
    return await asyncpg.create_pool(
        spec["database_url"].replace("postgres://", "postgresql://", 1),
        min_size=min(size, spec["concurrency"]),
        max_size=size,
        connection_class=CountingConnection,
        reset=_keep_session,
    )


async def _runtime(spec: dict[str, Any]) -> Any:
    from bench.database import Secrets, runtime_settings
    from infra.runtime import Runtime

    settings = runtime_settings(spec["database_url"], Secrets(**spec["secrets"]), spec["pool_size"])
    runtime = Runtime(settings, fast_password_hashing=True)
    await runtime.start()
    return runtime


async def run(spec: dict[str, Any]) -> int:
    world = json.loads(Path(spec["world"]).read_text())  # noqa: ASYNC240 (before any load)
    world["secrets"] = spec["secrets"]
    world["wechatpay"] = spec.get("wechatpay")  # the fake WeChat Pay's keys and URL
    world["wechatpay_batch"] = spec.get("batch")  # this run's prepared orders
    scenario, variant, impl = spec["scenario"], spec.get("variant") or "", spec["impl"]
    pool = runtime = None
    resources: list[Any] = []
    try:
        counter = None
        if impl == "http":
            from bench.balance import balance
            from bench.flows import Flows
            from bench.httpclient import Connection

            flows = Flows(world)
            op, check = flows.op(scenario), flows.check_op(scenario)
            url = urlsplit(spec["url"])
            for _ in range(spec["concurrency"]):
                conn = Connection(url.hostname or "127.0.0.1", url.port or 80)
                await conn.reopen()
                resources.append(conn)
            spread = await balance(resources, url.port or 80, spec["server_workers"])
            emit("connections", per_worker=sorted(spread.values()))
        else:
            pool = await _pool(spec)
            if impl == "domain":
                runtime = await _runtime(spec)
            op, check, counter = await _build_inproc(spec, world, scenario, variant, impl, pool,
                                                     runtime)  # fmt: skip

        statements: dict[str, int] = {}
        try:
            statements = await _check(check, resources, counter, spec, impl)
        except Exception as error:
            emit("failed", error=f"{type(error).__name__}: {error}",
                 trace=traceback.format_exc()[-3000:])  # fmt: skip
            return 2
        emit("ready", statements=statements)

        rec = Recorder()
        clients = [
            Client(
                n, random.Random(spec["seed"] * 1000 + n), rec, resources[n] if resources else None
            )
            for n in range(spec["concurrency"])
        ]
        cpu: dict[str, float] = {}

        async def on_window(edge: str) -> None:
            """Tell the runner, and wait until it has read the CPU counters."""
            cpu[edge] = time.process_time()
            emit("window", edge=edge)
            await asyncio.to_thread(sys.stdin.readline)

        seconds = await drive(clients, op, spec["warmup"], spec["seconds"], on_window)
        steps = {kind: summary(values) for kind, values in rec.steps.items()}
        emit(
            "result",
            seconds=seconds,
            ops=len(rec.ops),
            latency=summary(rec.ops),
            request_latency=summary([x for values in rec.steps.values() for x in values]),
            steps=steps,
            requests=sum(s["count"] for s in steps.values()),
            errors=rec.errors,
            warmup_errors=rec.warmup_errors,
            error_steps=dict(rec.error_steps),
            error_samples=rec.samples,
            loadgen_cpu_s=cpu["end"] - cpu["start"],
            statements=statements,
            books=await _books(spec, world, scenario, variant, impl, pool),
        )
        return 0
    finally:
        for conn in resources:
            await conn.close()
        if runtime is not None:
            await runtime.stop()
        if pool is not None:
            await pool.close()


async def _check(
    check: Op, resources: list[Any], counter: Any, spec: dict[str, Any], impl: str
) -> dict[str, int]:
    """The first operation, strictly checked; its statements per step (raw and domain)."""
    if impl == "domain":
        from bench.trace import counting

        await check(Client(-1, random.Random(spec["seed"]), Recorder(), None), True)
        with counting() as handler:
            rec = CheckRecorder(lambda: handler.count)
            await check(Client(-2, random.Random(spec["seed"] + 1), rec, None), True)
            return _per_op(rec, handler.count)
    conn = resources[0] if resources else None
    await check(Client(-1, random.Random(spec["seed"]), Recorder(), conn), True)
    if impl == "http":
        return {}  # the server's statements are counted in process (bench.trace)
    rec = CheckRecorder(counter)  # again, counted: the first run prepared the statements
    await check(Client(-2, random.Random(spec["seed"] + 1), rec, conn), True)
    return _per_op(rec, CountingConnection.sent)


def _per_op(rec: CheckRecorder, now: int) -> dict[str, int]:
    """In-process operations record no steps: their statements are the operation's."""
    if not rec.statements:
        return {"op": now - rec.mark}
    return rec.statements


async def _build_inproc(
    spec: dict[str, Any],
    world: dict[str, Any],
    scenario: str,
    variant: str,
    impl: str,
    pool: asyncpg.Pool,
    runtime: Any,
) -> tuple[Op, Op, Any]:
    from bench import inproc

    counter = lambda: CountingConnection.sent  # noqa: E731
    if scenario == "points_ledger":
        op = inproc.ledger_op(world, variant, impl, runtime, pool)
        return op, op, counter
    if scenario == "reservations":
        await inproc.reset_shelf(pool, world)
        op = inproc.reservation_op(world, variant, impl, runtime, pool)
        return op, op, counter
    if scenario == "flash_sale":
        from bench.flash_sale import flash_op

        op = flash_op(world, impl, runtime, pool)
        return op, op, counter
    if scenario == "group_buy":
        from bench.group_buy import group_op

        op = group_op(world, impl, runtime, pool)
        return op, op, counter
    if scenario == "metrics_year":
        from bench.metrics_year import metrics_op

        op = metrics_op(world, impl, runtime, pool)
        return op, op, counter
    from bench.raw import RawSteps

    steps = RawSteps(world, pool)
    return steps.op(scenario), steps.check_op(scenario), counter


async def _books(
    spec: dict[str, Any],
    world: dict[str, Any],
    scenario: str,
    variant: str,
    impl: str,
    pool: asyncpg.Pool | None,
) -> str | None:
    """After an in-process run: do the books still balance? (None: yes, or not checked.)"""
    if pool is None:
        return None
    from bench import inproc

    if scenario == "points_ledger":
        problem = await inproc.ledger_books(pool, world["ledger_crowds"][f"{variant}/{impl}"])
        return problem or "ok"
    if scenario == "reservations":
        problem = await inproc.shelf_books(pool, world)
        return problem or "ok"
    if scenario == "flash_sale":
        from bench.flash_sale import flash_books

        return await flash_books(pool, world) or "ok"
    if scenario == "group_buy":
        from bench.group_buy import group_books

        return await group_books(pool, world) or "ok"
    return None


def main() -> int:
    spec = json.loads(sys.stdin.readline())
    try:
        import uvloop

        return uvloop.run(run(spec))
    except ImportError:
        return asyncio.run(run(spec))


if __name__ == "__main__":
    raise SystemExit(main())
