"""`python -m bench run`: a fresh database, the seeded world, every request checked once, the
production topology (server with N workers, arq worker, PostgreSQL, Redis), then each
scenario at each concurrency, HTTP then raw (or domain then raw) in alternating order, each
run driven by its own load-generator process. One JSON per scenario in bench/results/."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.catalogue import Scenario
from bench.coupons import QUOTE_SCENARIO, give_back
from bench.coupons import SCENARIO as COUPON_SCENARIO
from bench.database import (
    FreshDatabase,
    Secrets,
    runtime_settings,
    server_version,
    with_database,
)
from bench.prepared import RunOrders
from bench.processes import (
    ROOT,
    Meter,
    Sample,
    machine,
    postmaster_of,
    production,
    production_env,
)
from bench.seed import Size, seed
from bench.wechatpay import SCENARIOS as WECHATPAY_SCENARIOS
from bench.wechatpay import FakeMerchant, fake_merchant

RESULTS = ROOT / "bench" / "results"


class BenchFailure(Exception):
    """A run that cannot give a figure (a request refused before timing, a crash)."""


@dataclass(frozen=True)
class Plan:
    scenarios: list[Scenario]
    concurrency: list[int]
    seconds: float
    warmup: float
    server_workers: int
    pool_size: int
    quick: bool
    admin_url: str
    redis_url: str
    database: str
    keep: bool
    results: Path
    command: str


def _log(message: str) -> None:
    print(f"[bench {datetime.now().strftime('%H:%M:%S')}] {message}", flush=True)


async def _redis_info(url: str) -> dict[str, Any]:
    from redis.asyncio import Redis

    client = Redis.from_url(url)
    try:
        return dict(await client.info("server"))
    finally:
        await client.aclose()


async def _postmaster(url: str) -> int | None:
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgres://", "postgresql://", 1))
    try:
        return postmaster_of(await conn.fetchval("SELECT pg_backend_pid()"))
    finally:
        await conn.close()


async def measure(
    spec: dict[str, Any], meter: Meter, logs: Path, per_request: bool = False
) -> dict[str, Any]:
    """One run in a load-generator process; CPU read at the edges of its window."""
    errors = logs / f"loadgen-{spec['scenario']}-{spec['impl']}-{spec['concurrency']}.err"
    with errors.open("wb") as stderr:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.loadgen",
            cwd=ROOT, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=stderr, limit=1 << 24,
        )  # fmt: skip
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write(json.dumps(spec).encode() + b"\n")
    await process.stdin.drain()
    meter.pids["loadgen"] = process.pid
    edges: dict[str, tuple[Sample, float]] = {}
    result: dict[str, Any] | None = None
    failure = None
    spread: list[int] | None = None
    async for line in process.stdout:
        event = json.loads(line)
        if event["event"] == "window":
            edges[event["edge"]] = (meter.sample(), time.perf_counter())
            process.stdin.write(b"go\n")  # the load generator waits for it
            await process.stdin.drain()
        elif event["event"] == "connections":
            spread = event["per_worker"]
        elif event["event"] == "result":
            result = event
        elif event["event"] == "failed":
            failure = event
    process.stdin.close()
    code = await process.wait()
    if failure is not None:
        raise BenchFailure(
            f"{spec['scenario']} ({spec['impl']}): the first request failed before timing:\n"
            f"{failure['error']}\n{failure.get('trace', '')}"
        )
    if result is None or code != 0:
        raise BenchFailure(
            f"the load generator exited {code}: {errors.read_text(errors='replace')[-3000:]}"
        )
    (before, t0), (after, t1) = edges["start"], edges["end"]
    cpu = meter.rates(before, after, t1 - t0)
    count = result["requests"] if per_request else result["ops"]
    rate = count / result["seconds"] if result["seconds"] else 0.0
    return {
        "scenario": spec["scenario"],
        "variant": spec["variant"],
        "impl": spec["impl"],
        "concurrency": spec["concurrency"],
        "seconds": round(result["seconds"], 3),
        "ops": result["ops"],
        "throughput": round(rate, 2),  # per request for per-request scenarios (mixed)
        "requests": result["requests"],
        "requests_per_s": round(result["requests"] / result["seconds"], 2),
        "connections_per_worker": spread,
        "latency": result["request_latency"] if per_request else result["latency"],
        "op_latency": result["latency"],
        "steps": result["steps"],
        "errors": result["errors"],
        "warmup_errors": result["warmup_errors"],
        "error_steps": result["error_steps"],
        "error_samples": result["error_samples"],
        "statements": result["statements"],
        "books": result["books"],
        "cpu": {k: round(v, 3) for k, v in cpu.items()},
        "cpu_ms_per_op": {k: round(v * 1000 / rate, 3) if rate else None for k, v in cpu.items()},
    }


def _spec(plan: Plan, scenario: Scenario, variant: str, impl: str, clients: int) -> dict[str, Any]:
    return {
        "scenario": scenario.name,
        "variant": variant,
        "impl": impl,
        "concurrency": clients,
        "warmup": plan.warmup,
        "seconds": plan.seconds,
        "seed": clients * 100 + len(variant),
        "pool_size": plan.pool_size,
    }


async def run_scenario(
    plan: Plan,
    scenario: Scenario,
    base: dict[str, Any],
    meter: Meter,
    logs: Path,
    statements: dict[str, float],
    orders: RunOrders | None = None,
) -> list[dict[str, Any]]:
    """`orders` prepares the orders of each run of the WeChat Pay scenarios."""
    runs = []
    for variant in scenario.variants:
        for n, clients in enumerate(plan.concurrency):
            impls = scenario.impls if n % 2 == 0 else scenario.impls[::-1]  # who goes first
            level = {}
            for impl in impls:
                spec = {**base, **_spec(plan, scenario, variant, impl, clients)}
                if scenario.name == COUPON_SCENARIO:  # the last run's coupons are this one's
                    await give_back(base["database_url"], base["coupon_template"])
                extra = await orders.before(scenario.name, impl) if orders else {}
                try:
                    record = await measure({**spec, **extra}, meter, logs, scenario.per_request)
                finally:
                    left = await orders.after() if orders else 0
                if extra and orders is not None:
                    record["prepared_unused"] = left
                    orders.saw(scenario.name, impl, record["throughput"])
                if impl == "http":
                    record["statements"] = statements
                level[impl] = record
                label = f"{scenario.name}{'/' + variant if variant else ''} {impl} x{clients}"
                _log(
                    f"{label}: {record['throughput']:.1f} {scenario.unit}/s, p99 "
                    f"{record['latency']['p99_ms']} ms, errors {record['errors']}"
                    + (f" ({record['error_samples'][:1]})" if record["errors"] else "")
                )
            raw = level["raw"]["throughput"]
            for record in level.values():
                record["ratio"] = round(record["throughput"] / raw, 3) if raw else None
            runs += [level[impl] for impl in scenario.impls]
    return runs


def save(
    plan: Plan,
    scenario: Scenario,
    about: dict[str, Any],
    runs: list[dict[str, Any]],
    earlier: dict[str, list[dict[str, Any]]] | None = None,
) -> Path:
    """`earlier`: the runs of this invocation's scenarios so far; those a `versus` target
    compares with are kept in the document, so its ratio is of one run, one machine state."""
    plan.results.mkdir(parents=True, exist_ok=True)
    path = plan.results / f"{scenario.name}.json"
    document = {
        "scenario": scenario.name,
        "title": scenario.title,
        "unit": scenario.unit,
        "command": plan.command,
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {**about, "load_average_after": [round(x, 2) for x in os.getloadavg()]},
        "settings": {
            "concurrency": plan.concurrency,
            "seconds": plan.seconds,
            "warmup": plan.warmup,
            "server_workers": plan.server_workers,
            "pool_size": plan.pool_size,
            "quick": plan.quick,
        },
        "runs": runs,
    }
    versus = {t.versus for t in scenario.targets if t.versus and t.versus in (earlier or {})}
    if versus:
        document["versus"] = {name: (earlier or {})[name] for name in sorted(versus)}
    path.write_text(json.dumps(document, indent=1) + "\n")
    return path


async def execute(plan: Plan) -> int:
    started = time.perf_counter()
    keys = Secrets()
    http = [s for s in plan.scenarios if s.kind == "http"]
    inproc = [s for s in plan.scenarios if s.kind == "inproc"]
    logs = Path(tempfile.mkdtemp(prefix="omnishelf-bench-"))
    _log(f"logs in {logs}")
    async with contextlib.AsyncExitStack() as stack:
        merchant = None
        if any(s.name in WECHATPAY_SCENARIOS for s in http):  # for the whole run
            merchant = await stack.enter_async_context(fake_merchant(logs))
            _log(f"fake WeChat Pay at {merchant.api_base}")
        return await _execute(plan, keys, http, inproc, logs, started, merchant)


async def _execute(
    plan: Plan,
    keys: Secrets,
    http: list[Scenario],
    inproc: list[Scenario],
    logs: Path,
    started: float,
    merchant: FakeMerchant | None,
) -> int:
    from bench.trace import check_and_count
    from infra.runtime import Runtime

    async with FreshDatabase(plan.admin_url, plan.database, keep=plan.keep) as url:
        wechatpay = merchant.config() if merchant else None
        settings = runtime_settings(url, keys, plan.pool_size, wechatpay)
        runtime = Runtime(settings, fast_password_hashing=True)
        await runtime.start()
        try:
            size = Size.quick() if plan.quick else Size()
            world = await seed(
                runtime,
                size,
                ledger=any(s.name == "points_ledger" for s in inproc),
                reservations=any(s.name == "reservations" for s in inproc),
                flash=any(s.name == "flash_sale" for s in inproc),
                group_buy=any(s.name == "group_buy" for s in inproc),
                coupons=any(s.name in (COUPON_SCENARIO, QUOTE_SCENARIO) for s in http),
            )
            if any(s.name == "metrics_year" for s in inproc):
                from bench.metrics_year import seed_metrics_year

                world["metrics_year"] = await seed_metrics_year(url, runtime.clock.now())
            if any(s.name == "flash_sale" for s in inproc):
                from bench.flash_sale import checked_rush

                _log(f"flash-sale rush: {await checked_rush(runtime, url)}")
            _log(
                f"seeded {len(world['stores'])} stores, {len(world['variants'])} variants, "
                f"{len(world['members'])} members in {time.perf_counter() - started:.0f}s"
            )
            world["secrets"] = keys.as_dict()
            batches, orders = {}, None
            if merchant is not None:
                orders = RunOrders(url, world, merchant.keys, plan.warmup, plan.seconds)
                for name in [s.name for s in http if s.name in WECHATPAY_SCENARIOS]:
                    batches[name] = (await orders.before(name, "check", 2))["batch"]
            statements = await check_and_count(runtime, world, [s.name for s in http], batches)
            if orders is not None:
                await orders.after()
            _log("every scenario's requests answered without errors (checked in process)")
        finally:
            await runtime.stop()
        world_file = logs / "world.json"
        world_file.write_text(json.dumps(world))
        redis = await _redis_info(plan.redis_url)
        about = machine(await server_version(url), str(redis.get("redis_version", "?")))
        meter = Meter(trees={"postgres": await _postmaster(url) or -1})
        if redis.get("process_id"):
            meter.pids["redis"] = int(redis["process_id"])
        base = {
            "world": str(world_file),
            "database_url": url,
            "secrets": keys.as_dict(),
            "wechatpay": merchant.spec() if merchant else None,
            "coupon_template": world.get("coupon_crowd", {}).get("template"),
        }
        try:
            if http:
                pay_env = merchant.env() if merchant else None
                env = production_env(url, plan.redis_url, keys, plan.pool_size, pay_env)
                async with production(env, plan.server_workers, logs) as (server_url, srv, wrk):
                    meter.groups.update(server=srv.pgid, worker=wrk.pgid)
                    if merchant is not None:  # its CPU apart from the neighbours'
                        meter.groups["wechatpay"] = merchant.group.pgid
                    _log(f"server {server_url}: {plan.server_workers} workers; arq worker up")
                    earlier: dict[str, list[dict[str, Any]]] = {}
                    for scenario in http:
                        spec = {**base, "url": server_url, "server_workers": plan.server_workers}
                        runs = await run_scenario(
                            plan,
                            scenario,
                            spec,
                            meter,
                            logs,
                            statements.get(scenario.name, {}),
                            orders,
                        )
                        _log(f"wrote {save(plan, scenario, about, runs, earlier)}")
                        earlier[scenario.name] = runs
                meter.groups.clear()
            for scenario in inproc:
                runs = await run_scenario(plan, scenario, base, meter, logs, {})
                _log(f"wrote {save(plan, scenario, about, runs)}")
        finally:
            world_file.unlink(missing_ok=True)  # it holds tokens
    _log(f"done in {time.perf_counter() - started:.0f}s")
    return 0


def bombs(plan: Plan) -> None:
    """What refusing a query bomb costs (bench.bombs), when that module is present."""
    if importlib.util.find_spec("bench.bombs") is None:
        return
    _log("running bench.bombs")
    out = plan.results / "bombs.json"
    database = with_database(plan.admin_url, f"{plan.database}_bombs")
    done = subprocess.run(
        [sys.executable, "-m", "bench.bombs", "--database-url", database,
         "--admin-url", plan.admin_url, "--json-out", str(out)],
        cwd=ROOT, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        _log(f"bench.bombs exited {done.returncode} (its results, if any: {out})")


def command_line() -> str:
    args = " ".join(shlex.quote(a) for a in sys.argv[1:])
    return f"python -m bench {args}".strip()


def scale(plan: Plan, scenario: Scenario) -> int:
    """A scale scenario: bench/<name>.py in its own process, on a fresh database of its own,
    writing its JSON to the results (the report leaves it to the hand-written section)."""
    _log(f"running bench.{scenario.name}")
    plan.results.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [sys.executable, "-m", f"bench.{scenario.name}", "--admin-url", plan.admin_url,
         "--database", f"{plan.database}_{scenario.name}",
         "--json-out", str(plan.results / f"{scenario.name}.json"),
         *(["--quick"] if plan.quick else [])],
        cwd=ROOT, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        _log(f"bench.{scenario.name} exited {done.returncode}")
    return done.returncode


def run(plan: Plan, with_bombs: bool) -> int:
    measured = [s for s in plan.scenarios if s.kind != "scale"]
    code = asyncio.run(execute(plan)) if measured else 0
    for scenario in [s for s in plan.scenarios if s.kind == "scale"]:
        code = scale(plan, scenario) or code
    if with_bombs:
        with contextlib.suppress(Exception):
            bombs(plan)
    return code
