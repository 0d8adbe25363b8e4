"""The segment rule language: a rule over a member's facts and tags, checked when it is
saved, answered in Python (one member) and in SQL (everyone at once) with the same result.

    last_order_days > 60 AND orders_365 >= 2
    orders_30 >= 3 AND avg_order_value > ¥800
    tier IN ('GOLD', 'DIAMOND') OR TAG 'vip'
    NOT (rfm_segment = 'lost' OR orders_365 = 0)

- A comparison is `fact op value` with `=`, `!=` (or `<>`), `<`, `<=`, `>`, `>=`; or
  `fact IN (v, …)` / `fact NOT IN (v, …)`. `TAG 'name'` holds when the member has that tag.
- `AND` binds tighter than `OR`; `NOT` and parentheses as usual. Keywords in any case.
- Counts and scores compare with whole numbers; money in yuan with at most two decimals (an
  optional `¥`), kept in fen; `…_days` facts are whole days since the moment, as of the time
  the rule is answered; choices (tier, channel, RFM segment) with quoted text among the
  allowed values.
- A member without the fact (no order yet: no `last_order_days`; no preferred store) fails
  every comparison with it, and `NOT` turns that into a match as usual: the rules are
  two-valued, in Python and in SQL alike. Counts and money without a value are 0.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import Any

MAX_RULE_LENGTH = 2_000
MAX_CONDITIONS = 50
MAX_DEPTH = 10
MAX_CHOICES = 50
MAX_TEXT = 64
MAX_COUNT = 1_000_000_000
MAX_YUAN = Decimal("100000000")  # ¥100 M in one rule is a typo, not a segment
DAY = timedelta(days=1)


class FactKind(Enum):
    COUNT = "a whole number"
    MONEY = "an amount in yuan (at most two decimals)"
    DAYS_SINCE = "a whole number of days"
    CHOICE = "one of the listed values"
    FLAG = "TRUE or FALSE"


@dataclass(frozen=True)
class Fact:
    name: str  # as written in rules
    kind: FactKind
    column: str  # of member_facts
    choices: tuple[str, ...] = ()
    high: int = MAX_COUNT  # the largest count a rule may name (scores: 5)


def catalogue(
    tiers: Sequence[str], channels: Sequence[str], segments: Sequence[str]
) -> dict[str, Fact]:
    """The facts a rule may name (member_facts' columns), with today's configured tiers,
    channels and RFM segments as stored there (a rule's `'gold'` reads as the stored `GOLD`)."""
    counts = [
        *(f"orders_{n}" for n in (30, 90, 365)),
        "points_balance",
        "referrals_count",
        "group_buys_count",
    ]
    facts = [
        *(Fact(name, FactKind.COUNT, name) for name in counts),
        *(Fact(f"{s}_score", FactKind.COUNT, f"{s}_score", high=5) for s in "rfm"),
        *(Fact(f"spend_{n}", FactKind.MONEY, f"spend_{n}") for n in (30, 90, 365)),
        Fact("avg_order_value", FactKind.MONEY, "avg_order_value"),
        Fact("last_order_days", FactKind.DAYS_SINCE, "last_order_at"),
        Fact("first_order_days", FactKind.DAYS_SINCE, "first_order_at"),
        Fact("tier", FactKind.CHOICE, "tier", tuple(tiers)),
        Fact("preferred_channel", FactKind.CHOICE, "preferred_channel", tuple(channels)),
        Fact("rfm_segment", FactKind.CHOICE, "rfm_segment", tuple(segments)),
        *(Fact(f"marketing_{c}", FactKind.FLAG, f"marketing_{c}") for c in ("sms", "wechat")),
    ]
    return {f.name: f for f in facts}


# ------------------------------------------------------------------------ the rule's tree

Value = int | str | bool


@dataclass(frozen=True)
class Compare:
    fact: Fact
    op: str  # = != < <= > >=
    value: Value  # COUNT: int; MONEY: fen; DAYS_SINCE: days; CHOICE: str; FLAG: bool


@dataclass(frozen=True)
class Among:
    fact: Fact
    values: tuple[Value, ...]
    negated: bool


@dataclass(frozen=True)
class HasTag:
    name: str


@dataclass(frozen=True)
class Not:
    inner: Rule


@dataclass(frozen=True)
class All:
    parts: tuple[Rule, ...]


@dataclass(frozen=True)
class AnyOf:
    parts: tuple[Rule, ...]


Rule = Compare | Among | HasTag | Not | All | AnyOf


class RuleError(ValueError):
    """A rule that cannot be saved: what is wrong, and where (1-based character)."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(f"{message} (at character {position})")
        self.message = message
        self.position = position


# ------------------------------------------------------------------------ reading a rule

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<number>¥?\d+(?:\.\d+)?)
    | (?P<text>'[^']*'|"[^"]*")
    | (?P<op><=|>=|<>|!=|=|<|>)
    | (?P<punct>[(),])
    | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
    )""",
    re.VERBOSE,
)
KEYWORDS = {"AND", "OR", "NOT", "IN", "TAG", "TRUE", "FALSE"}
OPS = {"=": "=", "!=": "!=", "<>": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}


@dataclass(frozen=True)
class _Token:
    kind: str  # number text op punct word keyword end
    text: str
    position: int


def _tokens(rule: str) -> list[_Token]:
    found: list[_Token] = []
    at = 0
    while at < len(rule):
        if rule[at:].strip() == "":
            break
        match = _TOKEN.match(rule, at)
        if match is None or match.lastgroup is None:
            start = at + len(rule[at:]) - len(rule[at:].lstrip())
            raise RuleError(f"Unexpected {rule[start]!r}.", start + 1)
        kind, text = match.lastgroup, match.group(match.lastgroup)
        position = match.start(kind) + 1
        if kind == "word" and text.upper() in KEYWORDS:
            kind, text = "keyword", text.upper()
        found.append(_Token(kind, text, position))
        at = match.end()
    found.append(_Token("end", "", len(rule) + 1))
    return found


def parse(rule: str, facts: Mapping[str, Fact]) -> Rule:
    """The rule's tree, or RuleError saying what is wrong and where."""
    if not rule.strip():
        raise RuleError("The rule is empty: write a condition such as orders_365 >= 2.", 1)
    if len(rule) > MAX_RULE_LENGTH:
        raise RuleError(f"A rule is at most {MAX_RULE_LENGTH} characters.", MAX_RULE_LENGTH + 1)
    reader = _Reader(_tokens(rule), facts)
    tree = reader.any_of(0)
    if reader.peek.kind != "end":
        raise RuleError(
            f"Expected AND, OR or the end of the rule, found {reader.peek.text!r}.",
            reader.peek.position,
        )
    return tree


class _Reader:
    def __init__(self, tokens: list[_Token], facts: Mapping[str, Fact]) -> None:
        self.tokens = tokens
        self.at = 0
        self.facts = facts
        self.conditions = 0

    @property
    def peek(self) -> _Token:
        return self.tokens[self.at]

    def take(self) -> _Token:
        token = self.tokens[self.at]
        self.at += 1
        return token

    def keyword(self, word: str) -> bool:
        if self.peek.kind == "keyword" and self.peek.text == word:
            self.at += 1
            return True
        return False

    def expect(self, text: str, what: str) -> None:
        token = self.take()
        if token.text != text or token.kind not in ("punct", "keyword"):
            found = "the end of the rule" if token.kind == "end" else repr(token.text)
            raise RuleError(f"Expected {what}, found {found}.", token.position)

    def any_of(self, depth: int) -> Rule:
        parts = [self.all_of(depth)]
        while self.keyword("OR"):
            parts.append(self.all_of(depth))
        return parts[0] if len(parts) == 1 else AnyOf(tuple(parts))

    def all_of(self, depth: int) -> Rule:
        parts = [self.negation(depth)]
        while self.keyword("AND"):
            parts.append(self.negation(depth))
        return parts[0] if len(parts) == 1 else All(tuple(parts))

    def negation(self, depth: int) -> Rule:
        start = self.peek
        if self.keyword("NOT"):
            if depth >= MAX_DEPTH:
                raise RuleError(f"A rule nests at most {MAX_DEPTH} deep.", start.position)
            return Not(self.negation(depth + 1))
        return self.atom(depth)

    def atom(self, depth: int) -> Rule:
        token = self.peek
        if token.kind == "punct" and token.text == "(":
            if depth >= MAX_DEPTH:
                raise RuleError(f"A rule nests at most {MAX_DEPTH} deep.", token.position)
            self.take()
            inner = self.any_of(depth + 1)
            self.expect(")", "')'")
            return inner
        self.conditions += 1
        if self.conditions > MAX_CONDITIONS:
            raise RuleError(f"A rule has at most {MAX_CONDITIONS} conditions.", token.position)
        if self.keyword("TAG"):
            name = self.take()
            if name.kind != "text":
                raise RuleError("TAG takes a quoted tag name: TAG 'vip'.", name.position)
            return HasTag(_text(name))
        if token.kind != "word":
            found = "the end of the rule" if token.kind == "end" else repr(token.text)
            raise RuleError(f"Expected a fact, TAG, NOT or '(', found {found}.", token.position)
        self.take()
        fact = self.facts.get(token.text.lower())
        if fact is None:
            raise RuleError(_unknown(token.text, self.facts), token.position)
        if self.keyword("NOT"):
            self.expect("IN", "IN after NOT")
            return self.among(fact, negated=True)
        if self.keyword("IN"):
            return self.among(fact, negated=False)
        op = self.take()
        if op.kind != "op":
            raise RuleError(
                f"Expected a comparison (=, !=, <, <=, >, >=) or IN after {fact.name}.",
                op.position,
            )
        if fact.kind in (FactKind.CHOICE, FactKind.FLAG) and OPS[op.text] not in ("=", "!="):
            raise RuleError(f"{fact.name} compares with = or != only.", op.position)
        return Compare(fact, OPS[op.text], self.value(fact))

    def among(self, fact: Fact, negated: bool) -> Rule:
        self.expect("(", "'(' after IN")
        values = [self.value(fact)]
        while self.peek.kind == "punct" and self.peek.text == ",":
            self.take()
            values.append(self.value(fact))
            if len(values) > MAX_CHOICES:
                raise RuleError(f"IN lists at most {MAX_CHOICES} values.", self.peek.position)
        self.expect(")", "')' or ','")
        return Among(fact, tuple(dict.fromkeys(values)), negated)

    def value(self, fact: Fact) -> Value:
        token = self.take()
        where = token.position
        if fact.kind is FactKind.FLAG:
            if token.kind == "keyword" and token.text in ("TRUE", "FALSE"):
                return token.text == "TRUE"
            raise RuleError(f"{fact.name} is TRUE or FALSE.", where)
        if fact.kind is FactKind.CHOICE:
            if token.kind != "text":
                raise RuleError(f"{fact.name} is one of {_listed(fact.choices)} (quoted).", where)
            text = _text(token)
            chosen = {c.lower(): c for c in fact.choices}.get(text.lower())
            if chosen is None:
                raise RuleError(f"{fact.name} is one of {_listed(fact.choices)}.", where)
            return chosen
        if token.kind != "number":
            raise RuleError(f"{fact.name} compares with {fact.kind.value}.", where)
        digits = token.text
        if digits.startswith("¥"):
            if fact.kind is not FactKind.MONEY:
                raise RuleError(f"{fact.name} is not money: drop the ¥.", where)
            digits = digits[1:]
        if fact.kind is FactKind.MONEY:
            return _fen(digits, fact, where)
        if "." in digits:
            raise RuleError(f"{fact.name} compares with {fact.kind.value}.", where)
        number = int(digits)
        if number > fact.high:
            raise RuleError(f"{fact.name} is at most {fact.high}.", where)
        return number


def _fen(digits: str, fact: Fact, where: int) -> int:
    try:
        yuan = Decimal(digits)
    except InvalidOperation:  # pragma: no cover - the token pattern admits digits only
        raise RuleError(f"{fact.name} compares with {fact.kind.value}.", where) from None
    if yuan.as_tuple().exponent < -2:  # type: ignore[operator]
        raise RuleError(f"{fact.name}: at most two decimals (fen).", where)
    if yuan > MAX_YUAN:
        raise RuleError(f"{fact.name} is at most ¥{MAX_YUAN:,}.", where)
    return int(yuan * 100)


def _text(token: _Token) -> str:
    text = token.text[1:-1]
    if not text or len(text) > MAX_TEXT or any(ord(c) < 32 for c in text):
        raise RuleError(f"Quoted text is 1-{MAX_TEXT} printable characters.", token.position)
    return text


def _listed(choices: Collection[str]) -> str:
    return ", ".join(f"'{c}'" for c in choices) or "(none configured)"


def _unknown(word: str, facts: Mapping[str, Fact]) -> str:
    near = difflib.get_close_matches(word.lower(), list(facts), n=1)
    hint = f" Did you mean {near[0]}?" if near else f" Facts: {', '.join(sorted(facts))}."
    return f"Unknown fact {word!r}.{hint}"


def tags_named(rule: Rule) -> set[str]:
    """The tag names a rule asks about (to check they exist when it is saved)."""
    match rule:
        case HasTag(name=name):
            return {name}
        case Not(inner=inner):
            return tags_named(inner)
        case All(parts=parts) | AnyOf(parts=parts):
            return set().union(*(tags_named(p) for p in parts))
        case _:
            return set()


def render(rule: Rule) -> str:
    """The rule written back in the language (what `parse` reads to the same tree)."""
    match rule:
        case Compare(fact=fact, op=op, value=value):
            return f"{fact.name} {op} {_render_value(fact, value)}"
        case Among(fact=fact, values=values, negated=negated):
            listed = ", ".join(_render_value(fact, v) for v in values)
            return f"{fact.name} {'NOT IN' if negated else 'IN'} ({listed})"
        case HasTag(name=name):
            return f"TAG {_quoted(name)}"
        case Not(inner=inner):
            return f"NOT {_grouped(inner)}"
        case All(parts=parts):
            return " AND ".join(_grouped(p) if isinstance(p, AnyOf) else render(p) for p in parts)
        case AnyOf(parts=parts):
            return " OR ".join(render(p) for p in parts)
    raise AssertionError(rule)  # pragma: no cover


def _grouped(rule: Rule) -> str:
    return f"({render(rule)})" if isinstance(rule, All | AnyOf) else render(rule)


def _quoted(text: str) -> str:
    return f'"{text}"' if "'" in text else f"'{text}'"


def _render_value(fact: Fact, value: Value) -> str:
    if fact.kind is FactKind.FLAG:
        return "TRUE" if value else "FALSE"
    if fact.kind is FactKind.CHOICE:
        return _quoted(str(value))
    if fact.kind is FactKind.MONEY:
        assert isinstance(value, int)
        return f"¥{value // 100}" + (f".{value % 100:02d}" if value % 100 else "")
    return str(value)


# ------------------------------------------------------------------- answering for one member


def _days_since(at: datetime | None, now: datetime) -> int | None:
    return None if at is None else (now - at) // DAY


def _fact_value(fact: Fact, row: Mapping[str, Any], now: datetime) -> Value | None:
    raw = row.get(fact.column)
    if fact.kind is FactKind.DAYS_SINCE:
        return _days_since(raw, now)
    if fact.kind in (FactKind.COUNT, FactKind.MONEY):
        return int(raw or 0)
    if fact.kind is FactKind.FLAG:
        return bool(raw)
    return None if raw is None else str(raw)


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def matches(rule: Rule, row: Mapping[str, Any], tags: Collection[str], now: datetime) -> bool:
    """Whether a member with these facts (member_facts' columns) and tags is in the rule."""
    match rule:
        case Compare(fact=fact, op=op, value=value):
            have = _fact_value(fact, row, now)
            return have is not None and _COMPARE[op](have, value)
        case Among(fact=fact, values=values, negated=negated):
            have = _fact_value(fact, row, now)
            return have is not None and (have in values) != negated
        case HasTag(name=name):
            return name in tags
        case Not(inner=inner):
            return not matches(inner, row, tags, now)
        case All(parts=parts):
            return all(matches(p, row, tags, now) for p in parts)
        case AnyOf(parts=parts):
            return any(matches(p, row, tags, now) for p in parts)
    raise AssertionError(rule)  # pragma: no cover


# ------------------------------------------------------------------- answering in SQL

# A member has a tag: member_tag rows name the tag by id, tag rows carry the name.
TAG_SQL = (
    "EXISTS (SELECT 1 FROM member_tag mt JOIN tag t ON t.id = mt.tag_id "
    "WHERE mt.member_id = {alias}.member_id AND t.name = {param})"
)


def _days_bound(op: str, days: int, now: datetime) -> tuple[str, datetime]:
    """`floor((now - at) / day) op days` as a comparison of `at` with one moment."""
    # floor(d) >= n  <=>  d >= n  <=>  at <= now - n days; floor(d) > n <=> floor(d) >= n+1
    match op:
        case ">=":
            return "<=", now - days * DAY
        case ">":
            return "<=", now - (days + 1) * DAY
        case "<":
            return ">", now - days * DAY
        case "<=":
            return ">", now - (days + 1) * DAY
    raise AssertionError(op)  # pragma: no cover


class _Sql:
    def __init__(self, alias: str, start: int, now: datetime) -> None:
        self.alias = alias
        self.params: list[Any] = []
        self.start = start
        self.now = now

    def param(self, value: Any) -> str:
        self.params.append(value)
        return f"${self.start + len(self.params) - 1}"

    def column(self, fact: Fact) -> str:
        return f"{self.alias}.{fact.column}"

    def value_sql(self, fact: Fact) -> str:
        column = self.column(fact)
        if fact.kind in (FactKind.COUNT, FactKind.MONEY):
            return f"COALESCE({column}, 0)"
        return column

    def compare(self, fact: Fact, op: str, value: Value) -> str:
        column = self.column(fact)
        if fact.kind is FactKind.DAYS_SINCE:
            assert isinstance(value, int)
            if op in ("=", "!="):
                low = self.param(self.now - (value + 1) * DAY)
                high = self.param(self.now - value * DAY)
                inside = f"{column} > {low} AND {column} <= {high}"
                if op == "=":
                    return f"({column} IS NOT NULL AND {inside})"
                return f"({column} IS NOT NULL AND NOT ({inside}))"
            flipped, moment = _days_bound(op, value, self.now)
            return f"({column} IS NOT NULL AND {column} {flipped} {self.param(moment)})"
        if fact.kind is FactKind.FLAG:
            column = f"COALESCE({column}, FALSE)"
            return f"({column} {'=' if op == '=' else '<>'} {self.param(value)})"
        if fact.kind is FactKind.CHOICE:
            sql_op = "=" if op == "=" else "<>"
            return f"({column} IS NOT NULL AND {column} {sql_op} {self.param(value)})"
        return f"({self.value_sql(fact)} {'<>' if op == '!=' else op} {self.param(value)})"

    def rule(self, rule: Rule) -> str:
        match rule:
            case Compare(fact=fact, op=op, value=value):
                return self.compare(fact, op, value)
            case Among(fact=fact, values=values, negated=negated):
                anyone = " OR ".join(self.compare(fact, "=", v) for v in values)
                if not negated:
                    return f"({anyone})"
                if fact.kind in (FactKind.CHOICE, FactKind.DAYS_SINCE):  # missing: no match
                    return f"({self.column(fact)} IS NOT NULL AND NOT ({anyone}))"
                return f"(NOT ({anyone}))"
            case HasTag(name=name):
                return TAG_SQL.format(alias=self.alias, param=self.param(name))
            case Not(inner=inner):
                return f"(NOT {self.rule(inner)})"
            case All(parts=parts):
                return "(" + " AND ".join(self.rule(p) for p in parts) + ")"
            case AnyOf(parts=parts):
                return "(" + " OR ".join(self.rule(p) for p in parts) + ")"
        raise AssertionError(rule)  # pragma: no cover


def to_sql(rule: Rule, now: datetime, alias: str = "f", start: int = 1) -> tuple[str, list[Any]]:
    """A WHERE condition over member_facts (as `alias`) with `$start…` parameters, matching
    exactly the members `matches` would, as of `now`."""
    builder = _Sql(alias, start, now)
    return builder.rule(rule), builder.params
