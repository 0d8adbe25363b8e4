"""Engagement at scale (issue 19, "Scale"), in process on PostgreSQL: the nightly member facts
+ RFM rebuild over N members and 5 N orders, a segment of about a fifth of them counted, and
an automation run over every member in bounded memory.

The world (bench/engagement_seed.py): N members with points accounts and consents, 5 N orders
over two years with their payments and refunds, one AUTOMATIC tag (`orders_90 >= 2`), so the
rebuild re-applies a rule.

Measured, each with the load averages at the time:
1. `rebuild_member_facts` without a budget, so one whole cycle (facts in keyset batches, RFM
   scores and segments, automatic tags) next to `raw`: the repository's own statements issued
   through asyncpg on one connection (the same batches, the same RFM updates, the tag as one
   INSERT … SELECT), member_facts emptied before each. `--rebuilds raw,budgeted` times the
   cycle as the job runs it instead: calls with the job's budget of 240 s, back to back,
   until the cycle is finished, each call's time noted (the job's arq timeout is 300 s).
2. The size of segment `orders_365 >= 3` (about a fifth of the members) through the segments
   service (`segment { size }`), COUNT times: median and p99, next to the same COUNT(*) by hand;
   the plan (EXPLAIN ANALYZE) once.
3. `run_automations` with a NO_ORDER_FOR_DAYS win-back (a WeChat message; no quiet hours so the
   hour of the run does not matter) whose quiet spell a tenth of the members with an order are
   in, then one (archived the first) that every member with an order is in: peak Python memory
   (tracemalloc) and time of each run's two phases (`scan_candidates` makes the sends,
   `run_due` acts on them: what `run_automations` calls in turn), and what it did. A run scans
   at most its share of the sweep over the members (`max_batches` batches or `scan_seconds`)
   and acts on at most `max_batches * batch` sends; the rest waits for the next run, so the
   scan phase calls `scan_candidates` until the sweep is over and the act phase `run_due`
   until a call finds nothing due, each call's time noted.

Standalone, on a fresh database of its own (dropped after; `--no-automations`: the rebuild
and the segment only):

    python -m bench.engagement_scale --members 1000000
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import sys
import time
import tracemalloc
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from bench.database import FreshDatabase, Secrets, dsn, runtime_settings
from bench.engagement_seed import loads, seed_engagement
from bench.stats import percentile

SEGMENT_RULE = "orders_365 >= 3"
TAG_RULE = "orders_90 >= 2"
COUNTS = 20
DEFAULT_MEMBERS = 100_000  # `make bench`; the figure is 1,000,000
QUICK_MEMBERS = 10_000  # `make bench` --quick
TENTH = 0.1  # the share of members in the first win-back's quiet spell


def _log(message: str) -> None:
    print(f"[engagement_scale {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _admin() -> Any:
    from domain.identity.model import Principal, PrincipalKind, StaffRole

    return Principal(kind=PrincipalKind.STAFF, id=uuid.uuid4(), role=StaffRole.ADMIN)


async def _timed(step: Callable[[], Awaitable[Any]]) -> tuple[Any, dict[str, Any]]:
    load = loads()
    started = time.perf_counter()
    found = await step()
    seconds = time.perf_counter() - started
    return found, {"seconds": round(seconds, 2), "load_before": load, "load_after": loads()}


async def raw_rebuild(url: str, now: datetime, batch: int, tag_id: uuid.UUID) -> int:
    """The rebuild's statements through asyncpg on one connection: the same keyset batches
    of the repository's refresh, its RFM updates, and the tag's rule as one INSERT … SELECT."""
    from domain.engagement.facts_model import Cutoffs
    from domain.engagement.rfm import SEGMENT_RULES
    from infra.repositories.facts import _score, refresh_sql, segment_case

    at = Cutoffs.at(now)
    refresh = refresh_sql("m.id >= $5 AND m.id <= $6")
    conn = await asyncpg.connect(dsn(url))
    try:
        members, after = 0, uuid.UUID(int=0)
        while True:
            ids = await conn.fetch(
                "SELECT id FROM member WHERE status = 'ACTIVE' AND id > $1 ORDER BY id LIMIT $2",
                after,
                batch,
            )
            if not ids:
                break
            async with conn.transaction():
                rows = await conn.fetch(
                    refresh, at.now, at.d30, at.d90, at.d365, ids[0][0], ids[-1][0]
                )
            members += len(rows)
            after = ids[-1][0]
        async with conn.transaction():
            await conn.execute(
                "UPDATE member_facts SET r_score = s.r, f_score = s.f, m_score = s.m "
                f"FROM (SELECT member_id, {_score('last_order_at')} AS r, "
                f"{_score('orders_365')} AS f, {_score('spend_365')} AS m "
                "FROM member_facts WHERE orders_365 > 0) AS s "
                "WHERE member_facts.member_id = s.member_id"
            )
            await conn.execute(
                f"UPDATE member_facts SET rfm_segment = {segment_case(SEGMENT_RULES)} "
                "WHERE r_score IS NOT NULL"
            )
        async with conn.transaction():
            await conn.execute(
                "INSERT INTO member_tag (id, member_id, tag_id, actor, reason, tagged_at) "
                "SELECT gen_random_uuid(), f.member_id, $1, 'SYSTEM:rule', $2, $3 "
                f"FROM member_facts f WHERE {TAG_RULE} AND NOT EXISTS (SELECT 1 FROM member_tag "
                "mt WHERE mt.member_id = f.member_id AND mt.tag_id = $1)",
                tag_id,
                TAG_RULE,
                now,
            )
        return members
    finally:
        await conn.close()


REBUILDS = ("raw", "domain", "budgeted")


async def rebuilds(
    runtime: Any, url: str, tag_id: uuid.UUID, kinds: tuple[str, ...] = REBUILDS[:2]
) -> dict[str, Any]:
    """Each of `kinds` from empty, in turn (the last leaves the facts the rest reads): raw,
    the domain's whole cycle, and the domain's cycle as the job runs it (`budgeted`)."""
    deps = runtime.member_facts
    conn = await asyncpg.connect(dsn(url))
    try:
        report: dict[str, Any] = {}
        for impl in kinds:
            await conn.execute("TRUNCATE member_facts, member_tag, facts_rebuild")
            runs: list[dict[str, Any]] = []
            members, figures = await _timed(
                functools.partial(raw_rebuild, url, runtime.clock.now(), deps.batch_size, tag_id)
                if impl == "raw"
                else functools.partial(_domain_rebuild, deps, runs if impl == "budgeted" else None)
            )
            rows = await conn.fetchval("SELECT count(*) FROM member_facts")
            tagged = await conn.fetchval("SELECT count(*) FROM member_tag")
            per_second = round(members / figures["seconds"]) if figures["seconds"] else None
            if runs:
                figures["runs"] = runs
                figures["longest_run_seconds"] = max(r["seconds"] for r in runs)
            report[impl] = {
                **figures,
                "members": members,
                "facts_rows": rows,
                "scored": await conn.fetchval(
                    "SELECT count(*) FROM member_facts WHERE rfm_segment IS NOT NULL"
                ),
                "tagged": tagged,
                "members_per_second": per_second,
            }
        domain = report.get("domain") or report.get("budgeted")
        if domain and "raw" in report:
            report["ratio"] = round(domain["seconds"] / report["raw"]["seconds"], 2)
        # The nightly job leaves this to autovacuum; the counts below want today's statistics.
        await conn.execute("ANALYZE member_facts")
        return report
    finally:
        await conn.close()


async def _domain_rebuild(deps: Any, runs: list[dict[str, Any]] | None) -> int:
    """The domain's rebuild: one whole cycle (`runs` None), or calls with the job's budget
    (infra/jobs.py, 240 s) one after another until the cycle is finished, each call's time
    and members appended to `runs` (the job makes them 10 min apart; here back to back)."""
    from domain.engagement.facts import rebuild_member_facts
    from infra.jobs import FACTS_REBUILD_BUDGET

    if runs is None:
        return int((await rebuild_member_facts(deps)).members)
    while True:
        began = time.perf_counter()
        done = await rebuild_member_facts(deps, FACTS_REBUILD_BUDGET)
        runs.append({"seconds": round(time.perf_counter() - began, 1), "members": done.members})
        _log(f"budgeted run {len(runs)}: {runs[-1]}, cycle finished: {done.finished}")
        if done.finished:
            return sum(r["members"] for r in runs)


async def segment_counts(runtime: Any, url: str) -> dict[str, Any]:
    """The segment's size through the service COUNTS times, the same COUNT(*) by hand, and
    the service's statement's plan once."""
    from domain.engagement import segment_rules
    from domain.engagement.segments import facts, sizes
    from infra.repositories.segments import members_sql

    admin = _admin()
    deps = runtime.segments
    where = segment_rules.to_sql(segment_rules.parse(SEGMENT_RULE, facts(deps)), deps.clock.now())
    text, values = members_sql(where, None)
    conn = await asyncpg.connect(dsn(url))
    try:
        plan = await conn.fetch(f"EXPLAIN (ANALYZE, BUFFERS) SELECT COUNT(*) AS n {text}", *values)
        report: dict[str, Any] = {
            "rule": SEGMENT_RULE,
            "plan": [r[0] for r in plan],
            "load_before": loads(),
        }
        kinds: dict[str, Callable[[], Awaitable[int]]] = {
            "domain": lambda: _first(sizes(deps, admin, [SEGMENT_RULE])),
            "raw": lambda: conn.fetchval(f"SELECT COUNT(*) {text}", *values),
        }
        for impl, count in kinds.items():
            took: list[float] = []
            found = set()
            for _ in range(COUNTS):
                started = time.perf_counter()
                found.add(await count())
                took.append(time.perf_counter() - started)
            took.sort()
            report[impl] = {
                "size": found.pop() if len(found) == 1 else sorted(found),
                "median_ms": round(percentile(took, 0.5) * 1000, 1),
                "p99_ms": round(percentile(took, 0.99) * 1000, 1),
            }
        report["load_after"] = loads()
        return report
    finally:
        await conn.close()


async def _first(sizes: Awaitable[list[int]]) -> int:
    return (await sizes)[0]


async def automation_run(
    runtime: Any, url: str, days: int, act_runs: int | None = None
) -> dict[str, Any]:
    """A win-back for members quiet `days` days, run once by the job under tracemalloc, then
    archived (the next one runs alone)."""
    from domain.engagement.automations import change_status, create_automation
    from domain.engagement.automations_model import (
        Action,
        ActionKind,
        AutomationDraft,
        AutomationStatus,
        MessageChannel,
        QuietHours,
        Trigger,
        TriggerKind,
    )
    from domain.engagement.automations_run import run_due
    from domain.engagement.automations_triggers import scan_candidates

    deps, admin = runtime.automations, _admin()
    draft = AutomationDraft(
        name=f"win-back {days}",
        trigger=Trigger(TriggerKind.NO_ORDER_FOR_DAYS, days=days),
        action=Action(ActionKind.SEND_MESSAGE, channel=MessageChannel.WECHAT, text="We miss you"),
        quiet=QuietHours(0, 0),
    )
    automation = await create_automation(deps, admin, draft)
    since = runtime.clock.now() - timedelta(days=days)  # whom the scan finds quiet
    phases: dict[str, Any] = {}
    tracemalloc.start()
    try:  # what run_automations does, a phase at a time: the scan makes sends, run_due acts
        sweeps: list[dict[str, Any]] = []
        made, phases["scan"] = await _timed(
            lambda: _sweep(url, deps, scan_candidates, automation.id, sweeps)
        )
        phases["scan"]["peak_python_mib"] = round(tracemalloc.get_traced_memory()[1] / 2**20, 1)
        phases["scan"]["runs"] = sweeps
        tracemalloc.reset_peak()
        runs: list[dict[str, Any]] = []
        outcomes, phases["act"] = await _timed(lambda: _drain(deps, run_due, runs, act_runs))
        phases["act"]["peak_python_mib"] = round(tracemalloc.get_traced_memory()[1] / 2**20, 1)
        phases["act"]["runs"] = runs
    finally:
        tracemalloc.stop()
    await change_status(deps, admin, automation.id, AutomationStatus.ARCHIVED)
    conn = await asyncpg.connect(dsn(url))
    try:
        sends = await conn.fetchval(
            "SELECT count(*) FROM automation_send WHERE automation_id = $1", automation.id
        )
        quiet = await conn.fetchval(
            "SELECT count(*) FROM member_facts WHERE last_order_at < $1", since
        )
    finally:
        await conn.close()
    return {
        "days": days,
        "quiet_members": quiet,
        "sends_made": made,
        "sends": sends,
        "outcomes": outcomes,
        "seconds": round(phases["scan"]["seconds"] + phases["act"]["seconds"], 2),
        "peak_python_mib": max(phases["scan"]["peak_python_mib"], phases["act"]["peak_python_mib"]),
        "load_before": phases["scan"]["load_before"],
        **phases,
    }


async def _sweep(
    url: str,
    deps: Any,
    scan_candidates: Callable[[Any], Awaitable[int]],
    automation_id: uuid.UUID,
    runs: list[dict[str, Any]],
) -> int:
    """`scan_candidates` as the job calls it, once per run (a run scans at most its share:
    the policy's `max_batches` batches or `scan_seconds`), until the automation's sweep is
    over: each run's time and sends made noted in `runs`; the sends made by all."""
    conn = await asyncpg.connect(dsn(url))
    try:
        while True:
            began = time.perf_counter()
            made = await scan_candidates(deps)
            runs.append({"seconds": round(time.perf_counter() - began, 1), "sends": made})
            _log(f"scan_candidates {len(runs)}: {runs[-1]}")
            cursor = await conn.fetchval(
                "SELECT cursor FROM automation_scan WHERE automation_id = $1", automation_id
            )
            if cursor is None:
                return sum(r["sends"] for r in runs)
    finally:
        await conn.close()


async def _drain(
    deps: Any,
    run_due: Callable[[Any], Awaitable[Any]],
    runs: list[dict[str, Any]],
    most: int | None = None,
) -> dict[str, int]:
    """`run_due` as the job calls it, once per run, until a run finds nothing due (a run acts
    on at most the policy's `max_batches` x `batch` sends): each run's time and sends noted
    in `runs`; the outcomes of all of them. At most `most` runs when given (the rest stays
    due)."""
    outcomes: dict[str, int] = {}
    while most is None or len(runs) < most:
        began = time.perf_counter()
        tally = await run_due(deps)
        acted = sum(tally.counts.values())
        if not acted:
            return outcomes
        runs.append({"seconds": round(time.perf_counter() - began, 1), "sends": acted})
        _log(f"run_due {len(runs)}: {runs[-1]}")
        for outcome, n in tally.counts.items():
            outcomes[outcome] = outcomes.get(outcome, 0) + n
    return outcomes


async def automations(runtime: Any, url: str, act_runs: int | None = None) -> dict[str, Any]:
    """The first win-back finds about a tenth of the members, the second every member with an
    order (quiet for a day): the peak should not grow with them."""
    conn = await asyncpg.connect(dsn(url))
    try:
        tenth = await conn.fetchval(
            "SELECT percentile_disc($1::float8) WITHIN GROUP (ORDER BY last_order_at) "
            "FROM member_facts WHERE last_order_at IS NOT NULL",
            TENTH,
        )
    finally:
        await conn.close()
    days = max(1, (runtime.clock.now() - tenth).days)
    runs = {}
    for name, quiet in (("tenth", days), ("all", 1)):
        runs[name] = await automation_run(runtime, url, quiet, act_runs)
        _log(f"automation {name}: {runs[name]}")
    return runs


async def run_scenario(
    runtime: Any,
    url: str,
    members: int,
    automations_too: bool = True,
    kinds: tuple[str, ...] = REBUILDS[:2],
    act_runs: int | None = None,
) -> dict[str, Any]:
    """Seed, then the three measures (the third unless not `automations_too`), on a migrated
    PostgreSQL database of its own."""
    from domain.engagement.tags import create_tag
    from domain.engagement.tags_model import TagKind

    report: dict[str, Any] = {"members": members, "cpus": os.cpu_count()}
    report["seeded"] = await seed_engagement(url, members, runtime.clock.now())
    _log(f"seeded: {report['seeded']}")
    tag = await create_tag(
        runtime.member_facts, _admin(), "regular", TagKind.AUTOMATIC, "", TAG_RULE
    )
    report["rebuild"] = await rebuilds(runtime, url, tag.id, kinds)
    _log(f"rebuilt: {report['rebuild']}")
    report["segment"] = await segment_counts(runtime, url)
    _log(f"segment: { {k: v for k, v in report['segment'].items() if k != 'plan'} }")
    report["automations"] = await automations(runtime, url, act_runs) if automations_too else {}
    return report


def table(report: dict[str, Any]) -> str:
    """The figures as a text table."""
    rebuild, segment, runs = report["rebuild"], report["segment"], report["automations"]
    seeded = report["seeded"]
    lines = [
        f"engagement_scale: {report['members']:,} members, {seeded['customer_order']:,} orders "
        f"(seeded in {seeded['seconds']} s)",
        f"{'measure':44} {'domain':>12} {'raw':>12} {'ratio':>7}  load",
    ]
    raw = rebuild.get("raw")
    for kind in ("domain", "budgeted"):
        if kind not in rebuild:
            continue
        mine = rebuild[kind]
        ratio = round(mine["seconds"] / raw["seconds"], 2) if raw else "-"
        label = "rebuild_member_facts (s)" + (", the job's runs" if kind == "budgeted" else "")
        lines += [
            f"{label:44} {mine['seconds']:>12} {raw['seconds'] if raw else '-':>12} "
            f"{ratio:>7}  {mine['load_before']}",
            f"{'  members/s':44} {mine['members_per_second']:>12} "
            f"{raw['members_per_second'] if raw else '-':>12}",
        ]
        if "runs" in mine:
            each = ", ".join(f"{r['seconds']} s ({r['members']:,})" for r in mine["runs"])
            lines.append(f"{'  runs (members refreshed)':44} {each}")
    lines += [
        f"{'segment ' + segment['rule'] + ' size':44} {segment['domain']['size']:>12} "
        f"{segment['raw']['size']:>12}",
        f"{'  median ms':44} {segment['domain']['median_ms']:>12} {segment['raw']['median_ms']:>12}"
        f"          {segment['load_before']}",
        f"{'  p99 ms (of ' + str(COUNTS) + ')':44} {segment['domain']['p99_ms']:>12} "
        f"{segment['raw']['p99_ms']:>12}",
    ]
    for name, run in runs.items():
        label = f"run_automations, {name}: quiet {run['days']} d"
        lines.append(
            f"{label:44} {run['quiet_members']:,} quiet members: scan "
            f"{run['scan']['seconds']} s in {len(run['scan']['runs'])} run(s), "
            f"{run['scan']['peak_python_mib']} MiB peak, "
            f"{run['sends_made']:,} sends made; act {run['act']['seconds']} s "
            f"in {len(run['act']['runs'])} run(s), "
            f"{run['act']['peak_python_mib']} MiB peak, {run['outcomes']}  {run['load_before']}"
        )
    return "\n".join([*lines, "", "segment plan:", *segment["plan"]])


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    from infra.runtime import Runtime

    async with FreshDatabase(args.admin_url, args.database, keep=args.keep) as url:
        runtime = Runtime(runtime_settings(url, Secrets(), 4), fast_password_hashing=True)
        await runtime.start()
        try:
            return await run_scenario(
                runtime,
                url,
                args.members,
                not args.no_automations,
                tuple(args.rebuilds),
                args.act_runs,
            )
        finally:
            await runtime.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.engagement_scale", description=__doc__)
    parser.add_argument("--members", type=int, help=f"default {DEFAULT_MEMBERS:,}")
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_MEMBERS:,} members")
    parser.add_argument("--admin-url", default=os.environ.get("PG_ADMIN_URL"))
    parser.add_argument("--database", default="omnishelf_bench_engagement")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument(
        "--no-automations", action="store_true", help="the rebuild and the segment only"
    )
    parser.add_argument(
        "--rebuilds",
        type=lambda text: [k for k in text.split(",") if k],
        default=list(REBUILDS[:2]),
        help="which rebuilds to time, in turn, each from empty: raw (its statements by hand), "
        "domain (one whole cycle), budgeted (the job's calls of 240 s until the cycle is "
        "finished); default raw,domain",
    )
    parser.add_argument(
        "--act-runs",
        type=int,
        help="call run_due at most this many times per win-back (default: until nothing is "
        "due; each call acts on at most max_batches x batch sends)",
    )
    parser.add_argument("--json-out")
    args = parser.parse_args(argv)
    if not args.admin_url:
        parser.error("needs PostgreSQL: --admin-url or $PG_ADMIN_URL (scripts/with-services.sh)")
    if not args.rebuilds or set(args.rebuilds) - set(REBUILDS):
        parser.error(f"--rebuilds: a comma list of {', '.join(REBUILDS)}")
    args.members = args.members or (QUICK_MEMBERS if args.quick else DEFAULT_MEMBERS)
    report = asyncio.run(main_async(args))
    print(table(report))
    if args.json_out:
        with open(args.json_out, "w") as out:
            out.write(json.dumps({"scenario": "engagement_scale", **report}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
