"""Staff login, refresh rotation, logout, rate limits and forged or broken access tokens."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest

from domain.identity.model import StaffRole
from domain.identity.services import create_staff
from infra.runtime import Runtime
from infra.settings import Settings
from tests.support import MovableClock as MovableClock
from tests.support.api import Api, login
from tests.support.payloads import codes

PASSWORD = "correct-horse-battery"

LOGIN_FULL = """
mutation($u: String!, $p: String!) {
  staffLogin(input: {username: $u, password: $p}) {
    tokens { accessToken accessTokenExpiresAt refreshToken refreshTokenExpiresAt tokenType }
    staff { username role }
    errors { code message field }
  }
}"""

REFRESH = """
mutation($t: String!) {
  refreshToken(input: {refreshToken: $t}) {
    tokens { accessToken refreshToken }
    errors { code message field }
  }
}"""

LOGOUT = "mutation { logout { ok errors { code message } } }"

VIEWER = "{ viewer { kind role staff { username } } }"


# ---------------------------------------------------------------- helpers


async def add_staff(runtime: Runtime, username: str, role: StaffRole = StaffRole.CS_AGENT) -> None:
    """CS_AGENT needs no store, so these tests need no locations."""
    await create_staff(runtime.auth, username, PASSWORD, role, [])


async def login_ok(api: Api, username: str) -> dict[str, str]:
    result = await login(api, username, PASSWORD)
    assert result["errors"] == [], result
    tokens: dict[str, str] = result["tokens"]
    return tokens


async def refresh(api: Api, refresh_token: str) -> dict[str, Any]:
    data = await api.data(REFRESH, {"t": refresh_token})
    payload: dict[str, Any] = data["refreshToken"]
    return payload


async def viewer(api: Api, access_token: str) -> dict[str, Any]:
    data = await api.as_(access_token).data(VIEWER)
    result: dict[str, Any] = data["viewer"]
    return result


async def post_viewer(api: Api, authorization: str) -> httpx.Response:
    """Send VIEWER with a raw Authorization header (any scheme)."""
    return await api.client.post(
        "/graphql", json={"query": VIEWER}, headers={"Authorization": authorization}
    )


def assert_401(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 401, response.text
    body: dict[str, Any] = response.json()
    assert body["data"] is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["UNAUTHENTICATED"]
    assert response.headers["www-authenticate"].startswith("Bearer")
    return body


async def assert_token_refused(api: Api, access_token: str) -> dict[str, Any]:
    return assert_401(await post_viewer(api, f"Bearer {access_token}"))


def b64url(part: dict[str, Any]) -> str:
    raw = json.dumps(part, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def parse_time(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


# ---------------------------------------------------------------- login


async def test_login_returns_tokens_and_staff_and_viewer_works(api: Api, runtime: Runtime) -> None:
    await add_staff(runtime, "alice", StaffRole.ADMIN)

    data = await api.data(LOGIN_FULL, {"u": "alice", "p": PASSWORD})

    payload = data["staffLogin"]
    assert payload["errors"] == []
    assert payload["staff"] == {"username": "alice", "role": "ADMIN"}
    tokens = payload["tokens"]
    assert tokens["tokenType"] == "Bearer"
    assert tokens["accessToken"] and tokens["refreshToken"]
    assert tokens["accessToken"] != tokens["refreshToken"]
    now = runtime.clock.now()
    access_ttl = parse_time(tokens["accessTokenExpiresAt"]) - now
    refresh_ttl = parse_time(tokens["refreshTokenExpiresAt"]) - now
    assert timedelta(seconds=890) < access_ttl <= timedelta(seconds=900)
    assert timedelta(days=30) - timedelta(seconds=10) < refresh_ttl <= timedelta(days=30)

    assert await viewer(api, tokens["accessToken"]) == {
        "kind": "STAFF",
        "role": "ADMIN",
        "staff": {"username": "alice"},
    }


async def test_username_is_case_and_space_insensitive(api: Api, runtime: Runtime) -> None:
    await add_staff(runtime, "alice")
    tokens = (await login(api, "  Alice ", PASSWORD))["tokens"]
    assert (await viewer(api, tokens["accessToken"]))["staff"] == {"username": "alice"}


async def test_wrong_password_and_unknown_user_fail_the_same_way(
    api: Api, runtime: Runtime
) -> None:
    await add_staff(runtime, "alice")

    wrong_password = await login(api, "alice", "not-the-password")
    unknown_user = await login(api, "mallory", PASSWORD)

    for result in (wrong_password, unknown_user):
        assert result["tokens"] is None
        assert codes(result) == ["INVALID_CREDENTIALS"]
    assert wrong_password["errors"] == unknown_user["errors"]


async def test_anonymous_viewer_is_unauthenticated(api: Api) -> None:
    body = await api(VIEWER)
    assert body["data"] == {"viewer": None}
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert body["errors"][0]["path"] == ["viewer"]


async def test_an_anonymous_viewer_does_not_null_the_rest_of_the_query(api: Api) -> None:
    """Issue 14: `viewer: Viewer!` denied made the whole response null."""
    body = await api("{ viewer { kind } products(first: 1) { edges { cursor } } }")
    assert body["data"]["viewer"] is None
    assert body["data"]["products"] == {"edges": []}
    assert [e["extensions"]["code"] for e in body["errors"]] == ["UNAUTHENTICATED"]


# ---------------------------------------------------------------- rate limits


async def test_sixth_attempt_for_a_username_is_refused_even_with_the_right_password(
    api: Api, runtime: Runtime
) -> None:
    await add_staff(runtime, "alice")
    await add_staff(runtime, "bob")

    # Changing case or padding does not make a new username for the limit.
    for spelling in ("alice", "ALICE", " alice", "Alice", "alice"):
        assert codes(await login(api, spelling, "wrong-password!")) == ["INVALID_CREDENTIALS"]

    sixth = await login(api, "alice", PASSWORD)
    assert sixth["tokens"] is None
    assert codes(sixth) == ["TOO_MANY_ATTEMPTS"]
    # Other usernames from the same address are not affected (7 < 20 per address).
    assert (await login(api, "bob", PASSWORD))["errors"] == []


async def test_successful_login_resets_the_username_counter(api: Api, runtime: Runtime) -> None:
    await add_staff(runtime, "alice")
    for _ in range(4):
        assert codes(await login(api, "alice", "wrong-password!")) == ["INVALID_CREDENTIALS"]
    assert (await login(api, "alice", PASSWORD))["errors"] == []
    for _ in range(5):
        assert codes(await login(api, "alice", "wrong-password!")) == ["INVALID_CREDENTIALS"]
    assert codes(await login(api, "alice", PASSWORD)) == ["TOO_MANY_ATTEMPTS"]


async def test_twenty_first_attempt_from_one_address_is_refused(api: Api, runtime: Runtime) -> None:
    await add_staff(runtime, "alice")

    for n in range(20):
        assert codes(await login(api, f"user{n:02}", PASSWORD)) == ["INVALID_CREDENTIALS"]

    last = await login(api, "alice", PASSWORD)
    assert last["tokens"] is None
    assert codes(last) == ["TOO_MANY_ATTEMPTS"]


# ---------------------------------------------------------------- refresh tokens


async def test_refresh_rotates_and_reuse_revokes_the_whole_login(
    api: Api, runtime: Runtime
) -> None:
    await add_staff(runtime, "alice")
    first = await login_ok(api, "alice")

    rotated = await refresh(api, first["refreshToken"])
    assert rotated["errors"] == []
    second = rotated["tokens"]
    assert second["refreshToken"] != first["refreshToken"]
    assert (await viewer(api, second["accessToken"]))["staff"] == {"username": "alice"}

    # The spent refresh token comes back: someone copied it. The whole login dies.
    reused = await refresh(api, first["refreshToken"])
    assert reused["tokens"] is None
    assert codes(reused) == ["REFRESH_TOKEN_REUSED"]

    after = await refresh(api, second["refreshToken"])
    assert after["tokens"] is None
    assert codes(after) == ["INVALID_REFRESH_TOKEN"]
    await assert_token_refused(api, second["accessToken"])
    await assert_token_refused(api, first["accessToken"])


async def test_reuse_revokes_only_that_login(api: Api, runtime: Runtime) -> None:
    await add_staff(runtime, "alice")
    laptop = await login_ok(api, "alice")
    phone = await login_ok(api, "alice")

    await refresh(api, laptop["refreshToken"])
    assert codes(await refresh(api, laptop["refreshToken"])) == ["REFRESH_TOKEN_REUSED"]

    assert (await viewer(api, phone["accessToken"]))["staff"] == {"username": "alice"}
    assert (await refresh(api, phone["refreshToken"]))["errors"] == []


async def test_unknown_refresh_token_is_invalid(api: Api) -> None:
    for token in ("no-such-token", ""):
        payload = await refresh(api, token)
        assert payload["tokens"] is None
        assert codes(payload) == ["INVALID_REFRESH_TOKEN"]
        assert payload["errors"][0]["field"] == ["refreshToken"]


@pytest.mark.parametrize("callers", [2, 5])
async def test_concurrent_refresh_with_one_token_succeeds_once(
    api: Api, runtime: Runtime, callers: int
) -> None:
    await add_staff(runtime, "alice")
    tokens = await login_ok(api, "alice")

    results = await asyncio.gather(*(refresh(api, tokens["refreshToken"]) for _ in range(callers)))

    winners = [r for r in results if r["tokens"] is not None]
    losers = [r for r in results if r["tokens"] is None]
    assert len(winners) == 1, results
    assert winners[0]["errors"] == []
    assert len(losers) == callers - 1
    for loser in losers:
        assert codes(loser)[0] in ("REFRESH_TOKEN_REUSED", "INVALID_REFRESH_TOKEN"), loser


async def test_refresh_token_expires_after_30_days(
    api: Api, runtime: Runtime, clock: MovableClock
) -> None:
    await add_staff(runtime, "alice")
    early = await login_ok(api, "alice")
    late = await login_ok(api, "alice")

    clock.advance(timedelta(days=30) - timedelta(minutes=1))
    assert (await refresh(api, early["refreshToken"]))["errors"] == []

    clock.advance(timedelta(minutes=2))
    expired = await refresh(api, late["refreshToken"])
    assert expired["tokens"] is None
    assert codes(expired) == ["INVALID_REFRESH_TOKEN"]


# ---------------------------------------------------------------- logout


async def test_logout_ends_access_and_refresh(api: Api, runtime: Runtime) -> None:
    await add_staff(runtime, "alice")
    tokens = await login_ok(api, "alice")

    data = await api.as_(tokens["accessToken"]).data(LOGOUT)
    assert data["logout"] == {"ok": True, "errors": []}

    await assert_token_refused(api, tokens["accessToken"])
    after = await refresh(api, tokens["refreshToken"])
    assert after["tokens"] is None
    assert codes(after) == ["INVALID_REFRESH_TOKEN"]


async def test_anonymous_logout_is_unauthenticated(api: Api) -> None:
    body = await api(LOGOUT)
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


# ---------------------------------------------------------------- access token attacks


@pytest.fixture
async def real_token(api: Api, runtime: Runtime) -> tuple[str, dict[str, Any]]:
    """A genuine CS_AGENT access token and its claims, the raw material of the forgeries."""
    await add_staff(runtime, "alice")
    token = (await login_ok(api, "alice"))["accessToken"]
    assert (await viewer(api, token))["role"] == "CS_AGENT"
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return token, claims


Forgery = Callable[[Settings, str, dict[str, Any]], str]


def _sign(s: Settings, claims: dict[str, Any], **header: str) -> str:
    return jwt.encode(claims, s.jwt_secret, algorithm="HS256", headers={"kid": s.jwt_kid, **header})


def _alg_none(s: Settings, token: str, claims: dict[str, Any]) -> str:
    header = {"alg": "none", "typ": "JWT", "kid": s.jwt_kid}
    return "Bearer " + b64url(header) + "." + b64url({**claims, "role": "ADMIN"}) + "."


def _other_secret(s: Settings, token: str, claims: dict[str, Any]) -> str:
    secret = "an-attacker-secret-that-is-long-enough-0123456789abcdef"
    return "Bearer " + jwt.encode(claims, secret, algorithm="HS256", headers={"kid": s.jwt_kid})


def _wrong_audience(s: Settings, token: str, claims: dict[str, Any]) -> str:
    return "Bearer " + _sign(s, {**claims, "aud": "another-api"})


def _wrong_issuer(s: Settings, token: str, claims: dict[str, Any]) -> str:
    return "Bearer " + _sign(s, {**claims, "iss": "someone-else"})


def _unknown_kid(s: Settings, token: str, claims: dict[str, Any]) -> str:
    return "Bearer " + _sign(s, claims, kid="k-unknown")


def _no_expiry(s: Settings, token: str, claims: dict[str, Any]) -> str:
    return "Bearer " + _sign(s, {k: v for k, v in claims.items() if k != "exp"})


def _tampered_role(s: Settings, token: str, claims: dict[str, Any]) -> str:
    header, _, signature = token.split(".")
    return f"Bearer {header}.{b64url({**claims, 'role': 'ADMIN'})}.{signature}"


def _no_session(s: Settings, token: str, claims: dict[str, Any]) -> str:
    """Signed with the real key (say it leaked) but naming no session to revoke."""
    return "Bearer " + _sign(s, {k: v for k, v in claims.items() if k != "sid"})


def _garbage(s: Settings, token: str, claims: dict[str, Any]) -> str:
    return "Bearer this-is-not-a-token"


def _basic_scheme(s: Settings, token: str, claims: dict[str, Any]) -> str:
    return "Basic xyz"


def _basic_scheme_with_real_token(s: Settings, token: str, claims: dict[str, Any]) -> str:
    return f"Basic {token}"


def _empty_bearer(s: Settings, token: str, claims: dict[str, Any]) -> str:
    return "Bearer "


FORGERIES: dict[str, Forgery] = {
    "alg none": _alg_none,
    "other secret": _other_secret,
    "wrong audience": _wrong_audience,
    "wrong issuer": _wrong_issuer,
    "unknown kid": _unknown_kid,
    "no expiry": _no_expiry,
    "tampered role": _tampered_role,
    "no session": _no_session,
    "garbage": _garbage,
    "basic scheme": _basic_scheme,
    "basic scheme, real token": _basic_scheme_with_real_token,
    "empty bearer": _empty_bearer,
}


@pytest.mark.parametrize("attack", list(FORGERIES))
async def test_forged_or_malformed_token_gets_401(
    api: Api, runtime: Runtime, real_token: tuple[str, dict[str, Any]], attack: str
) -> None:
    token, claims = real_token
    authorization = FORGERIES[attack](runtime.settings, token, claims)
    assert_401(await post_viewer(api, authorization))


async def test_forged_admin_token_cannot_create_staff(
    api: Api, runtime: Runtime, real_token: tuple[str, dict[str, Any]]
) -> None:
    token, claims = real_token
    for forge in (_alg_none, _tampered_role, _other_secret):
        response = await api.client.post(
            "/graphql",
            json={
                "query": 'mutation { staffCreate(input: {username: "eve", '
                'password: "long-enough-password", role: ADMIN}) { staff { id } } }'
            },
            headers={"Authorization": forge(runtime.settings, token, claims)},
        )
        assert_401(response)
    assert await runtime.repos.staff.get_by_username("eve") is None


async def test_expired_access_token_gets_401_and_refresh_gives_a_working_one(
    api: Api, runtime: Runtime, clock: MovableClock
) -> None:
    await add_staff(runtime, "alice")
    tokens = await login_ok(api, "alice")

    clock.advance(timedelta(seconds=runtime.settings.access_token_ttl - 5))
    assert (await viewer(api, tokens["accessToken"]))["staff"] == {"username": "alice"}

    clock.advance(timedelta(seconds=10))
    body = await assert_token_refused(api, tokens["accessToken"])
    assert "expired" in body["errors"][0]["message"]

    renewed = await refresh(api, tokens["refreshToken"])
    assert renewed["errors"] == []
    assert (await viewer(api, renewed["tokens"]["accessToken"]))["staff"] == {"username": "alice"}
