"""After the load: let the jobs settle, compare what the clients saw with the database, run
`omnishelf doctor --json`, and print the summary."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from collections import Counter
from typing import Any

import asyncpg
from arq import create_pool
from arq.connections import RedisSettings
from arq.constants import in_progress_key_prefix

from bench.chaos.cluster import Cluster
from bench.chaos.load import KINDS, POKED_JOBS, QUEUE, Ledger
from bench.processes import ROOT

IN_PROGRESS_MS = 310_000  # arq: job_timeout (300 s) + 10 s, the life of an in-progress key
ORPHANED_AFTER_MS = 20_000  # no job here runs that long: its worker was killed
PAID = frozenset({"PAID", "PREPARING", "READY_FOR_PICKUP", "PICKED_UP"})
OUTBOX = "SELECT count(*) FROM outbox_message WHERE status IN ('PENDING', 'SENDING') AND "
DUE_RENEWALS = """SELECT count(*) FROM subscription WHERE (status = 'ACTIVE'
  AND next_date <= (now() AT TIME ZONE timezone)::date + 2)
  OR (status = 'PAST_DUE' AND next_retry_at <= now())"""  # the renewal lead time is 2 days
TILL = """SELECT t.transaction_id, count(*), (SELECT count(*) FROM stock_movement m
  WHERE m.kind = 'SALE_POS' AND m.reference = t.transaction_id) FROM pos_transaction t
  WHERE t.transaction_id = ANY($1) GROUP BY 1"""


# ---------------------------------------------------------------- settling


async def queue_state(pool: Any) -> tuple[int, int, int]:
    """(runnable, running, orphaned) jobs in the arq queue. A job whose worker was SIGKILLed
    keeps its in-progress key until that expires; then arq runs it again."""
    runnable = running = orphaned = 0
    for job_id, score in await pool.zrange(QUEUE, 0, -1, withscores=True):
        ttl = await pool.pttl(in_progress_key_prefix + job_id.decode())
        if ttl > 0 and IN_PROGRESS_MS - ttl > ORPHANED_AFTER_MS:
            orphaned += 1
        elif ttl > 0:
            running += 1
        elif score <= time.time() * 1000:
            runnable += 1
    return runnable, running, orphaned


async def settle(cluster: Cluster, redis_url: str, dsn: str, limit: float) -> dict[str, Any]:
    """All four processes up; then the settling jobs, again and again, until no outbox message
    is due, no renewal is due and nothing waits in the queue (or `limit` seconds pass)."""
    started = time.monotonic()
    await cluster.all_up()
    pool = await create_pool(RedisSettings.from_dsn(redis_url), default_queue_name=QUEUE)
    conn = await asyncpg.connect(dsn)
    try:
        while True:
            for job in [await pool.enqueue_job(name) for name in POKED_JOBS]:
                with contextlib.suppress(Exception):
                    await job.result(timeout=60, poll_delay=0.2)  # type: ignore[union-attr]
            due = await conn.fetchval(OUTBOX + "next_attempt_at <= now()")
            renewals = await conn.fetchval(DUE_RENEWALS)
            runnable, running, orphaned = await queue_state(pool)
            settled = not (due or renewals or runnable or running)
            if settled or time.monotonic() - started > limit:
                break
            await asyncio.sleep(1)
        return {
            "settled": settled,
            "seconds": round(time.monotonic() - started, 1),
            "outbox_due": due,
            "outbox_later": await conn.fetchval(OUTBOX + "next_attempt_at > now()"),
            "renewals_due": renewals,
            "queue_runnable": runnable,
            "queue_running": running,
            "queue_orphaned": orphaned,
        }
    finally:
        await conn.close()
        await pool.aclose()


# ---------------------------------------------------------------- the harness's checks


async def _pairs(conn: asyncpg.Connection, sql: str, *args: Any) -> dict[str, Any]:
    """First column (as text) -> the rest (one value, or a tuple)."""
    rows = await conn.fetch(sql, *args)
    return {str(r[0]): r[1] if len(r) == 2 else tuple(r[1:]) for r in rows}


def _differ(what: str, expected: dict[str, Any], found: dict[str, Any]) -> list[str]:
    """A line per entry where the database disagrees with the clients (a frozenset: any of)."""
    wrong = []
    for key, want in expected.items():
        got = found.get(key)
        if got not in want if isinstance(want, frozenset) else got != want:
            shown = "/".join(sorted(want)) if isinstance(want, frozenset) else want
            wrong.append(f"{what} {key}: the clients saw {shown}, the database has {got}")
    return wrong


async def harness_checks(
    conn: asyncpg.Connection, ledger: Ledger
) -> tuple[list[str], dict[str, Any]]:
    """What the clients saw succeed, against the database: (problems, facts). Each order they
    saw exists, is the one its key holds, and is paid or handed over if they saw that; no two
    keys hold one order and every order has a key (renewals too); each till transaction is
    one record with one sale movement per line; each points grant one ledger entry; each merge
    done; each subscription the one its key holds; no renewal left due."""
    orders = await _pairs(conn, "SELECT id, status FROM customer_order")
    keys = await _pairs(
        conn, "SELECT key, result->>'order_id' FROM idempotency_record WHERE scope LIKE $1",
        "%:placeOrder",
    )  # fmt: skip
    statuses = {o: PAID for o in ledger.paid if o in orders}
    statuses |= {o: frozenset({"PICKED_UP"}) for o in ledger.picked_up if o in orders}
    keyed = Counter(keys.values())
    problems = [
        *(f"lost order {o} (key {k})" for k, o in ledger.orders.items() if o not in orders),
        *_differ("order key", ledger.orders, keys),
        *_differ("order", statuses, orders),
        *(f"{n} idempotency keys hold order {o}" for o, n in keyed.items() if n > 1),
        *(f"order {o} has no idempotency key" for o in sorted(set(orders) - set(keyed))),
        *(f"'paid' answered {n} times for order {o}"
          for o, n in ledger.paid_answers.items() if n > 1),
        *_differ("till transaction", {t: (1, n) for t, n in ledger.pos.items()},
                 await _pairs(conn, TILL, list(ledger.pos))),
        *_differ("points grant", ledger.grants, await _pairs(
            conn, "SELECT substr(idempotency_key, 8), member_id::text FROM points_entry "
            "WHERE idempotency_key = ANY($1)", [f"adjust:{k}" for k in ledger.grants])),
        *_differ("merged member", ledger.merges, await _pairs(
            conn, "SELECT id, merged_into_id::text FROM member WHERE id = ANY($1::uuid[])",
            list(ledger.merges))),
        *_differ("subscription key", ledger.subscriptions, await _pairs(
            conn, "SELECT key, result->>'subscription_id' FROM idempotency_record "
            "WHERE scope LIKE $1", "%:createSubscription")),
    ]  # fmt: skip
    if due := await conn.fetchval(DUE_RENEWALS):
        problems.append(f"{due} subscriptions due were never renewed")
    unanswered = set(ledger.order_keys) - set(ledger.orders)
    cycles = "SELECT status, count(*) FROM subscription_cycle GROUP BY 1"
    facts = {
        "orders": len(orders),
        "order_statuses": dict(sorted(Counter(orders.values()).items())),
        "orders_seen_by_clients": len(ledger.orders),
        "orders_placed_unanswered": sum(k in keys for k in unanswered),
        "renewal_orders": sum(k.startswith("subscription:") for k in keys),
        "renewal_cycles": await _pairs(conn, cycles),
        "orders_with_points": await conn.fetchval(
            "SELECT count(*) FROM customer_order WHERE points_redeemed > 0"
        ),
    }
    return problems, facts


# ---------------------------------------------------------------- the doctor


async def run_doctor(env: dict[str, str]) -> dict[str, Any]:
    """`omnishelf doctor --json` on env's DATABASE_URL: exit 0 clean, 1 violations, 2 trouble."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "infra.cli", "doctor", "--json",
        cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), 600)
    if b"invalid choice: 'doctor'" in err:
        return {"status": "missing", "exit": process.returncode, "violations": None, "report": []}
    status = {0: "clean", 1: "violations"}.get(process.returncode or 0, "error")
    try:
        report = json.loads(out)
    except ValueError:
        output = (out + err).decode(errors="replace")[-2000:]
        return {"status": status, "exit": process.returncode, "violations": None, "report": output}
    return {
        "status": status,
        "exit": process.returncode,
        "violations": report.get("violations"),
        "checks": len(report.get("checks", [])),
        "report": [c for c in report.get("checks", []) if c.get("status") != "ok"],  # failing
    }


# ---------------------------------------------------------------- the summary


def table(summary: dict[str, Any]) -> str:
    head = f"{'operation':<18}{'attempted':>10}{'succeeded':>10}{'retried':>9}{'refused':>9}"
    lines = [f"{head}{'failed':>8}  refusals", "-" * (len(head) + 20)]
    for kind in KINDS:
        t = summary["operations"][kind]
        codes = ", ".join(f"{c} {n}" for c, n in sorted(t["codes"].items()))
        lines.append(
            f"{kind:<18}{t['attempted']:>10}{t['succeeded']:>10}{t['retried']:>9}"
            f"{t['user_errors']:>9}{t['failed']:>8}  {codes}"
        )
        lines += [f"    ! {f}" for f in t["failures"]]
    kills, s, checks, doctor = (summary[k] for k in ("kills", "settle", "checks", "doctor"))
    facts = checks["facts"]
    lines += [
        "",
        f"orders: {facts['orders']} in the database {facts['order_statuses']}: "
        f"{facts['orders_seen_by_clients']} seen by clients, {facts['renewal_orders']} renewals, "
        f"{facts['orders_placed_unanswered']} placed but unanswered; "
        f"{facts['orders_with_points']} paid partly with points",
        f"renewal cycles (jobs): {facts['renewal_cycles']}",
        f"killed (SIGKILL): {kills['api']} API + {kills['worker']} worker processes, "
        f"{kills['restarts']} restarts; requests resent after a kill: {summary['dropped']}; "
        f"jobs enqueued by the harness: {summary['jobs_enqueued']}",
        f"settle: {'done' if s['settled'] else 'NOT SETTLED'} in {s['seconds']} s; outbox "
        f"due {s['outbox_due']}, later {s['outbox_later']}; renewals due {s['renewals_due']}; "
        f"arq queue runnable {s['queue_runnable']}, running {s['queue_running']}, "
        f"orphaned by kills {s['queue_orphaned']} (arq reruns them after 310 s)",
        f"errors the processes logged: {sum(summary['logged_errors'].values())}",
        *(f"    ! {n} x {what}" for what, n in summary["logged_errors"].items()),
        f"harness checks: {len(checks['problems'])} problems",
        *(f"    ! {p}" for p in checks["problems"][:20]),
        f"doctor: {doctor['status']}"
        + (f", {doctor['violations']} violations" if doctor["violations"] is not None else ""),
        *(f"    ! {c['name']}: {c['violations']} ({c['summary']})" for c in doctor["report"]
          if isinstance(c, dict)),
        f"RESULT: {'PASS' if summary['ok'] else 'FAIL'}",
    ]  # fmt: skip
    return "\n".join(lines)
