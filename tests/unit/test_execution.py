"""api/execution.py's short path for plain leaf fields gives what graphql-core's own path
gives: the same data, the same errors, for every kind of leaf and every odd value."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

import strawberry

from api import execution
from api.execution import OmnishelfExecutionContext


@strawberry.enum
class Colour(enum.Enum):
    RED = "red"


@strawberry.type
class Child:
    label: str


@strawberry.type
class Item:
    id: strawberry.ID
    name: str
    count: int
    price: float
    colour: Colour
    at: datetime
    note: str | None
    flag: bool
    child: Child
    maybe: Child | None


@strawberry.type
class Query:
    @strawberry.field
    def items(self) -> list[Item | None]:
        at = datetime(2026, 12, 6, 8, tzinfo=UTC)
        good = Item(
            id=strawberry.ID("a"), name="n", count=3, price=1.5, colour=Colour.RED, at=at,
            note=None, flag=False, child=Child(label="c"), maybe=None,
        )  # fmt: skip
        broken: Any = Item(
            id=strawberry.ID("b"), name=None, count="x", price=2.0, colour="green", at=at,
            note="kept", flag=True, child=Child(label=None), maybe=Child(label=None),  # type: ignore[arg-type]
        )  # fmt: skip
        return [good, broken]


QUERY = "{ items { id name count price colour at note flag child { label } maybe { label } } }"


def test_the_short_path_answers_as_graphql_core_does() -> None:
    plain = strawberry.Schema(query=Query)
    short = strawberry.Schema(query=Query, execution_context_class=OmnishelfExecutionContext)
    expected, got = plain.execute_sync(QUERY), short.execute_sync(QUERY)
    assert got.data == expected.data
    assert got.data is not None and got.data["items"][0]["colour"] == "RED"
    assert got.data["items"][1] is None  # its non-null `name` was null
    assert [(e.message, e.path) for e in got.errors or []] == [
        (e.message, e.path) for e in expected.errors or []
    ]
    assert expected.errors  # the broken item's null name and bad int/enum are reported
    item = short._schema.type_map["Item"].fields  # type: ignore[attr-defined]
    plain = {n for n, f in item.items() if execution._plain_leaf(f) is not execution._NOT_PLAIN}
    assert plain == set(item) - {"maybe"}  # a nullable object keeps graphql-core's path
