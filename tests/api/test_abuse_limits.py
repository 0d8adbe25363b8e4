"""Abuse limits (issue 8): guessing is rate-limited, and hostile documents are refused before
anything runs.

Already proven elsewhere, not repeated here:
- tests/api/test_auth.py: the 6th login for a username is refused even with the right
  password (whatever its case or padding); a success resets the count; the 21st attempt from
  one address is refused even for another, correct, account.
- tests/api/test_member_login.py: one code per phone per minute; 20 codes per address an
  hour; 5 wrong codes spend a code (the right one is refused after); malformed codes count.
- tests/api/test_orders_lifecycle.py: 21 wrong pickup codes lock a store's counter, the right
  code included; the order stays READY with its stock held; another store still answers.
- tests/api/test_limits.py: depth, 40 aliases, 4,000 tokens, cost, a body over 1 MB (413).
- tests/api/test_fuzz.py: bodies that are not JSON objects, batches of any size (400).

Added here: the locks open again after their window (the `windowed` runtime's limiter reads
the test clock, so moving the clock moves the windows), another address or a forged
X-Forwarded-For header, the per-phone hourly send limit and what it bounds (25 guesses at one
phone an hour), wrong codes through verifyPhone, a pickup lock that holds for every till of
the store; and a table of bombs, each refused with its documented code while no SQL statement
runs and no resolver's effect happens (no text sent, no member created).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
import schemathesis
from graphql.language import Lexer, Source, TokenKind
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.app import create_app
from api.document_guards import count_tokens
from domain.identity.model import DeviceKind, StaffRole
from domain.identity.services import create_device, create_staff
from domain.members.deps import MemberPolicy
from domain.ordering.deps import OrderPolicy
from infra.db.models.members import MemberRow, PhoneCodeRow
from infra.runtime import Runtime
from infra.security.ratelimit import MemoryRateLimiter
from infra.settings import Settings
from tests.support import MovableClock, count_sql
from tests.support.api import Api, login
from tests.support.members import (
    PHONE,
    PHONE_E164,
    last_code,
    phone_login,
    request_code,
    verify_phone,
    wechat_member,
    wrong,
)
from tests.support.orders import Story, complete, make_variants, pickup_of, read, receive
from tests.support.payloads import codes, refusal
from tests.support.schema import OPERATIONS
from tests.support.shoppers import shopper

PASSWORD = "correct-horse-battery"
ADDRESS, OTHER_ADDRESS = "203.0.113.50", "198.51.100.77"
MEMBER_POLICY, ORDER_POLICY = MemberPolicy(), OrderPolicy()


# ---------------------------------------------------------------- a runtime on the test clock


@dataclasses.dataclass
class Windowed:
    """The test runtime, except that its limiter's windows follow the test clock."""

    runtime: Runtime
    clock: MovableClock

    def api(self, address: str = ADDRESS, token: str | None = None) -> Api:
        app = create_app(runtime=self.runtime)
        transport = httpx.ASGITransport(app=app, client=(address, 50000))
        return Api(httpx.AsyncClient(transport=transport, base_url="http://testserver"), token)

    def wait(self, seconds: float) -> None:
        self.clock.advance(timedelta(seconds=seconds))


@pytest.fixture
async def windowed(settings: Settings, clock: MovableClock) -> AsyncIterator[Windowed]:
    limiter = MemoryRateLimiter(now=lambda: clock.now().timestamp())
    in_memory = dataclasses.replace(settings, redis_url=None)
    rt = Runtime(in_memory, clock=clock, fast_password_hashing=True, limiter=limiter)
    await rt.start(database=False)
    yield Windowed(rt, clock)
    await rt.stop(database=False)


# ---------------------------------------------------------------- staff login


async def test_a_locked_username_opens_again_after_the_window(
    windowed: Windowed, runtime: Runtime, settings: Settings
) -> None:
    await create_staff(runtime.auth, "alice", PASSWORD, StaffRole.CS_AGENT, [])
    api = windowed.api()
    for _ in range(settings.login_limit_per_username):
        assert codes(await login(api, "alice", "wrong-password!")) == ["INVALID_CREDENTIALS"]

    windowed.wait(settings.login_window_seconds - 10)
    locked = await login(api, "alice", PASSWORD)
    assert locked["tokens"] is None and codes(locked) == ["TOO_MANY_ATTEMPTS"]
    assert "seconds" in locked["errors"][0]["message"]
    # Another address does not help: the lock is on the username.
    elsewhere = await login(windowed.api(OTHER_ADDRESS), "alice", PASSWORD)
    assert codes(elsewhere) == ["TOO_MANY_ATTEMPTS"]

    windowed.wait(11)
    assert (await login(api, "alice", PASSWORD))["errors"] == []


async def test_a_locked_address_holds_whatever_it_claims_and_opens_after_the_window(
    windowed: Windowed, runtime: Runtime, settings: Settings
) -> None:
    await create_staff(runtime.auth, "alice", PASSWORD, StaffRole.CS_AGENT, [])
    api = windowed.api(ADDRESS)
    for n in range(settings.login_limit_per_address):
        assert codes(await login(api, f"user{n:02}", PASSWORD)) == ["INVALID_CREDENTIALS"]

    assert codes(await login(api, "alice", PASSWORD)) == ["TOO_MANY_ATTEMPTS"]
    # A client cannot pick its address: X-Forwarded-For is the proxy's to set (uvicorn's
    # --proxy-headers, trusted hosts only), the app keeps the connection's address.
    forged = await api.client.post(
        "/graphql",
        json={
            "query": "mutation($u: String!, $p: String!) { staffLogin(input: {username: $u, "
            "password: $p}) { errors { code } } }",
            "variables": {"u": "alice", "p": PASSWORD},
        },
        headers={"X-Forwarded-For": OTHER_ADDRESS, "X-Real-IP": OTHER_ADDRESS},
    )
    assert [e["code"] for e in forged.json()["data"]["staffLogin"]["errors"]] == [
        "TOO_MANY_ATTEMPTS"
    ]
    # Another address is not locked out.
    assert (await login(windowed.api(OTHER_ADDRESS), "alice", PASSWORD))["errors"] == []

    windowed.wait(settings.login_window_seconds + 1)
    assert (await login(api, "alice", PASSWORD))["errors"] == []


async def test_the_configured_limiter_reports_when_a_lock_ends(
    api: Api, runtime: Runtime, settings: Settings
) -> None:
    """On Redis (shared by every process) as in memory, a lock expires within the window."""
    await create_staff(runtime.auth, "alice", PASSWORD, StaffRole.CS_AGENT, [])
    for _ in range(settings.login_limit_per_username + 1):
        await login(api, "alice", "wrong-password!")
    wait = await runtime.limiter.peek("login:user:alice", settings.login_limit_per_username)
    assert 0 < wait <= settings.login_window_seconds


# ---------------------------------------------------------------- SMS codes


async def test_one_phone_gets_at_most_25_guesses_an_hour(windowed: Windowed) -> None:
    """5 codes an hour (a minute apart), each spent by 5 wrong tries: 25 guesses at a
    6-digit code, then no code at all until the hour is over."""
    api, rt = windowed.api(), windowed.runtime
    for _ in range(MEMBER_POLICY.codes_per_phone):
        sent = await request_code(api, PHONE)
        assert sent["errors"] == [], sent
        code = last_code(rt, PHONE_E164)
        for _ in range(MEMBER_POLICY.code_max_attempts):
            assert codes(await phone_login(api, PHONE, wrong(code))) == ["INVALID_CODE"]
        assert codes(await phone_login(api, PHONE, code)) == ["TOO_MANY_ATTEMPTS"]
        windowed.wait(MEMBER_POLICY.code_resend_seconds + 1)

    refused = await request_code(api, PHONE)
    assert codes(refused) == ["TOO_MANY_REQUESTS"] and refused["expiresInSeconds"] is None
    # Not from another address either: the limit is the phone's.
    assert codes(await request_code(windowed.api(OTHER_ADDRESS), PHONE)) == ["TOO_MANY_REQUESTS"]
    assert await PhoneCodeRow.all().count() == MEMBER_POLICY.codes_per_phone

    windowed.wait(MEMBER_POLICY.code_window_seconds)
    assert (await request_code(api, PHONE))["errors"] == []
    logged_in = await phone_login(api, PHONE, last_code(rt, PHONE_E164))
    assert logged_in["errors"] == [] and logged_in["created"] is True


async def test_one_address_texting_many_phones_opens_after_the_hour(windowed: Windowed) -> None:
    api = windowed.api()
    for i in range(MEMBER_POLICY.codes_per_address):
        assert (await request_code(api, f"1390000{i:04d}"))["errors"] == []
    assert codes(await request_code(api, "13900009999")) == ["TOO_MANY_REQUESTS"]
    assert (await request_code(windowed.api(OTHER_ADDRESS), "13900007777"))["errors"] == []

    windowed.wait(MEMBER_POLICY.code_window_seconds)
    assert (await request_code(api, "13900008888"))["errors"] == []


async def test_wrong_codes_through_verify_phone_spend_the_code_too(windowed: Windowed) -> None:
    api = windowed.api()
    member, _ = await wechat_member(api, "test:verify-guesser")
    assert (await request_code(api, PHONE))["errors"] == []
    code = last_code(windowed.runtime, PHONE_E164)

    for _ in range(MEMBER_POLICY.code_max_attempts):
        assert codes(await verify_phone(member, PHONE, wrong(code))) == ["INVALID_CODE"]

    spent = await verify_phone(member, PHONE, code)
    assert codes(spent) == ["TOO_MANY_ATTEMPTS"] and spent["member"] is None
    assert codes(await phone_login(api, PHONE, code)) == ["TOO_MANY_ATTEMPTS"]


# ---------------------------------------------------------------- pickup codes


async def test_a_pickup_lock_holds_for_every_till_of_the_store_until_the_window_ends(
    windowed: Windowed,
    client: httpx.AsyncClient,
    runtime: Runtime,
    stores: dict[str, Any],
    manager_a: Api,
    api: Api,
) -> None:
    (mango,) = await make_variants(runtime, ("M-1", "1kg", 1990))
    await receive(runtime, stores["SH-A"].id, mango, 10)
    member = await shopper(api, "pickup-guess-victim")
    order = await Story(client, runtime, stores, mango, manager_a).ready(member)
    code = (await pickup_of(member, order))["code"]
    _, till_a = await create_device(runtime.auth, stores["SH-A"].id, DeviceKind.POS)
    _, till_b = await create_device(runtime.auth, stores["SH-B"].id, DeviceKind.POS)
    manager = windowed.api(token=manager_a.token)

    guesses = [f"{n:06d}" for n in range(40) if f"{n:06d}" != code]
    limit = ORDER_POLICY.wrong_codes_per_store
    for guess in guesses[:limit]:
        assert refusal(await complete(manager, stores, guess))[0] == "INVALID_PICKUP_CODE"
    # The next guess is refused before any look-up (the count comes first).
    assert refusal(await complete(manager, stores, guesses[limit]))[0] == "TOO_MANY_ATTEMPTS"

    # The right code, typed at another till of the same store, is refused as well.
    other_till = windowed.api(token=till_a)
    assert refusal(await complete(other_till, stores, code)) == (
        "TOO_MANY_ATTEMPTS",
        ["pickupCode"],
    )
    assert (await read(manager_a, order["id"]))["status"] == "READY_FOR_PICKUP"
    # SH-B's counter is its own.
    sh_b = windowed.api(token=till_b)
    assert refusal(await complete(sh_b, stores, guesses[0], "SH-B"))[0] == "INVALID_PICKUP_CODE"

    windowed.wait(ORDER_POLICY.wrong_code_window_seconds + 1)
    handed_over = await complete(other_till, stores, code)
    assert handed_over["errors"] == [] and handed_over["order"]["status"] == "PICKED_UP"


# ---------------------------------------------------------------- bombs

SEND = 'requestPhoneCode(input: {phone: "13900139000"}) { expiresInSeconds }'
LOGIN = 'loginWithWechat(input: {appId: "wx-demo", code: "test:bomb"})'
DEEP_MEMBER = (  # 15 levels below loginWithWechat
    "member { orders { edges { node { lines { variant { product { variants { product { "
    "variants { product { variants { product { name } } } } } } } } } } } } }"
)
COSTLY_MEMBER = (
    "member { orders(first: 100) { edges { node { lines { variant { product { variants { "
    "product { name } } } } } } } } }"
)


def fragment_bomb(levels: int) -> str:
    """F0 spreads F1 twice, F1 spreads F2 twice...: 2**levels copies of SEND."""
    fragments = [f"fragment F{n} on Mutation {{ ...F{n + 1} ...F{n + 1} }}" for n in range(levels)]
    return f"mutation {{ ...F0 }} {' '.join(fragments)} fragment F{levels} on Mutation {{ {SEND} }}"


def spread_bomb(count: int) -> str:
    fragments = " ".join(f"fragment F{n} on Mutation {{ {SEND} }}" for n in range(count))
    return f"mutation {{ {' '.join(f'...F{n}' for n in range(count))} }} {fragments}"


@dataclasses.dataclass
class Bomb:
    body: bytes
    status: int
    code: str
    fragment: str = ""  # a phrase of the refusal's message


def graphql_body(query: str, variables: dict[str, Any] | None = None) -> bytes:
    return json.dumps({"query": query, "variables": variables or {}}).encode()


ROWS = [{"locationCode": "SH-A", "variantCode": "M-1", "onHand": 1}] * 10_000
BOMBS: dict[str, Callable[[], Bomb]] = {
    "depth 15": lambda: Bomb(
        graphql_body(f"mutation {{ {LOGIN} {{ {DEEP_MEMBER} }} }}"),
        200,
        "GRAPHQL_VALIDATION_FAILED",
        "depth",
    ),
    "cost": lambda: Bomb(
        graphql_body(f"mutation {{ {LOGIN} {{ {COSTLY_MEMBER} }} }}"),
        200,
        "QUERY_TOO_COSTLY",
    ),
    "31 aliases": lambda: Bomb(
        graphql_body("mutation { " + " ".join(f"a{n}: {SEND}" for n in range(31)) + " }"),
        200,
        "GRAPHQL_VALIDATION_FAILED",
        "aliases",
    ),
    "10,000 aliases": lambda: Bomb(
        graphql_body("mutation { " + " ".join(f"a{n}: {SEND}" for n in range(10_000)) + " }"),
        200,
        "GRAPHQL_VALIDATION_FAILED",
        "characters long",
    ),
    "4,000 tokens": lambda: Bomb(
        graphql_body(
            '{ stockLevels(locationId: "x", variantIds: ['
            + '"a" ' * 4000
            + "]) { nodes { onHand } } }"
        ),
        200,
        "GRAPHQL_VALIDATION_FAILED",
        "tokens",
    ),
    "fragments doubling 30 times": lambda: Bomb(
        graphql_body(fragment_bomb(30)), 200, "GRAPHQL_VALIDATION_FAILED", "fragments expanded"
    ),
    "one field 100 times": lambda: Bomb(
        graphql_body("mutation { " + " ".join([SEND] * 100) + " }"),
        200,
        "GRAPHQL_VALIDATION_FAILED",
        "100 times",
    ),
    "40 fragments in one place": lambda: Bomb(
        graphql_body(spread_bomb(40)), 200, "GRAPHQL_VALIDATION_FAILED", "40 fragments"
    ),
    "a 40,000-character string": lambda: Bomb(
        graphql_body(
            f'mutation {{ requestPhoneCode(input: {{phone: "{"1" * 40_000}"}}) {{ '
            "expiresInSeconds } }"
        ),
        200,
        "GRAPHQL_VALIDATION_FAILED",
        "characters long",
    ),
    "10,000 rows in the variables": lambda: Bomb(
        graphql_body(
            "mutation($r: [StockRowInput!]!) { inventoryBulkSet(input: {rows: $r}) "
            "{ errors { code } } }",
            {"r": ROWS},
        ),
        200,
        "TOO_MANY_ITEMS",
    ),
    "a body over 1 MB": lambda: Bomb(
        graphql_body(f"mutation {{ {SEND} }}", {"pad": "x" * 1_100_000}), 413, "REQUEST_TOO_LARGE"
    ),
    "a batch of 1,000": lambda: Bomb(
        json.dumps([{"query": f"mutation {{ {SEND} }}"}] * 1000).encode(), 400, "BAD_REQUEST"
    ),
}


@pytest.mark.parametrize("name", list(BOMBS))
async def test_a_bomb_is_refused_before_anything_runs(
    name: str, client: httpx.AsyncClient, runtime: Runtime
) -> None:
    bomb = BOMBS[name]()
    texts_before = len(runtime.sms.outbox)  # type: ignore[attr-defined]

    with count_sql() as statements:
        response = await client.post(
            "/graphql", content=bomb.body, headers={"content-type": "application/json"}
        )

    assert response.status_code == bomb.status, response.text[:300]
    body = response.json()
    assert body["data"] is None
    errors = body["errors"]
    assert [e["extensions"]["code"] for e in errors] == [bomb.code], errors
    assert bomb.fragment in errors[0]["message"], errors
    assert all("path" not in e for e in errors)  # no resolver's error: none ran
    assert statements == []
    assert len(runtime.sms.outbox) == texts_before  # type: ignore[attr-defined]
    assert await PhoneCodeRow.all().count() == 0
    assert await MemberRow.all().count() == 0


async def test_the_bombs_ingredients_run_within_the_limits(api: Api, runtime: Runtime) -> None:
    """Shallower, fewer or smaller, the same operations run and have their effects."""
    body = await api(f"mutation {{ {LOGIN} {{ member {{ id }} errors {{ code }} }} }}")
    assert body["data"]["loginWithWechat"]["errors"] == []
    assert await MemberRow.all().count() == 1

    texts = len(runtime.sms.outbox)  # type: ignore[attr-defined]
    body = await api(fragment_bomb(3))  # 8 copies of one field merge into one
    assert body["data"] == {"requestPhoneCode": {"expiresInSeconds": 300}}
    assert len(runtime.sms.outbox) == texts + 1  # type: ignore[attr-defined]


def lexer_tokens(document: str) -> int:
    lexer, count = Lexer(Source(document)), 0
    while lexer.advance().kind is not TokenKind.EOF:
        count += 1
    return count


@settings(
    max_examples=150,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
@given(case=st.sampled_from(OPERATIONS).flatmap(lambda operation: operation.as_strategy()))
def test_the_quick_token_count_is_the_lexers(case: schemathesis.Case) -> None:
    """The pre-parse count refuses only what the parser's token limit would refuse."""
    document = str(case.body)
    padded = f"# a comment: name name\n{document}"
    assert count_tokens(document) == count_tokens(padded) == lexer_tokens(document)
