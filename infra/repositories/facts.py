"""Member facts (engagement): a read model recomputed from the tables of ordering (orders,
refunds), loyalty (points account), members (consent records) and growth (referrals,
group-buy seats) in set-based SQL; it only reads them. One statement serves the events of a
single member and the nightly rebuild's batches: only the members in scope differ."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from domain.engagement.facts_model import Cutoffs, MemberFacts, RebuildCycle
from domain.engagement.facts_ports import MemberFactsRepository
from domain.engagement.rfm import QUINTILES, SegmentRule
from infra.db import sql
from infra.db.models.facts import MemberFactsRow

# Written by a refresh; the RFM columns (r_score, f_score, m_score, rfm_segment) only by the
# nightly scoring.
FACT_COLUMNS = (
    "member_id",
    "first_order_at",
    "last_order_at",
    "orders_30",
    "orders_90",
    "orders_365",
    "spend_30",
    "spend_90",
    "spend_365",
    "avg_order_value",
    "preferred_store_id",
    "preferred_channel",
    "tier",
    "points_balance",
    "birthday",
    "marketing_sms",
    "marketing_wechat",
    "referrals_count",
    "group_buys_count",
    "updated_at",
)
RFM_FIELDS = ("r_score", "f_score", "m_score", "rfm_segment")
REBUILD = "member_facts"  # the one row of `facts_rebuild`

# $1 now, $2..$4 the starts of the 30/90/365-day windows; the scope's values from $5.
_WINDOWS = (("30", "$2"), ("90", "$3"), ("365", "$4"))


def _latest_consent(purpose: str, member: str = "s.member_id") -> str:
    """The member's latest record for `purpose` (false if none): `can_contact`'s rule."""
    return (
        f"COALESCE((SELECT c.granted FROM consent_record c WHERE c.member_id = {member} "
        f"AND c.purpose = '{purpose}' ORDER BY c.recorded_at DESC, c.id DESC LIMIT 1), false)"
    )


def _preferred(column: str) -> str:
    """Per member, the value of `column` with the most orders in 365 days (then the latest)."""
    return (
        f"SELECT member_id, {column} AS value, ROW_NUMBER() OVER (PARTITION BY member_id "
        f"ORDER BY COUNT(*) DESC, MAX(paid_at) DESC, {column}) AS rn "
        f"FROM counted_orders WHERE paid_at >= $4 GROUP BY member_id, {column}"
    )


def counted_orders(source: str) -> str:
    """The CTEs `priced` and `counted_orders`: each order that counts for its member (paid,
    neither cancelled, unclaimed nor refunded in full) with its paid time, store, channel and
    `net` (what stayed paid in money). `source` names the orders as `o`. The rule of
    `facts_model`, in one place (the doctor's `member_facts` check reads the same)."""
    return (
        "priced AS (SELECT o.member_id, o.location_id, o.channel, o.paid_at, "
        "o.total - o.points_discount AS due, "
        "COALESCE((SELECT SUM(p.amount) FROM order_payment p WHERE p.order_id = o.id "
        "AND p.kind = 'REFUND' AND p.status <> 'REFUND_FAILED'), 0) AS refunded "
        f"FROM {source} WHERE o.member_id IS NOT NULL AND o.paid_at IS NOT NULL "
        "AND o.status NOT IN ('CANCELLED', 'UNCLAIMED')), "
        "counted_orders AS (SELECT member_id, location_id, channel, paid_at, "
        "CASE WHEN due > refunded THEN due - refunded ELSE 0 END AS net FROM priced "
        "WHERE refunded = 0 OR refunded < due)"
    )


def refresh_sql(scope: str, materialized: str = "MATERIALIZED ") -> str:
    """Upsert the facts of the active members matching `scope` (a condition on `m`).
    `materialized` (PostgreSQL's; "" on SQLite) computes the preferred store and channel
    once: the planner takes a batch's id range for one row and joins them by nested loop,
    and a CTE inlined there recomputed its window function for every member of the batch."""
    counts = ", ".join(
        f"CAST(SUM(CASE WHEN paid_at >= {p} THEN 1 ELSE 0 END) AS BIGINT) AS orders_{d}, "
        f"CAST(SUM(CASE WHEN paid_at >= {p} THEN net ELSE 0 END) AS BIGINT) AS spend_{d}"
        for d, p in _WINDOWS
    )
    windows = ", ".join(  # as in FACT_COLUMNS: the orders, then the spend
        [f"COALESCE(t.orders_{d}, 0)" for d, _ in _WINDOWS]
        + [f"COALESCE(t.spend_{d}, 0)" for d, _ in _WINDOWS]
    )
    updates = ", ".join(f"{c} = excluded.{c}" for c in FACT_COLUMNS[1:])
    return (
        f"WITH scope AS (SELECT m.id AS member_id, m.birthday FROM member m "
        f"WHERE m.status = 'ACTIVE' AND {scope}), "
        f"{counted_orders('customer_order o JOIN scope ON scope.member_id = o.member_id')}, "
        f"totals AS (SELECT member_id, MIN(paid_at) AS first_at, MAX(paid_at) AS last_at, "
        f"{counts} FROM counted_orders GROUP BY member_id), "
        f"stores AS {materialized}({_preferred('location_id')}), "
        f"channels AS {materialized}({_preferred('channel')}) "
        f"INSERT INTO member_facts ({', '.join(FACT_COLUMNS)}) "
        f"SELECT s.member_id, t.first_at, t.last_at, {windows}, "
        "CASE WHEN COALESCE(t.orders_365, 0) > 0 THEN t.spend_365 / t.orders_365 ELSE 0 END, "
        "ps.value, pc.value, pa.tier, COALESCE(pa.balance, 0), s.birthday, "
        f"{_latest_consent('MARKETING_SMS')}, {_latest_consent('MARKETING_WECHAT')}, "
        "(SELECT COUNT(*) FROM referral r WHERE r.referrer_id = s.member_id "
        "AND r.status = 'REWARDED'), "
        # A seat's order is its member's (merges move orders): found through the orders'
        # (member_id, id) index, as group_buy_seat has none on member_id.
        "(SELECT COUNT(*) FROM customer_order go JOIN group_buy_seat g ON g.order_id = go.id "
        "WHERE go.member_id = s.member_id AND g.status = 'PAID'), $1 "
        "FROM scope s LEFT JOIN totals t ON t.member_id = s.member_id "
        "LEFT JOIN stores ps ON ps.member_id = s.member_id AND ps.rn = 1 "
        "LEFT JOIN channels pc ON pc.member_id = s.member_id AND pc.rn = 1 "
        "LEFT JOIN points_account pa ON pa.member_id = s.member_id "
        # WHERE true: SQLite reads an ON CONFLICT after a join's ON otherwise.
        f"WHERE true ON CONFLICT (member_id) DO UPDATE SET {updates} RETURNING member_id"
    )


def _refresh(scope: str) -> str:
    """`refresh_sql` for the database of the current connection."""
    return refresh_sql(scope, "" if sql.is_sqlite() else "MATERIALIZED ")


def segment_case(rules: Sequence[SegmentRule]) -> str:
    """The segment rules as one CASE (their bounds are the domain's integers)."""
    whens = " ".join(
        f"WHEN r_score BETWEEN {r.r[0]} AND {r.r[1]} AND f_score BETWEEN {r.f[0]} AND {r.f[1]} "
        f"AND m_score BETWEEN {r.m[0]} AND {r.m[1]} THEN '{r.segment.value}'"
        for r in rules
    )
    return f"CASE {whens} END"


def _score(column: str) -> str:
    # quintile_score(below, population): RANK() - 1 members are strictly worse.
    return f"1 + {QUINTILES} * (RANK() OVER (ORDER BY {column}) - 1) / COUNT(*) OVER ()"


def _facts(row: MemberFactsRow) -> MemberFacts:
    return MemberFacts(**{c: getattr(row, c) for c in FACT_COLUMNS + RFM_FIELDS})


def _cutoffs(at: Cutoffs) -> tuple[object, ...]:
    return (at.now, at.d30, at.d90, at.d365)


class TortoiseMemberFactsRepository(MemberFactsRepository):
    async def refresh_members(self, member_ids: Sequence[UUID], at: Cutoffs) -> int:
        ids = list(dict.fromkeys(member_ids))
        if not ids:
            return 0
        marks = sql.placeholders(len(ids), 5)
        await sql.execute(
            f"DELETE FROM member_facts WHERE member_id IN ({sql.placeholders(len(ids))}) "
            "AND member_id NOT IN (SELECT id FROM member WHERE status = 'ACTIVE')",
            *ids,
        )
        rows = await sql.fetch(_refresh(f"m.id IN ({marks})"), *_cutoffs(at), *ids)
        return len(rows)

    async def set_points(self, member_id: UUID, balance: int, tier: str, now: datetime) -> bool:
        changed = await MemberFactsRow.filter(member_id=member_id).update(
            points_balance=balance, tier=tier, updated_at=now
        )
        return bool(changed)

    async def refresh_consents(self, member_id: UUID, now: datetime) -> bool:
        row = "member_facts.member_id"
        changed = await sql.execute(
            f"UPDATE member_facts SET marketing_sms = {_latest_consent('MARKETING_SMS', row)}, "
            f"marketing_wechat = {_latest_consent('MARKETING_WECHAT', row)}, updated_at = $2 "
            "WHERE member_id = $1",
            member_id,
            now,
        )
        return bool(changed)

    async def refresh_of_order(self, order_id: UUID, at: Cutoffs) -> None:
        await sql.fetch(
            _refresh("m.id = (SELECT member_id FROM customer_order WHERE id = $5)"),
            *_cutoffs(at),
            order_id,
        )

    async def member_ids_after(self, after: UUID | None, limit: int) -> list[UUID]:
        keyset = "AND id > $1 " if after is not None else ""
        rows = await sql.fetch(
            f"SELECT id FROM member WHERE status = 'ACTIVE' {keyset}ORDER BY id LIMIT {int(limit)}",
            *([after] if after is not None else []),
        )
        return [sql.as_uuid(r["id"]) for r in rows]

    async def refresh_range(self, first: UUID, last: UUID, at: Cutoffs) -> int:
        rows = await sql.fetch(_refresh("m.id >= $5 AND m.id <= $6"), *_cutoffs(at), first, last)
        return len(rows)

    async def rebuild_cycle(self, lock: bool = False) -> RebuildCycle | None:
        # FOR UPDATE on PostgreSQL; SQLite serialises writers itself.
        clause = " FOR UPDATE" if lock and not sql.is_sqlite() else ""
        rows = await sql.fetch(
            f"SELECT started_at, cursor, finished_at FROM facts_rebuild WHERE name = $1{clause}",
            REBUILD,
        )
        if not rows:
            return None
        row = rows[0]
        return RebuildCycle(
            sql.as_datetime(row["started_at"]),
            sql.as_optional_uuid(row["cursor"]),
            sql.as_optional_datetime(row["finished_at"]),
        )

    async def start_rebuild(self, started_at: datetime, replace: bool = True) -> None:
        conflict = (
            "DO UPDATE SET started_at = excluded.started_at, cursor = NULL, finished_at = NULL"
            if replace
            else "DO NOTHING"
        )
        await sql.execute(
            "INSERT INTO facts_rebuild (name, started_at, cursor, finished_at) "
            f"VALUES ($1, $2, NULL, NULL) ON CONFLICT (name) {conflict}",
            REBUILD,
            started_at,
        )

    async def advance_rebuild(self, cursor: UUID) -> None:
        await sql.update("facts_rebuild", {"cursor": cursor}, "name = $1", REBUILD)

    async def finish_rebuild(self, started_at: datetime, finished_at: datetime) -> bool:
        changed = await sql.update(
            "facts_rebuild",
            {"finished_at": finished_at},
            "name = $1 AND started_at = $2 AND finished_at IS NULL",
            REBUILD,
            started_at,
        )
        return bool(changed)

    async def drop_inactive(self) -> int:
        return await sql.execute(
            "DELETE FROM member_facts WHERE member_id IN "
            "(SELECT id FROM member WHERE status <> 'ACTIVE')"
        )

    async def score_rfm(self, at: Cutoffs, rules: Sequence[SegmentRule]) -> int:
        await sql.execute(
            "UPDATE member_facts SET r_score = NULL, f_score = NULL, m_score = NULL, "
            "rfm_segment = NULL WHERE orders_365 = 0 AND r_score IS NOT NULL"
        )
        scored = await sql.execute(
            "UPDATE member_facts SET r_score = s.r, f_score = s.f, m_score = s.m "
            f"FROM (SELECT member_id, {_score('last_order_at')} AS r, "
            f"{_score('orders_365')} AS f, {_score('spend_365')} AS m "
            "FROM member_facts WHERE orders_365 > 0) AS s "
            "WHERE member_facts.member_id = s.member_id"
        )
        await sql.execute(
            f"UPDATE member_facts SET rfm_segment = {segment_case(rules)} WHERE r_score IS NOT NULL"
        )
        return scored

    async def get_many(self, member_ids: Sequence[UUID]) -> list[MemberFacts]:
        if not member_ids:
            return []
        return [_facts(r) for r in await MemberFactsRow.filter(member_id__in=list(member_ids))]

    async def segment_counts(self) -> dict[str, int]:
        rows = await sql.fetch(
            "SELECT rfm_segment, COUNT(*) AS n FROM member_facts "
            "WHERE rfm_segment IS NOT NULL GROUP BY rfm_segment"
        )
        return {str(r["rfm_segment"]): int(r["n"]) for r in rows}

    async def delete(self, member_id: UUID) -> None:
        await MemberFactsRow.filter(member_id=member_id).delete()

    async def quiet_since(
        self, before: datetime, after: UUID | None, limit: int
    ) -> list[tuple[UUID, datetime]]:
        query = MemberFactsRow.filter(last_order_at__lt=before)
        if after is not None:
            query = query.filter(member_id__gt=after)
        rows = await query.order_by("member_id").limit(limit)
        return [(r.member_id, r.last_order_at) for r in rows if r.last_order_at is not None]

    async def birthdays_on(
        self, days: Sequence[str], after: UUID | None, limit: int
    ) -> list[tuple[UUID, str, UUID | None]]:
        if not days:
            return []
        query = MemberFactsRow.filter(birthday__in=list(days))
        if after is not None:
            query = query.filter(member_id__gt=after)
        rows = await query.order_by("member_id").limit(limit)
        return [(r.member_id, str(r.birthday), r.preferred_store_id) for r in rows]
