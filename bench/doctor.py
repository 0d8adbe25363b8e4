"""Time `omnishelf doctor` on a production-sized PostgreSQL database.

    python -m bench.doctor --database-url postgres://postgres@127.0.0.1:5432/any \
        [--admin-url postgres://postgres@127.0.0.1:5432/postgres] [--runs 3] [--explain] \
        [--orders 200000] [--members 100000] [--corrupt N] [--keep] [--verbose]

    # with a throwaway server (about 5 minutes to fill on a busy 2-CPU machine):
    scripts/with-services.sh sh -c '.venv/bin/python -m bench.doctor \
        --database-url "$TEST_DATABASE_URL" --admin-url "$PG_ADMIN_URL"'

`--database-url` names the server and credentials; the database in it is not touched. The
benchmark creates `omnishelf_bench_doctor_<pid>` next to it (from `--admin-url`, else
$PG_ADMIN_URL, else the same server's `postgres` database), migrates it to head, fills it
with bulk SQL (no domain code: it would take hours) and drops it at the end (unless --keep).

The default volume (`--orders 200000 --members 100000`):

  catalogue   200 locations x 100 variants = 20,000 stock levels
  inventory   ~1,000,000 stock movements (10 receipts per level; a RESERVE per order line,
              then its COMMIT or RELEASE), 400,000 reservations (7 % of orders still hold)
  orders      200,000 orders (80 % picked up, 5 % delivered, 8 % cancelled or unclaimed,
              7 % open), 400,000 lines, 188,000 successful payments, 4,000 pending ones and
              8,000 refunds, 4,000 pickup codes, 20,000 points holds
  loyalty     100,000 accounts, ~1,040,000 entries, 900,000 lots
  outbox      100,000 messages (97 % SENT, 2 % PENDING, 1 % FAILED)
  renewals    10,000 subscriptions with 5 cycles each

The books are consistent, so every check scans everything and finds nothing (the common
case); `--corrupt N` then breaks N stock levels to time the report of violations too. After
VACUUM ANALYZE the doctor runs `--runs` times through `infra.doctor.run_checks` (one
read-only snapshot, as the CLI does); the table gives each check's fastest and median time.
`--explain` prints each check's plan (EXPLAIN ANALYZE, BUFFERS).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from urllib.parse import urlsplit, urlunsplit

import asyncpg

# Order outcomes by `i % 100`: (upper bound, status, fulfilment, paid, reservation state)
OUTCOMES = (
    (80, "PICKED_UP", "PICKUP", True, "COMMITTED"),
    (85, "DELIVERED", "DELIVERY", True, "COMMITTED"),
    (89, "CANCELLED", "PICKUP", False, "RELEASED"),
    (91, "CANCELLED", "PICKUP", True, "RELEASED"),
    (93, "UNCLAIMED", "PICKUP", True, "RELEASED"),
    (95, "PENDING_PAYMENT", "PICKUP", False, "ACTIVE"),
    (97, "PAID", "PICKUP", True, "ACTIVE"),
    (98, "PREPARING", "PICKUP", True, "ACTIVE"),
    (100, "READY_FOR_PICKUP", "PICKUP", True, "ACTIVE"),
)


def _case(column: int) -> str:
    """CASE over `o.r` (i % 100) picking one column of OUTCOMES."""
    arms = []
    for bound, *values in OUTCOMES:
        value = values[column - 1]
        literal = ("TRUE" if value else "FALSE") if isinstance(value, bool) else f"'{value}'"
        arms.append(f"WHEN r < {bound} THEN {literal}")
    return "CASE " + " ".join(arms) + " END"


def fill_statements(orders: int, members: int, locations: int, variants: int) -> list[str]:
    # A member's orders share `i % 100`, hence their outcome (and their points holds' state).
    assert orders % 100 == 0 and members % 100 == 0 and orders >= members >= orders // 20
    assert variants > 37
    return [
        # ids: one temporary map per kind, so rows can point at each other
        f"CREATE TEMP TABLE loc AS SELECT i, gen_random_uuid() AS id "
        f"FROM generate_series(0, {locations - 1}) i",
        f"CREATE TEMP TABLE var AS SELECT i, gen_random_uuid() AS id, 100 * (1 + i % 50) AS price "
        f"FROM generate_series(0, {variants - 1}) i",
        f"CREATE TEMP TABLE mem AS SELECT i, gen_random_uuid() AS id "
        f"FROM generate_series(0, {members - 1}) i",
        f"""CREATE TEMP TABLE ord AS
            SELECT i, gen_random_uuid() AS id, i % 100 AS r,
                   floor(random() * {locations})::int AS loc,
                   floor(random() * {variants})::int AS v0,
                   i % {members} AS mem,
                   now() - make_interval(mins => {orders} - i) AS at
            FROM generate_series(0, {orders - 1}) i""",
        """ALTER TABLE ord ADD COLUMN status text, ADD COLUMN fulfilment text,
            ADD COLUMN paid boolean, ADD COLUMN rstate text, ADD COLUMN points int""",
        f"""UPDATE ord SET status = {_case(1)}, fulfilment = {_case(2)}, paid = {_case(3)},
            rstate = {_case(4)}, points = CASE WHEN i % 10 = 0 THEN 100 ELSE 0 END""",
        "CREATE TEMP TABLE line AS SELECT o.i, k, gen_random_uuid() AS id, "
        f"(o.v0 + k * 37) % {variants} AS var, 1 + (o.i + k) % 3 AS quantity "
        "FROM ord o CROSS JOIN generate_series(0, 1) k",
        # catalogue
        "INSERT INTO product (id, name, slug, description, status, created_at, updated_at) "
        "VALUES (gen_random_uuid(), 'Bench', 'bench', '', 'ACTIVE', now(), now())",
        "INSERT INTO variant (id, code, name, attributes, price_amount, currency, status, "
        "created_at, updated_at, product_id) SELECT id, 'V-' || i, 'v' || i, '{}', price, "
        "'CNY', 'ACTIVE', now(), now(), (SELECT id FROM product) FROM var",
        "INSERT INTO location (id, code, name, type, address, city, latitude, longitude, "
        "timezone, opening_hours, pickup_enabled, ships_online, status, created_at, updated_at) "
        "SELECT id, 'L-' || i, 'Store ' || i, 'STORE', '1 Bench Rd', 'Shanghai', 31.2, 121.4, "
        "'Asia/Shanghai', '{}', TRUE, TRUE, 'ACTIVE', now(), now() FROM loc",
        # orders, lines, reservations, payments, pickup codes
        "INSERT INTO customer_order (id, number, member_id, channel, fulfilment, location_id, "
        "status, currency, total, note, created_at, updated_at, payment_deadline, paid_at, "
        "at_risk, reminder_sent, points_redeemed, points_discount) "
        "SELECT o.id, 'B' || lpad(o.i::text, 15, '0'), m.id, 'MINI_PROGRAM', o.fulfilment, "
        "l.id, o.status, 'CNY', t.total, '', o.at, o.at, o.at + interval '15 minutes', "
        "CASE WHEN o.paid THEN o.at + interval '1 minute' END, FALSE, FALSE, o.points, o.points "
        "FROM ord o JOIN loc l ON l.i = o.loc JOIN mem m ON m.i = o.mem JOIN ("
        "  SELECT x.i, SUM(v.price * x.quantity) AS total FROM line x JOIN var v ON v.i = x.var "
        "  GROUP BY x.i) t ON t.i = o.i",
        "INSERT INTO order_line (id, order_id, variant_id, product_id, sku, name, unit_price, "
        "quantity) SELECT x.id, o.id, v.id, (SELECT id FROM product), 'V-' || v.i, 'v', "
        "v.price, x.quantity FROM line x JOIN ord o ON o.i = x.i JOIN var v ON v.i = x.var "
        "ORDER BY random()",
        "INSERT INTO stock_reservation (id, owner, location_id, variant_id, quantity, state, "
        "expires_at, created_at) SELECT gen_random_uuid(), 'order:' || o.id, l.id, v.id, "
        "x.quantity, o.rstate, o.at + interval '30 days', o.at "
        "FROM line x JOIN ord o ON o.i = x.i JOIN loc l ON l.i = o.loc JOIN var v ON v.i = x.var "
        "ORDER BY random()",
        "INSERT INTO order_payment (id, order_id, kind, provider, provider_ref, method, amount, "
        "currency, status, created_at, completed_at) SELECT gen_random_uuid(), o.id, 'PAYMENT', "
        "'devpay', 'dp_' || o.i, 'ONLINE', c.total - c.points_discount, 'CNY', "
        "CASE WHEN o.paid THEN 'SUCCEEDED' ELSE 'PENDING' END, o.at, "
        "CASE WHEN o.paid THEN o.at END FROM ord o JOIN customer_order c ON c.id = o.id "
        "WHERE o.paid OR o.status = 'PENDING_PAYMENT'",
        "INSERT INTO order_payment (id, order_id, kind, provider, provider_ref, method, amount, "
        "currency, status, created_at) SELECT gen_random_uuid(), o.id, 'REFUND', 'devpay', "
        "'refund:dp_' || o.i, 'ONLINE', c.total - c.points_discount, 'CNY', 'REFUND_PENDING', "
        "o.at FROM ord o JOIN customer_order c ON c.id = o.id "
        "WHERE o.paid AND o.status IN ('CANCELLED', 'UNCLAIMED')",
        "INSERT INTO pickup_code (id, order_id, location_id, code, deadline) "
        "SELECT gen_random_uuid(), o.id, l.id, lpad((o.i % 1000000)::text, 6, '0'), "
        "o.at + interval '3 days' FROM ord o JOIN loc l ON l.i = o.loc "
        "WHERE o.status = 'READY_FOR_PICKUP'",
        # the stock ledger: receipts, then each reservation's RESERVE and its COMMIT or RELEASE
        "INSERT INTO stock_movement (id, location_id, variant_id, kind, on_hand_delta, "
        "reserved_delta, reason, reference, actor, created_at) SELECT gen_random_uuid(), l.id, "
        "v.id, 'RECEIPT', 1000, 0, 'delivery', '', 'bench', now() - interval '1 year' "
        "FROM loc l CROSS JOIN var v CROSS JOIN generate_series(1, 10) ORDER BY random()",
        "INSERT INTO stock_movement (id, location_id, variant_id, kind, on_hand_delta, "
        "reserved_delta, reason, reference, actor, created_at) SELECT gen_random_uuid(), "
        "location_id, variant_id, 'RESERVE', 0, quantity, 'reserved', owner, 'SYSTEM', "
        "created_at FROM stock_reservation ORDER BY random()",
        "INSERT INTO stock_movement (id, location_id, variant_id, kind, on_hand_delta, "
        "reserved_delta, reason, reference, actor, created_at) SELECT gen_random_uuid(), "
        "location_id, variant_id, CASE state WHEN 'COMMITTED' THEN 'COMMIT' ELSE 'RELEASE' END, "
        "CASE state WHEN 'COMMITTED' THEN -quantity ELSE 0 END, -quantity, state, owner, "
        "'SYSTEM', created_at FROM stock_reservation WHERE state IN ('COMMITTED', 'RELEASED') "
        "ORDER BY random()",
        "INSERT INTO stock_level (id, location_id, variant_id, on_hand, reserved, safety_stock) "
        "SELECT gen_random_uuid(), location_id, variant_id, SUM(on_hand_delta), "
        "SUM(reserved_delta), 0 FROM stock_movement GROUP BY location_id, variant_id",
        # loyalty: 8 earnings, an expiry and an adjustment each; members of orders that
        # redeemed points also hold them (and post, release or reverse them with the order)
        """CREATE TEMP TABLE hs AS SELECT o.mem, MIN(
               CASE WHEN o.status = 'PENDING_PAYMENT' THEN 'OPEN'
                    WHEN o.status = 'CANCELLED' AND NOT o.paid THEN 'RELEASED'
                    WHEN o.status IN ('CANCELLED', 'UNCLAIMED') THEN 'REVERSED'
                    ELSE 'POSTED' END) AS state, COUNT(*) AS n
           FROM ord o WHERE o.points > 0 GROUP BY o.mem""",
        "INSERT INTO points_account (id, member_id, balance, held, debt, growth_value, tier) "
        "SELECT gen_random_uuid(), m.id, "
        "750 - CASE WHEN h.state = 'POSTED' THEN 100 * h.n ELSE 0 END, "
        "CASE WHEN h.state = 'OPEN' THEN 100 * h.n ELSE 0 END, 0, 0, 'MEMBER' "
        "FROM mem m LEFT JOIN hs h ON h.mem = m.i",
        "INSERT INTO points_lot (id, member_id, amount, remaining, held, earned_at, expires_at, "
        "source) SELECT gen_random_uuid(), m.id, CASE WHEN k = 9 THEN 50 ELSE 100 END, "
        "CASE WHEN k = 8 THEN 0 WHEN k <= h.n AND h.state IN ('OPEN', 'POSTED') THEN 0 "
        "WHEN k = 9 THEN 50 ELSE 100 END, "
        "CASE WHEN k <= h.n AND h.state = 'OPEN' THEN 100 ELSE 0 END, "
        "now() - make_interval(days => 30 * k), now() + make_interval(days => 30 * k), 'bench' "
        "FROM mem m LEFT JOIN hs h ON h.mem = m.i CROSS JOIN generate_series(1, 9) k "
        "ORDER BY random()",
        """INSERT INTO points_entry (id, member_id, kind, amount, held_change, balance_after,
               held_after, source, actor, reason, idempotency_key, created_at)
           SELECT gen_random_uuid(), m.id, e.kind, e.amount, e.held_change, 0, 0, 'bench',
                  'SYSTEM', '', 'bench:' || e.n, now()
           FROM mem m LEFT JOIN hs h ON h.mem = m.i
           CROSS JOIN LATERAL (
               SELECT k AS n, 'EARN' AS kind, 100 AS amount, 0 AS held_change
               FROM generate_series(1, 8) k
               UNION ALL SELECT 9, 'EXPIRE', -100, 0
               UNION ALL SELECT 10, 'ADJUST', 50, 0
               UNION ALL SELECT 10 + k, 'HOLD', 0, 100 FROM generate_series(1, h.n) k
                   WHERE h.state IS NOT NULL
               UNION ALL SELECT 20 + k, 'REDEEM', -100, -100 FROM generate_series(1, h.n) k
                   WHERE h.state IN ('POSTED', 'REVERSED')
               UNION ALL SELECT 20 + k, 'RELEASE', 0, -100 FROM generate_series(1, h.n) k
                   WHERE h.state = 'RELEASED'
               UNION ALL SELECT 30 + k, 'REVERSE', 100, 0 FROM generate_series(1, h.n) k
                   WHERE h.state = 'REVERSED'
           ) e ORDER BY random()""",
        "INSERT INTO points_hold (id, member_id, owner, amount, state, allocations, created_at) "
        "SELECT gen_random_uuid(), m.id, 'order:' || o.id, 100, h.state, '{}', o.at "
        "FROM ord o JOIN mem m ON m.i = o.mem JOIN hs h ON h.mem = o.mem WHERE o.points > 0",
        # outbox
        f"""INSERT INTO outbox_message (id, kind, member_id, order_id, data, dedupe_key, status,
               attempts, next_attempt_at, last_error, created_at, sent_at)
           SELECT gen_random_uuid(), 'ORDER_PAID', m.id, o.id, '{{}}', 'order:' || o.id || ':paid',
                  CASE WHEN o.i % 100 < 97 THEN 'SENT' WHEN o.i % 100 < 99 THEN 'PENDING'
                       ELSE 'FAILED' END,
                  1, now() + interval '1 minute',
                  CASE WHEN o.i % 100 = 99 THEN 'gave up' END, o.at,
                  CASE WHEN o.i % 100 < 97 THEN o.at END
           FROM ord o JOIN mem m ON m.i = o.mem WHERE o.i < {min(orders, 100_000)}""",
        # subscriptions: 5 paid cycles each, one order per cycle
        f"""CREATE TEMP TABLE sub AS SELECT i, gen_random_uuid() AS id
            FROM generate_series(0, {orders // 20 - 1}) i""",
        "INSERT INTO subscription (id, member_id, plan_id, lines, interval_unit, interval_count, "
        "anchor_date, next_date, cycles_done, sequence, status, pickup_location_id, "
        "payment_agreement, timezone, created_at, updated_at, failed_attempts) "
        "SELECT s.id, m.id, gen_random_uuid(), '[]', 'WEEK', 1, current_date, "
        "current_date + 35, 5, 5, 'ACTIVE', NULL, 'agreement', 'Asia/Shanghai', now(), now(), 0 "
        "FROM sub s JOIN mem m ON m.i = s.i",
        "INSERT INTO subscription_cycle (id, subscription_id, number, scheduled_date, status, "
        "order_id, attempts, note, created_at, updated_at) SELECT gen_random_uuid(), s.id, k, "
        "current_date + 7 * k, 'PAID', o.id, 1, '', now(), now() FROM sub s "
        "CROSS JOIN generate_series(1, 5) k JOIN ord o ON o.i = s.i * 5 + k - 1",
    ]


CORRUPT = (
    "UPDATE stock_level SET on_hand = on_hand + 1 WHERE id IN "
    "(SELECT id FROM stock_level ORDER BY id LIMIT {n})"
)
TABLES = (
    "stock_level",
    "stock_movement",
    "stock_reservation",
    "customer_order",
    "order_line",
    "order_payment",
    "pickup_code",
    "points_account",
    "points_entry",
    "points_lot",
    "points_hold",
    "outbox_message",
    "subscription_cycle",
)


def _dsn(url: str) -> str:
    return url.replace("postgres://", "postgresql://", 1)


def _with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


async def _admin(admin_url: str, statement: str) -> None:
    conn = await asyncpg.connect(_dsn(admin_url))
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


async def fill(url: str, args: argparse.Namespace) -> dict[str, int]:
    conn = await asyncpg.connect(_dsn(url))
    try:
        for statement in fill_statements(args.orders, args.members, args.locations, args.variants):
            started = time.perf_counter()
            await conn.execute(statement)
            took = time.perf_counter() - started
            if args.verbose:
                print(f"  {took:6.1f} s  {' '.join(statement.split())[:90]}", file=sys.stderr)
        if args.corrupt:
            await conn.execute(CORRUPT.format(n=int(args.corrupt)))
        await conn.execute("VACUUM ANALYZE")
        return {t: int(await conn.fetchval(f"SELECT COUNT(*) FROM {t}")) for t in TABLES}
    finally:
        await conn.close()


async def explain(url: str) -> None:
    from datetime import UTC, datetime, timedelta

    from infra.doctor.check import Options
    from infra.doctor.checks import CHECKS
    from infra.doctor.runner import SESSION

    options = Options(sample=20, outbox_cutoff=datetime.now(UTC) - timedelta(hours=1))
    conn = await asyncpg.connect(_dsn(url))
    try:
        for setting in SESSION:  # as the doctor's own transaction has them
            await conn.execute(f"SET {setting}")
        for check in CHECKS:
            plan = await conn.fetch(
                f"EXPLAIN (ANALYZE, BUFFERS) {check.statement(options)}", *check.args(options)
            )
            print(f"\n--- {check.name}")
            print("\n".join(row[0] for row in plan))
    finally:
        await conn.close()


async def measure(url: str, runs: int) -> list[tuple[str, list[float], int]]:
    from infra.db.connection import start_database, stop_database
    from infra.doctor import NAMES, run_checks
    from infra.settings import Settings

    await start_database(Settings(env="test", database_url=url, db_pool_size=2))
    try:
        times: dict[str, list[float]] = {name: [] for name in NAMES}
        totals: list[float] = []
        violations: dict[str, int] = {}
        for _ in range(runs):
            report = await run_checks()
            totals.append(report.elapsed_ms)
            for result in report.results:
                assert result.error is None, result.error
                times[result.name].append(result.elapsed_ms)
                violations[result.name] = result.violations
    finally:
        await stop_database()
    rows = [(name, times[name], violations[name]) for name in NAMES]
    rows.append(("all (one snapshot)", totals, sum(violations.values())))
    return rows


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("TEST_DATABASE_URL"))
    parser.add_argument("--admin-url", default=os.environ.get("PG_ADMIN_URL"))
    parser.add_argument("--orders", type=int, default=200_000)
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--locations", type=int, default=200)
    parser.add_argument("--variants", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--corrupt", type=int, default=0, metavar="N")
    parser.add_argument("--explain", action="store_true")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    if not args.database_url:
        parser.error("--database-url (or TEST_DATABASE_URL) is required")
    admin = args.admin_url or _with_database(args.database_url, "postgres")
    name = f"omnishelf_bench_doctor_{os.getpid()}"
    url = _with_database(args.database_url, name)
    await _admin(admin, f'CREATE DATABASE "{name}"')
    try:
        from infra.db.connection import migrate

        await asyncio.to_thread(migrate, url)
        started = time.perf_counter()
        counts = await fill(url, args)
        print(f"filled in {time.perf_counter() - started:.0f} s:")
        print("  " + ", ".join(f"{t} {n:,}" for t, n in counts.items()))
        if args.explain:
            await explain(url)
        rows = await measure(url, args.runs)
        print(f"\n{args.runs} runs:\n\n| check | violations | fastest ms | median ms |")
        print("|---|---:|---:|---:|")
        for check, times, found in rows:
            print(f"| {check} | {found} | {min(times):.0f} | {statistics.median(times):.0f} |")
    finally:
        if args.keep:
            print(f"kept {url}")
        else:
            await _admin(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    asyncio.run(main())
