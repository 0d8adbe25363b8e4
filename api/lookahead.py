"""What the query asks for below the current field, so a list resolver can load its items'
children at once and let them resolve without a coroutine each."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from strawberry.types import Info
from strawberry.types.nodes import SelectedField


def fields(selections: Sequence[Any]) -> list[SelectedField]:
    """The fields of a selection, those in its fragments included."""
    found: list[SelectedField] = []
    for selection in selections:
        if isinstance(selection, SelectedField):
            found.append(selection)
        else:
            found.extend(fields(getattr(selection, "selections", None) or []))
    return found


def asks_for(info: Info[Any, Any], *path: str) -> bool:
    """Whether the current field's selection holds `path` (`asks_for(info, "edges", "node",
    "variants")`), through fragments too."""
    return selects(fields(info.selected_fields), *path)


def selects(selection: list[SelectedField], *path: str) -> bool:
    """`asks_for` on a selection read once (`fields(info.selected_fields)`): strawberry builds
    `selected_fields` anew at each call."""
    level = selection
    for name in path:
        level = [
            child for field in level for child in fields(field.selections) if child.name == name
        ]
        if not level:
            return False
    return True
