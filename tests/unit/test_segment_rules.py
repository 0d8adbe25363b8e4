"""The segment rule language (domain/engagement/segment_rules.py): what it reads, the errors it
gives, and that Python and SQL answer every rule alike (SQLite here; the facts table's tests
run it on PostgreSQL)."""

from __future__ import annotations

import re
import sqlite3
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.engagement.segment_rules import (
    All,
    AnyOf,
    Compare,
    HasTag,
    Not,
    Rule,
    RuleError,
    matches,
    parse,
    render,
    tags_named,
    to_sql,
)
from tests.support.segment_rules import (
    COLUMNS,
    FACTS,
    NOW,
    RULES,
    TAGS,
    boundary_members,
    boundary_rules,
    member_facts_row,
)


def test_the_issue_s_example_reads_as_written() -> None:
    rule = parse("last_order_days > 60 AND orders_365 >= 2", FACTS)
    assert rule == All(
        (
            Compare(FACTS["last_order_days"], ">", 60),
            Compare(FACTS["orders_365"], ">=", 2),
        )
    )
    at_risk = {"last_order_at": NOW - timedelta(days=61), "orders_365": 2}
    recent = {"last_order_at": NOW - timedelta(days=60, hours=23), "orders_365": 5}
    assert matches(rule, at_risk, [], NOW)
    assert not matches(rule, recent, [], NOW)  # 60 whole days: not past 60
    assert not matches(rule, {"orders_365": 9}, [], NOW)  # never ordered: no last_order_days


def test_money_is_written_in_yuan_and_kept_in_fen() -> None:
    rule = parse("orders_30 >= 3 and avg_order_value > ¥800", FACTS)
    assert rule == All(
        (Compare(FACTS["orders_30"], ">=", 3), Compare(FACTS["avg_order_value"], ">", 80_000))
    )
    assert parse("spend_365 >= 12.5", FACTS) == Compare(FACTS["spend_365"], ">=", 1_250)
    assert render(parse("spend_365 >= 12.05", FACTS)) == "spend_365 >= ¥12.05"


def test_and_binds_tighter_than_or_and_not_reads_one_condition() -> None:
    rule = parse("TAG 'vip' OR NOT tier = 'gold' AND orders_90 > 1", FACTS)
    assert rule == AnyOf(
        (
            HasTag("vip"),
            All((Not(Compare(FACTS["tier"], "=", "GOLD")), Compare(FACTS["orders_90"], ">", 1))),
        )
    )
    assert tags_named(rule) == {"vip"}
    assert render(rule) == "TAG 'vip' OR NOT tier = 'GOLD' AND orders_90 > 1"


@pytest.mark.parametrize(
    ("rule", "message", "position"),
    [
        ("", "The rule is empty", 1),
        ("last_order_dayz > 60", "Unknown fact 'last_order_dayz'. Did you mean last_order_da", 1),
        ("orders_365 >=", "orders_365 compares with a whole number", 14),
        ("orders_365 >= 2.5", "orders_365 compares with a whole number", 15),
        ("orders_365 >= ¥2", "orders_365 is not money: drop the ¥", 15),
        ("spend_30 > 1.234", "spend_30: at most two decimals (fen)", 12),
        ("tier = 'PLATINUM'", "tier is one of 'MEMBER', 'SILVER', 'GOLD', 'DIAMOND'", 8),
        ("tier > 'GOLD'", "tier compares with = or != only", 6),
        ("r_score >= 6", "r_score is at most 5", 12),
        ("(orders_30 > 1", "Expected ')', found the end of the rule", 15),
        ("orders_30 > 1 orders_90 > 1", "Expected AND, OR or the end of the rule", 15),
        ("TAG vip", "TAG takes a quoted tag name", 5),
        ("orders_30 > 1 AND", "Expected a fact, TAG, NOT or '(', found the end", 18),
        ("orders_30 ~ 1", "Unexpected '~'", 11),
        ("marketing_sms = yes", "marketing_sms is TRUE or FALSE", 17),
        ("tier NOT ('GOLD')", "Expected IN after NOT, found '('", 10),
        ("TAG ''", "Quoted text is 1-64 printable characters", 5),
        ("NOT " * 11 + "orders_30 > 1", "A rule nests at most 10 deep", 41),
        (" OR ".join(["orders_30 > 1"] * 51), "A rule has at most 50 conditions", 851),
        ("orders_30 > 1 " * 200, "A rule is at most 2000 characters", 2001),
    ],
)
def test_a_wrong_rule_says_what_and_where(rule: str, message: str, position: int) -> None:
    with pytest.raises(RuleError) as refused:
        parse(rule, FACTS)
    assert message in refused.value.message
    assert refused.value.position == position


@given(RULES)
@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
def test_a_rule_reads_back_from_what_it_renders(rule: Rule) -> None:
    assert parse(render(rule), FACTS) == rule


def _stamp(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


def _picked(rule: Rule, members: list[dict[str, Any]], tags_of: dict[int, set[str]]) -> set[int]:
    """The members `rule`'s SQL picks from these rows (SQLite, in memory)."""
    db = sqlite3.connect(":memory:")
    db.execute(f"CREATE TABLE member_facts (member_id INTEGER, {', '.join(COLUMNS)})")
    db.execute("CREATE TABLE tag (id INTEGER, name TEXT)")
    db.execute("CREATE TABLE member_tag (member_id INTEGER, tag_id INTEGER)")
    db.executemany("INSERT INTO tag VALUES (?, ?)", list(enumerate(TAGS)))
    for n, row in enumerate(members):
        db.execute(
            f"INSERT INTO member_facts VALUES (?, {', '.join('?' * len(COLUMNS))})",
            [n, *(_stamp(row.get(c)) for c in COLUMNS)],
        )
        for name in tags_of.get(n, ()):
            db.execute("INSERT INTO member_tag VALUES (?, ?)", (n, TAGS.index(name)))
    where, params = to_sql(rule, NOW)
    sqlite_where = re.sub(r"\$(\d+)", r"?\1", where)
    query = f"SELECT member_id FROM member_facts f WHERE {sqlite_where}"
    return {r[0] for r in db.execute(query, [_stamp(p) for p in params])}


@given(
    RULES, st.lists(member_facts_row(), min_size=1, max_size=12), st.lists(st.sampled_from(TAGS))
)
@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow], deadline=None)
def test_sql_and_python_pick_the_same_members(
    rule: Rule, members: list[dict[str, Any]], tagged: list[str]
) -> None:
    tags_of = {
        n: {t for i, t in enumerate(tagged) if i % len(members) == n} for n in range(len(members))
    }
    expected = {n for n, row in enumerate(members) if matches(rule, row, tags_of[n], NOW)}
    assert _picked(rule, members, tags_of) == expected, render(rule)


@pytest.mark.parametrize("op", ["=", "!=", "<", "<=", ">", ">="])
@pytest.mark.parametrize("negated", [False, True])
def test_days_since_agree_at_every_boundary(op: str, negated: bool) -> None:
    """Whole days since the last order, to the second around each boundary, and no order."""
    members = boundary_members()
    for rule in boundary_rules(op, negated):
        expected = {n for n, row in enumerate(members) if matches(rule, row, (), NOW)}
        assert _picked(rule, members, {}) == expected, render(rule)
        assert 0 < len(expected) < len(members)  # the boundary splits them
