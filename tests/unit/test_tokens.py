"""JwtAccessTokens without a database: HS256 only, kid-based key rotation, our clock for time."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import jwt
import pytest

from domain.clock import FrozenClock
from domain.errors import AuthError, AuthErrorCode
from domain.identity.model import Principal, PrincipalKind, StaffRole
from infra.security.tokens import JwtAccessTokens

SECRET = "unit-test-secret-0123456789abcdef-0123456789abcdef-0123456789abcdef"
OLD_SECRET = "unit-test-old-secret-0123456789abcdef-0123456789abcdef-0123456789ab"
ISSUER = "omnishelf"
AUDIENCE = "omnishelf-api"
TTL = timedelta(minutes=15)


def make_tokens(clock: FrozenClock, **overrides: Any) -> JwtAccessTokens:
    options: dict[str, Any] = {
        "clock": clock,
        "secret": SECRET,
        "kid": "k1",
        "previous_keys": {},
        "issuer": ISSUER,
        "audience": AUDIENCE,
        "ttl": TTL,
    }
    options.update(overrides)
    return JwtAccessTokens(**options)


def staff_principal() -> Principal:
    return Principal(
        kind=PrincipalKind.STAFF,
        id=uuid4(),
        role=StaffRole.STORE_MANAGER,
        store_ids=frozenset({uuid4(), uuid4()}),
        session_id=uuid4(),
    )


def b64url(part: dict[str, Any]) -> str:
    raw = json.dumps(part, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def claims_of(token: str) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return claims


def assert_rejected(tokens: JwtAccessTokens, token: str, mentions: str = "invalid") -> None:
    with pytest.raises(AuthError) as caught:
        tokens.verify(token)
    assert caught.value.code is AuthErrorCode.UNAUTHENTICATED
    assert mentions in caught.value.message


def test_issue_verify_round_trip() -> None:
    clock = FrozenClock()
    tokens = make_tokens(clock)
    principal = staff_principal()

    token, expires = tokens.issue(principal)

    assert expires == clock.now() + TTL
    assert jwt.get_unverified_header(token) == {"alg": "HS256", "kid": "k1", "typ": "JWT"}
    claims = claims_of(token)
    assert claims["iss"] == ISSUER and claims["aud"] == AUDIENCE
    assert claims["exp"] == int(expires.timestamp())
    assert tokens.verify(token) == principal


def test_round_trip_keeps_a_principal_without_role_or_stores() -> None:
    tokens = make_tokens(FrozenClock())
    principal = Principal(kind=PrincipalKind.STAFF, id=uuid4(), role=StaffRole.ADMIN)
    token, _ = tokens.issue(principal)
    assert tokens.verify(token) == principal


def test_token_of_a_previous_key_still_verifies_after_rotation() -> None:
    clock = FrozenClock()
    before = make_tokens(clock, secret=OLD_SECRET, kid="k0")
    after = make_tokens(clock, previous_keys={"k0": OLD_SECRET})
    principal = staff_principal()
    old_token, _ = before.issue(principal)

    assert after.verify(old_token) == principal
    # New tokens are signed with the current key only.
    new_token, _ = after.issue(principal)
    assert jwt.get_unverified_header(new_token)["kid"] == "k1"
    assert after.verify(new_token) == principal
    # Once the old key is dropped from the list, its tokens stop working.
    assert_rejected(make_tokens(clock), old_token)


def test_kid_must_match_the_key_that_signed() -> None:
    clock = FrozenClock()
    tokens = make_tokens(clock, previous_keys={"k0": OLD_SECRET})
    claims = claims_of(tokens.issue(staff_principal())[0])
    # Signed with the current secret but claiming to be the old key's token.
    relabelled = jwt.encode(claims, SECRET, algorithm="HS256", headers={"kid": "k0"})
    assert_rejected(tokens, relabelled)


def test_expired_token_is_rejected_by_our_clock() -> None:
    clock = FrozenClock()
    tokens = make_tokens(clock)
    principal = staff_principal()
    token, _ = tokens.issue(principal)

    clock.advance(TTL - timedelta(seconds=1))
    assert tokens.verify(token) == principal
    clock.advance(timedelta(seconds=1))
    assert_rejected(tokens, token, mentions="expired")


def test_token_issued_at_a_future_clock_time_verifies_on_that_clock() -> None:
    """All time claims go by the injected clock, not the wall: a simulated future works."""
    clock = FrozenClock(datetime.now(UTC) + timedelta(days=3))
    tokens = make_tokens(clock)
    principal = staff_principal()
    token, _ = tokens.issue(principal)
    assert tokens.verify(token) == principal


def test_token_not_yet_valid_by_our_clock_is_rejected() -> None:
    clock = FrozenClock()
    tokens = make_tokens(clock)
    claims = claims_of(tokens.issue(staff_principal())[0])
    later = int((clock.now() + timedelta(minutes=5)).timestamp())
    early = jwt.encode(
        {**claims, "nbf": later, "iat": later}, SECRET, algorithm="HS256", headers={"kid": "k1"}
    )
    assert_rejected(tokens, early)


def test_wrong_audience_or_issuer_is_rejected() -> None:
    clock = FrozenClock()
    token, _ = make_tokens(clock).issue(staff_principal())
    assert_rejected(make_tokens(clock, audience="another-api"), token)
    assert_rejected(make_tokens(clock, issuer="someone-else"), token)


def test_alg_none_is_rejected() -> None:
    clock = FrozenClock()
    tokens = make_tokens(clock)
    claims = claims_of(tokens.issue(staff_principal())[0])
    for alg in ("none", "None", "NONE"):
        unsigned = b64url({"alg": alg, "typ": "JWT", "kid": "k1"}) + "." + b64url(claims) + "."
        assert_rejected(tokens, unsigned)


def test_other_hmac_algorithms_are_rejected_even_with_the_right_key() -> None:
    clock = FrozenClock()
    tokens = make_tokens(clock)
    claims = claims_of(tokens.issue(staff_principal())[0])
    for alg in ("HS384", "HS512"):
        token = jwt.encode(claims, SECRET, algorithm=alg, headers={"kid": "k1"})
        assert_rejected(tokens, token)


def test_tampered_payload_is_rejected() -> None:
    clock = FrozenClock()
    tokens = make_tokens(clock)
    token, _ = tokens.issue(staff_principal())
    header, _, signature = token.split(".")
    promoted = {**claims_of(token), "role": StaffRole.ADMIN.value}
    assert_rejected(tokens, f"{header}.{b64url(promoted)}.{signature}")


@pytest.mark.parametrize("missing", ["exp", "iat", "sub", "aud", "iss"])
def test_required_claims(missing: str) -> None:
    clock = FrozenClock()
    tokens = make_tokens(clock)
    claims = claims_of(tokens.issue(staff_principal())[0])
    del claims[missing]
    token = jwt.encode(claims, SECRET, algorithm="HS256", headers={"kid": "k1"})
    assert_rejected(tokens, token)


@pytest.mark.parametrize(
    "garbage",
    ["", "not-a-jwt", "a.b.c", "..", "eyJhbGciOiJIUzI1NiJ9.e30.", "x" * 5000],
)
def test_garbage_is_rejected(garbage: str) -> None:
    assert_rejected(make_tokens(FrozenClock()), garbage)


def test_bad_claim_values_are_rejected_not_crashing() -> None:
    clock = FrozenClock()
    tokens = make_tokens(clock)
    claims = claims_of(tokens.issue(staff_principal())[0])
    for bad in ({"sub": "not-a-uuid"}, {"typ": "ROOT"}, {"role": "SUPERUSER"}, {"stores": ["x"]}):
        token = jwt.encode({**claims, **bad}, SECRET, algorithm="HS256", headers={"kid": "k1"})
        assert_rejected(tokens, token)
