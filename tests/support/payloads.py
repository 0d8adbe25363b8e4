"""Reading errors out of GraphQL answers.

Two places hold errors: a mutation payload's typed `errors { code field message }` (the
user errors), and the response's top-level `errors` with `extensions.code` (refusals before
or outside the payload: authentication, permission, bad ids, validation)."""

from __future__ import annotations

from typing import Any


def codes(payload: dict[str, Any]) -> list[str]:
    """The codes of a payload's typed errors."""
    return [error["code"] for error in payload["errors"]]


def top_level_codes(body: dict[str, Any]) -> list[str]:
    """The codes of a response's top-level errors (none: [])."""
    return [error["extensions"]["code"] for error in body.get("errors") or []]


def top_level_errors(body: dict[str, Any]) -> list[tuple[str, Any]]:
    """(code, field) of each top-level error; there must be some."""
    return [(e["extensions"]["code"], e["extensions"].get("field")) for e in body["errors"]]


def refusal(payload: dict[str, Any]) -> tuple[str, list[str] | None]:
    """The single typed error of a refused mutation (which must not return an order)."""
    assert payload.get("order") is None and len(payload["errors"]) == 1, payload
    error = payload["errors"][0]
    return error["code"], error["field"]
