"""The segment rule language's test world: a catalogue as configured by default, a moment, tag
names, and hypothesis strategies for rules and members' facts rows (tests/unit checks Python
against SQLite with them, tests/integration against PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import strategies as st

from domain.engagement.segment_rules import (
    All,
    Among,
    AnyOf,
    Compare,
    Fact,
    FactKind,
    HasTag,
    Not,
    Rule,
    catalogue,
)

FACTS = catalogue(
    ["MEMBER", "SILVER", "GOLD", "DIAMOND"],
    ["MINI_PROGRAM", "H5", "KIOSK", "POS", "CS"],
    ["champions", "loyal", "potential", "at_risk", "hibernating", "lost"],
)
NOW = datetime(2026, 12, 6, 18, 0, tzinfo=UTC)
TAGS = ["vip", "wecom", "it's"]


COLUMNS = sorted({f.column for f in FACTS.values()})


def _values(fact: Fact) -> st.SearchStrategy[Any]:
    match fact.kind:
        case FactKind.COUNT:
            return st.integers(0, min(fact.high, 12))
        case FactKind.MONEY:
            return st.sampled_from([0, 1, 99, 100, 80_000, 80_001])
        case FactKind.DAYS_SINCE:
            return st.sampled_from([0, 1, 59, 60, 61])  # few, so boundaries meet
        case FactKind.FLAG:
            return st.booleans()
    return st.sampled_from(fact.choices)


@st.composite
def _condition(draw: st.DrawFn) -> Rule:
    if draw(st.integers(0, 6)) == 0:
        return HasTag(draw(st.sampled_from(TAGS)))
    fact = draw(st.sampled_from(list(FACTS.values())))
    if draw(st.booleans()):
        values = draw(st.lists(_values(fact), min_size=1, max_size=3, unique=True))
        return Among(fact, tuple(values), draw(st.booleans()))
    ops = ["=", "!="]
    if fact.kind not in (FactKind.CHOICE, FactKind.FLAG):
        ops += ["<", "<=", ">", ">="]
    return Compare(fact, draw(st.sampled_from(ops)), draw(_values(fact)))


def _flat(kind: type[All] | type[AnyOf], parts: list[Rule]) -> Rule:
    """As the reader builds it: AND inside AND (and OR inside OR) is one list."""
    flat: list[Rule] = []
    for part in parts:
        flat.extend(part.parts if isinstance(part, kind) else [part])
    return kind(tuple(flat))


RULES: st.SearchStrategy[Rule] = st.recursive(
    _condition(),
    lambda inner: st.one_of(
        inner.map(Not),
        st.lists(inner, min_size=2, max_size=3).map(lambda p: _flat(All, p)),
        st.lists(inner, min_size=2, max_size=3).map(lambda p: _flat(AnyOf, p)),
    ),
    max_leaves=8,
)


@st.composite
def member_facts_row(draw: st.DrawFn) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for fact in FACTS.values():
        if draw(st.integers(0, 4)) == 0:
            row[fact.column] = None  # not known (never ordered, no preferred channel…)
            continue
        value = draw(_values(fact))
        if fact.kind is FactKind.DAYS_SINCE:
            # around each whole-day boundary, to the second
            value = NOW - timedelta(days=value, seconds=draw(st.sampled_from([0, 1, 86_399])))
        row[fact.column] = value
    return row


def boundary_members() -> list[dict[str, Any]]:
    """Last orders to the second around each whole-day boundary from 58 to 62 days, and none."""
    members: list[dict[str, Any]] = [{"last_order_at": None}]
    for days in range(58, 63):
        for seconds in (-1, 0, 1, 86_399, 86_400):
            members.append({"last_order_at": NOW - timedelta(days=days, seconds=seconds)})
    return members


def boundary_rules(op: str, negated: bool) -> list[Rule]:
    """`last_order_days op n` (or its NOT) for n around the boundaries of `boundary_members`."""
    compares: list[Rule] = [Compare(FACTS["last_order_days"], op, n) for n in (59, 60, 61)]
    return [Not(c) for c in compares] if negated else compares
