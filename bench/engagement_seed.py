"""engagement_scale's world, written in set-based SQL (`INSERT … SELECT … FROM
generate_series`) straight into its fresh database, not through the services (the seed is
not what is measured): STORES stores; N members (a quarter gave a birthday), each with a points
account and marketing consents (WeChat granted by 60 % and withdrawn since by 10 %, SMS granted
by 30 %); ORDERS_PER_MEMBER x N orders over two years at the stores and 3 channels, skewed so a
few members buy often (member = N * u^4, u uniform: about a fifth have 3 orders or more in a
year), 6 % cancelled unpaid, the rest paid with a PAYMENT row, 3 % of all refunded in full and
2 % by half (REFUND rows)."""

from __future__ import annotations

import os
import time
from datetime import datetime
from typing import Any

import asyncpg

from bench.database import dsn

STORES = 5
ORDERS_PER_MEMBER = 5

# $1 members, $2 now. Ids derive from the row number (md5), so orders reach their member
# without a join; random() after setseed() keeps a run's world the same for a given N.
SEED = (
    "SELECT setseed(0.19)",
    "INSERT INTO location (id, code, name, type, address, city, latitude, longitude, timezone, "
    "opening_hours, pickup_enabled, ships_online, status, created_at, updated_at) "
    "SELECT md5('bench-store-' || s)::uuid, 'BENCH-ES-' || s, 'Store ' || s, 'STORE', "
    "'Road ' || s, 'Shanghai', 31.2 + s / 100.0, 121.4 + s / 100.0, 'Asia/Shanghai', "
    f"'{{}}'::jsonb, true, false, 'ACTIVE', now(), now() FROM generate_series(1, {STORES}) s",
    "INSERT INTO member (id, status, display_name, created_channel, created_at, updated_at, "
    "birthday) SELECT md5('bench-member-' || i)::uuid, 'ACTIVE', 'Member ' || i, "
    "CASE WHEN i % 3 = 0 THEN 'POS' ELSE 'MINI_PROGRAM' END, "
    "$2::timestamptz - interval '800 days', $2::timestamptz - interval '800 days', "
    "CASE WHEN i % 4 = 0 "
    "THEN to_char(date '2000-01-01' + i % 366, 'MM-DD') END FROM generate_series(1, $1::int) i",
    "INSERT INTO points_account (id, member_id, balance, held, debt, growth_value, tier) "
    "SELECT md5('bench-points-' || i)::uuid, md5('bench-member-' || i)::uuid, i * 37 % 5000, "
    "0, 0, g, CASE WHEN g >= 500000 THEN 'GOLD' WHEN g >= 100000 THEN 'SILVER' "
    "ELSE 'MEMBER' END "
    "FROM (SELECT i, i::bigint * 7919 % 600000 AS g FROM generate_series(1, $1::int) i) a",
    "INSERT INTO consent_record (id, member_id, purpose, granted, policy_version, channel, "
    "recorded_at) SELECT gen_random_uuid(), md5('bench-member-' || i)::uuid, p, "
    "NOT (p = 'MARKETING_WECHAT' AND i % 10 = 5 AND n = 2), 'v1', 'MINI_PROGRAM', "
    "$2::timestamptz - interval '700 days' + n * interval '100 days' "
    "FROM generate_series(1, $1::int) i "
    "CROSS JOIN (VALUES ('MARKETING_WECHAT', 1), ('MARKETING_WECHAT', 2), ('MARKETING_SMS', 1)) "
    "AS c (p, n) WHERE (p = 'MARKETING_WECHAT' AND i % 10 < 6 AND (n = 1 OR i % 10 = 5)) "
    "OR (p = 'MARKETING_SMS' AND i % 10 < 3)",
    # One order per row: its member (skewed), when (two years back), what became of it.
    "INSERT INTO customer_order (id, number, member_id, channel, fulfilment, location_id, "
    "status, currency, total, note, created_at, updated_at, paid_at, at_risk, reminder_sent) "
    "SELECT md5('bench-order-' || j)::uuid, 'ES' || j, md5('bench-member-' || m)::uuid, "
    "CASE WHEN c < 0.6 THEN 'MINI_PROGRAM' WHEN c < 0.9 THEN 'POS' ELSE 'H5' END, 'PICKUP', "
    f"md5('bench-store-' || CASE WHEN c < 0.7 THEN 1 + m % {STORES} "
    f"ELSE 1 + j % {STORES} END)::uuid, "
    "CASE WHEN fate < 0.06 THEN 'CANCELLED' ELSE 'PICKED_UP' END, 'CNY', "
    "1000 + (j::bigint * 7907) % 40000, CASE WHEN fate >= 0.06 AND fate < 0.09 THEN 'bench:refund' "
    "WHEN fate >= 0.09 AND fate < 0.11 THEN 'bench:half' ELSE '' END, at, at, "
    "CASE WHEN fate >= 0.06 THEN at END, false, false "
    "FROM (SELECT j, 1 + floor($1::int * random() ^ 4)::int AS m, random() AS c, random() AS fate, "
    f"$2::timestamptz - random() * interval '730 days' AS at "
    f"FROM generate_series(1, {ORDERS_PER_MEMBER} * $1::int) j) o",
    "INSERT INTO order_payment (id, order_id, kind, provider, provider_ref, method, amount, "
    "currency, status, created_at, completed_at) SELECT md5('bench-pay-' || number)::uuid, id, "
    "'PAYMENT', 'devpay', 'p' || number, 'devpay', total, 'CNY', 'SUCCEEDED', paid_at, paid_at "
    "FROM customer_order WHERE number LIKE 'ES%' AND paid_at IS NOT NULL",
    "INSERT INTO order_payment (id, order_id, kind, provider, provider_ref, method, amount, "
    "currency, status, created_at, completed_at, refund_of) SELECT gen_random_uuid(), id, "
    "'REFUND', 'devpay', 'r' || number, 'devpay', "
    "CASE WHEN note = 'bench:half' THEN total / 2 ELSE total END, 'CNY', 'REFUNDED', "
    "paid_at + interval '1 day', paid_at + interval '1 day', md5('bench-pay-' || number)::uuid "
    "FROM customer_order WHERE note IN ('bench:refund', 'bench:half')",
    "ANALYZE",
)


def loads() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def _params(statement: str, members: int, now: datetime) -> list[Any]:
    """The parameters a seed statement names (one naming $2 names $1 too)."""
    return [members, now][: 2 if "$2" in statement else 1 if "$1" in statement else 0]


async def seed_engagement(url: str, members: int, now: datetime) -> dict[str, Any]:
    """The world above, on one connection; what it wrote and how long it took."""
    conn = await asyncpg.connect(dsn(url))
    try:
        started = time.perf_counter()
        for statement in SEED:
            await conn.execute(statement, *_params(statement, members, now))
        counts = {
            t: await conn.fetchval(f"SELECT count(*) FROM {t}")
            for t in ("member", "customer_order", "order_payment", "consent_record")
        }
        return {**counts, "seconds": round(time.perf_counter() - started, 1), "load": loads()}
    finally:
        await conn.close()
