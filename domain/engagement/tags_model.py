"""Tags on members: manual ones set by staff with a reason, automatic ones set by a rule over
one member fact (`orders_365 >= 3`), re-evaluated by the nightly rebuild."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from domain.engagement.facts_model import RULE_FACTS
from domain.errors import EngagementError, EngagementErrorCode

MAX_NAME = 40
MAX_DESCRIPTION = 200
MAX_REASON = 200
MAX_FILTER_TAGS = 10  # tag ids in one member search
RULE_OPERATORS = (">=", "<=", ">", "<", "=")
_RULE = re.compile(r"^\s*([a-z_0-9]{1,32})\s*(>=|<=|>|<|=)\s*(\d{1,12})\s*$")


class TagKind(StrEnum):
    MANUAL = "MANUAL"
    AUTOMATIC = "AUTOMATIC"


@dataclass(frozen=True)
class TagRule:
    """One fact compared with a whole number: `spend_365 >= 100000` (fen)."""

    fact: str
    operator: str
    value: int

    def __str__(self) -> str:
        return f"{self.fact} {self.operator} {self.value}"

    def holds(self, actual: int | None) -> bool:
        if actual is None:
            return False
        return {
            ">=": actual >= self.value,
            "<=": actual <= self.value,
            ">": actual > self.value,
            "<": actual < self.value,
            "=": actual == self.value,
        }[self.operator]


@dataclass(frozen=True)
class Tag:
    id: UUID
    name: str
    kind: TagKind
    description: str
    rule: TagRule | None
    created_by: str
    created_at: datetime


@dataclass(frozen=True)
class MemberTag:
    member_id: UUID
    tag_id: UUID
    actor: str
    reason: str
    tagged_at: datetime


def _invalid(code: EngagementErrorCode, message: str, field: str) -> EngagementError:
    return EngagementError(code, message, ["input", field])


def parse_rule(text: str) -> TagRule:
    """`<fact> <op> <whole number>` over one numeric fact; anything else is refused with what
    is allowed."""
    found = _RULE.match(text)
    if found is None:
        raise _invalid(
            EngagementErrorCode.INVALID_TAG_RULE,
            f"A rule reads like `orders_365 >= 3`: a fact, one of {' '.join(RULE_OPERATORS)}, "
            "and a whole number.",
            "rule",
        )
    fact, operator, value = found.groups()
    if fact not in RULE_FACTS:
        raise _invalid(
            EngagementErrorCode.INVALID_TAG_RULE,
            f"Unknown fact `{fact}`; one of: {', '.join(RULE_FACTS)}.",
            "rule",
        )
    return TagRule(fact, operator, int(value))


def clean_name(text: str) -> str:
    name = " ".join(text.split())
    if not name or len(name) > MAX_NAME:
        raise _invalid(
            EngagementErrorCode.INVALID_INPUT, f"A name of 1-{MAX_NAME} characters.", "name"
        )
    return name


def clean_description(text: str) -> str:
    description = " ".join(text.split())
    if len(description) > MAX_DESCRIPTION:
        raise _invalid(
            EngagementErrorCode.INVALID_INPUT,
            f"At most {MAX_DESCRIPTION} characters.",
            "description",
        )
    return description


def clean_reason(text: str) -> str:
    reason = " ".join(text.split())
    if not reason or len(reason) > MAX_REASON:
        raise _invalid(
            EngagementErrorCode.INVALID_INPUT,
            f"Give a reason (1-{MAX_REASON} characters).",
            "reason",
        )
    return reason
