"""Idempotency keys: a retry with the same key and principal returns the first result."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, Protocol

from domain.errors import CommonError, CommonErrorCode

MAX_KEY_LENGTH = 100


class IdempotencyStore(Protocol):
    async def claim(
        self,
        scope: str,
        key: str,
        fingerprint: str,
        at: datetime,
        result: dict[str, Any] | None = None,
    ) -> tuple[str, dict[str, Any] | None] | None:
        """Reserve `key` in this transaction (with `result` already, when it is known before
        the action runs). None: it is new, run the action. Otherwise (fingerprint, result) of
        the first request; a concurrent twin waits for it."""
        ...

    async def complete(self, scope: str, key: str, result: dict[str, Any]) -> None: ...


def fingerprint(payload: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def clean_key(key: str | None) -> str | None:
    if key is None:
        return None
    text = key.strip()
    if not text or len(text) > MAX_KEY_LENGTH or "\x00" in text:
        raise CommonError(
            CommonErrorCode.INVALID_INPUT,
            f"`idempotencyKey` is 1-{MAX_KEY_LENGTH} characters (a UUID is a good choice).",
            ["idempotencyKey"],
        )
    return text


async def once(
    store: IdempotencyStore,
    scope: str,
    key: str | None,
    payload: dict[str, Any],
    at: datetime,
    action: Callable[[], Awaitable[dict[str, Any]]],
    result: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Run `action` once per (scope, key); replays return the stored result. `result`: what
    the action will return, when the caller knows it up front (an id it chose): stored with
    the claim, one write fewer. The claim and the action share one transaction, so a failed
    action leaves neither."""
    clean = clean_key(key)
    if clean is None:
        return await action()
    print_ = fingerprint(payload)
    stored = await store.claim(scope, clean, print_, at, result)
    if stored is not None:
        first_print, result = stored
        if first_print != print_ or result is None:
            raise CommonError(
                CommonErrorCode.IDEMPOTENCY_CONFLICT,
                "This idempotencyKey was used for a different request; use a new key.",
                ["idempotencyKey"],
            )
        return result
    outcome = await action()
    if result is None:
        await store.complete(scope, clean, outcome)
    return outcome
