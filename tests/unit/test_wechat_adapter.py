"""The WeChat adapter against a stub of WeChat's HTTP API (answers in its documented formats)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable
from datetime import timedelta
from typing import Any

import httpx
import pytest

from domain.clock import FrozenClock
from domain.errors import MemberError, MemberErrorCode
from domain.members.ports import WeChatSession
from domain.outbox import NotifierError, OutboxMessage
from infra.notifier import DisabledNotifier
from infra.wechat import FakeWeChatGateway, HttpWeChatGateway

APP = "wx1234567890abcdef"
SECRET = "s3cr3t-app-secret-0123456789abcd"
LOGIN_CODE = "081Kq4Ga1ZlT1B0Pn4Ia1w3Ej04Kq4Gb"
PHONE_CODE = "e31968a7f94cc5ee25fafc2aef2773f0bb8c3937b22520eb8ee345274d00c144"
PHONE_INFO = {
    "phoneNumber": "13800138000",
    "purePhoneNumber": "13800138000",
    "countryCode": "86",
    "watermark": {"timestamp": 1637744274, "appid": APP},
}
PHONE_OK = {"errcode": 0, "errmsg": "ok", "phone_info": PHONE_INFO}
TOKEN_EXPIRED = {"errcode": 42001, "errmsg": "access_token expired rid: 6f1a2b3c-1d2e3f4a"}
TOKEN_INVALID = {
    "errcode": 40001,
    "errmsg": "invalid credential, access_token is invalid or not latest rid: 6f1a2b3c-5e6f7a8b",
}

Answer = dict[str, Any] | httpx.Response | Exception


class WeChatStub:
    """Plays api.weixin.qq.com: checks every request's shape and answers from a script.
    Phone answers are used in order; the last one repeats."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.session: Answer = {"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o", "session_key": "sk=="}
        self.phone: list[Answer] = [PHONE_OK]
        self.tokens_issued = 0
        self.phone_tokens: list[str] = []
        self.rejected_tokens: set[str] = set()  # answered 40001 whatever the script says

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        params = dict(request.url.params)
        if request.url.path == "/sns/jscode2session":
            assert request.method == "GET"
            assert params == {
                "appid": APP,
                "secret": SECRET,
                "js_code": LOGIN_CODE,
                "grant_type": "authorization_code",
            }
            return _respond(self.session, request)
        if request.url.path == "/cgi-bin/token":
            assert request.method == "GET"
            assert params == {"grant_type": "client_credential", "appid": APP, "secret": SECRET}
            await asyncio.sleep(0)  # let concurrent callers pile up behind the fetch
            self.tokens_issued += 1
            token = {"access_token": f"ACCESS-TOKEN-{self.tokens_issued}", "expires_in": 7200}
            return _respond(token, request)
        assert request.url.path == "/wxa/business/getuserphonenumber"
        assert request.method == "POST"
        assert set(params) == {"access_token"}
        assert json.loads(request.content) == {"code": PHONE_CODE}
        self.phone_tokens.append(params["access_token"])
        if params["access_token"] in self.rejected_tokens:
            return _respond(TOKEN_INVALID, request)
        answer = self.phone.pop(0) if len(self.phone) > 1 else self.phone[0]
        return _respond(answer, request)

    def paths(self) -> list[str]:
        return [r.url.path for r in self.requests]


def _respond(answer: Answer, request: httpx.Request) -> httpx.Response:
    if isinstance(answer, Exception):
        raise answer
    if isinstance(answer, httpx.Response):
        return answer
    return httpx.Response(200, json=answer, request=request)


@pytest.fixture
def stub() -> WeChatStub:
    return WeChatStub()


@pytest.fixture
def frozen() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
async def gateway(stub: WeChatStub, frozen: FrozenClock) -> AsyncIterator[HttpWeChatGateway]:
    async with httpx.AsyncClient(transport=httpx.MockTransport(stub)) as client:
        yield HttpWeChatGateway({APP: SECRET}, clock=frozen, client=client)


async def _error_of(call: Awaitable[object]) -> MemberError:
    with pytest.raises(MemberError) as caught:
        await call
    return caught.value


# jscode2session


async def test_session_without_unionid(gateway: HttpWeChatGateway) -> None:
    session = await gateway.code_to_session(APP, LOGIN_CODE)
    assert session == WeChatSession("oUpF8uMuAJO_M2pxb1Q9zNjWeS6o", None, "sk==")


async def test_session_with_unionid(gateway: HttpWeChatGateway, stub: WeChatStub) -> None:
    stub.session = {
        "openid": "o-1",
        "session_key": "sk==",
        "unionid": "oGZUI0egBJY1zhBYw2KhdUfwVJJE",
    }
    session = await gateway.code_to_session(APP, LOGIN_CODE)
    assert session.unionid == "oGZUI0egBJY1zhBYw2KhdUfwVJJE"


@pytest.mark.parametrize(
    ("answer", "code"),
    [
        ({"errcode": 40029, "errmsg": "invalid code"}, MemberErrorCode.INVALID_WECHAT_CODE),
        ({"errcode": 40163, "errmsg": "code been used"}, MemberErrorCode.INVALID_WECHAT_CODE),
        ({"errcode": 40226, "errmsg": "high risk user"}, MemberErrorCode.INVALID_WECHAT_CODE),
        (
            {"errcode": 45011, "errmsg": "api minute-quota reach limit"},
            MemberErrorCode.WECHAT_RATE_LIMITED,
        ),
        ({"errcode": -1, "errmsg": "system error"}, MemberErrorCode.WECHAT_UNAVAILABLE),
        ({"errcode": 40013, "errmsg": "invalid appid"}, MemberErrorCode.UNKNOWN_APP),
        ({"errcode": 61024, "errmsg": "something new"}, MemberErrorCode.WECHAT_UNAVAILABLE),
    ],
)
async def test_session_errcodes_map_to_member_errors(
    gateway: HttpWeChatGateway, stub: WeChatStub, answer: Answer, code: MemberErrorCode
) -> None:
    stub.session = answer
    error = await _error_of(gateway.code_to_session(APP, LOGIN_CODE))
    assert error.code is code


async def test_rejected_login_code_tells_the_client_to_log_in_again(
    gateway: HttpWeChatGateway, stub: WeChatStub
) -> None:
    stub.session = {"errcode": 40029, "errmsg": "invalid code"}
    error = await _error_of(gateway.code_to_session(APP, LOGIN_CODE))
    assert "wx.login()" in error.message


async def test_unknown_errcode_is_named_in_the_message(
    gateway: HttpWeChatGateway, stub: WeChatStub
) -> None:
    stub.session = {"errcode": 61024, "errmsg": "something new"}
    error = await _error_of(gateway.code_to_session(APP, LOGIN_CODE))
    assert "61024" in error.message


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(500, text="Internal Server Error"),
        httpx.Response(502, text="Bad Gateway"),
        httpx.Response(200, text="<html>busy</html>"),
        httpx.Response(200, json=["not", "an", "object"]),
        httpx.Response(200, json={"session_key": "sk=="}),  # no openid
        httpx.ReadTimeout("timed out"),
        httpx.ConnectError("connection refused"),
    ],
    ids=["http-500", "http-502", "html", "json-list", "no-openid", "timeout", "connect"],
)
async def test_transport_failures_are_unavailable(
    gateway: HttpWeChatGateway, stub: WeChatStub, answer: Answer
) -> None:
    stub.session = answer
    error = await _error_of(gateway.code_to_session(APP, LOGIN_CODE))
    assert error.code is MemberErrorCode.WECHAT_UNAVAILABLE
    assert "try again" in error.message
    assert error.__context__ is None or error.__suppress_context__  # httpx's URL stays out


async def test_unknown_app_is_refused_without_calling_wechat(
    gateway: HttpWeChatGateway, stub: WeChatStub
) -> None:
    assert gateway.knows_app(APP) and not gateway.knows_app("wx-other")
    for call in (
        gateway.code_to_session("wx-other", LOGIN_CODE),
        gateway.phone_number("wx-other", PHONE_CODE),
    ):
        assert (await _error_of(call)).code is MemberErrorCode.UNKNOWN_APP
    assert stub.requests == []


@pytest.mark.parametrize("bad", ["", "x" * 257])
async def test_empty_or_oversized_codes_are_refused_without_calling_wechat(
    gateway: HttpWeChatGateway, stub: WeChatStub, bad: str
) -> None:
    for call in (gateway.code_to_session(APP, bad), gateway.phone_number(APP, bad)):
        assert (await _error_of(call)).code is MemberErrorCode.INVALID_WECHAT_CODE
    assert stub.requests == []


# getuserphonenumber and the access token


async def test_phone_number_has_its_country_code(
    gateway: HttpWeChatGateway, stub: WeChatStub
) -> None:
    assert await gateway.phone_number(APP, PHONE_CODE) == "+8613800138000"
    assert stub.paths() == ["/cgi-bin/token", "/wxa/business/getuserphonenumber"]
    assert stub.phone_tokens == ["ACCESS-TOKEN-1"]


async def test_phone_number_of_a_foreign_number(
    gateway: HttpWeChatGateway, stub: WeChatStub
) -> None:
    info = {**PHONE_INFO, "phoneNumber": "+1 2025550123", "purePhoneNumber": "2025550123"}
    stub.phone = [{**PHONE_OK, "phone_info": {**info, "countryCode": "1"}}]
    assert await gateway.phone_number(APP, PHONE_CODE) == "+12025550123"


async def test_rejected_phone_code(gateway: HttpWeChatGateway, stub: WeChatStub) -> None:
    stub.phone = [{"errcode": 40029, "errmsg": "invalid code"}]
    error = await _error_of(gateway.phone_number(APP, PHONE_CODE))
    assert error.code is MemberErrorCode.INVALID_WECHAT_CODE
    assert "phone-number button" in error.message


async def test_access_token_is_cached_across_calls(
    gateway: HttpWeChatGateway, stub: WeChatStub
) -> None:
    await gateway.phone_number(APP, PHONE_CODE)
    await gateway.phone_number(APP, PHONE_CODE)
    assert stub.tokens_issued == 1
    assert stub.phone_tokens == ["ACCESS-TOKEN-1", "ACCESS-TOKEN-1"]


async def test_access_token_is_refreshed_five_minutes_before_it_expires(
    gateway: HttpWeChatGateway, stub: WeChatStub, frozen: FrozenClock
) -> None:
    await gateway.phone_number(APP, PHONE_CODE)
    frozen.advance(timedelta(seconds=7200 - 300 - 1))
    await gateway.phone_number(APP, PHONE_CODE)
    assert stub.tokens_issued == 1
    frozen.advance(timedelta(seconds=1))
    await gateway.phone_number(APP, PHONE_CODE)
    assert stub.tokens_issued == 2
    assert stub.phone_tokens[-1] == "ACCESS-TOKEN-2"


@pytest.mark.parametrize("rejection", [TOKEN_INVALID, TOKEN_EXPIRED])
async def test_rejected_access_token_is_refreshed_and_the_call_retried_once(
    gateway: HttpWeChatGateway, stub: WeChatStub, rejection: dict[str, Any]
) -> None:
    stub.phone = [rejection, PHONE_OK]
    assert await gateway.phone_number(APP, PHONE_CODE) == "+8613800138000"
    assert stub.phone_tokens == ["ACCESS-TOKEN-1", "ACCESS-TOKEN-2"]
    await gateway.phone_number(APP, PHONE_CODE)
    assert stub.tokens_issued == 2  # the fresh token is the one cached


async def test_a_second_token_rejection_gives_up(
    gateway: HttpWeChatGateway, stub: WeChatStub
) -> None:
    stub.phone = [TOKEN_INVALID]
    error = await _error_of(gateway.phone_number(APP, PHONE_CODE))
    assert error.code is MemberErrorCode.WECHAT_UNAVAILABLE
    assert stub.tokens_issued == 2
    assert len(stub.phone_tokens) == 2


async def test_concurrent_calls_fetch_the_token_once(
    gateway: HttpWeChatGateway, stub: WeChatStub
) -> None:
    numbers = await asyncio.gather(*(gateway.phone_number(APP, PHONE_CODE) for _ in range(5)))
    assert numbers == ["+8613800138000"] * 5
    assert stub.tokens_issued == 1


async def test_concurrent_token_rejections_refresh_once(
    gateway: HttpWeChatGateway, stub: WeChatStub
) -> None:
    await gateway.phone_number(APP, PHONE_CODE)  # caches ACCESS-TOKEN-1
    stub.rejected_tokens = {"ACCESS-TOKEN-1"}
    numbers = await asyncio.gather(*(gateway.phone_number(APP, PHONE_CODE) for _ in range(3)))
    assert numbers == ["+8613800138000"] * 3
    assert stub.tokens_issued == 2


async def test_token_endpoint_failure_is_unavailable(
    gateway: HttpWeChatGateway, stub: WeChatStub, frozen: FrozenClock
) -> None:
    async def failing(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/cgi-bin/token":
            return httpx.Response(200, json={"errcode": 40125, "errmsg": "invalid appsecret"})
        return await stub(request)

    client = httpx.AsyncClient(transport=httpx.MockTransport(failing))
    broken = HttpWeChatGateway({APP: SECRET}, clock=frozen, client=client)
    error = await _error_of(broken.phone_number(APP, PHONE_CODE))
    assert error.code is MemberErrorCode.WECHAT_UNAVAILABLE
    assert "40125" in error.message
    assert stub.phone_tokens == []


# credentials stay secret


async def test_credentials_never_reach_errors_or_logs(
    gateway: HttpWeChatGateway, stub: WeChatStub, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    failures: list[Answer] = [
        {"errcode": 40125, "errmsg": f"invalid appsecret {SECRET}"},
        {"errcode": 40029, "errmsg": "invalid code"},
        {"errcode": -1, "errmsg": "system error"},
        httpx.Response(500, text=f"oops secret={SECRET}"),
        httpx.ReadTimeout(f"timed out: secret={SECRET}"),
        httpx.ConnectError(f"refused: secret={SECRET}"),
    ]
    errors = []
    for answer in failures:
        stub.session = answer
        errors.append(await _error_of(gateway.code_to_session(APP, LOGIN_CODE)))
    stub.phone = [TOKEN_INVALID, {"errcode": 47001, "errmsg": "token ACCESS-TOKEN-2 bad"}]
    errors.append(await _error_of(gateway.phone_number(APP, PHONE_CODE)))

    assert any(r.name == "httpx" for r in caplog.records)  # httpx did log the URLs
    for text in [caplog.text, *(f"{e!r} {e}" for e in errors)]:
        assert SECRET not in text
        assert "ACCESS-TOKEN" not in text
        assert LOGIN_CODE not in text


async def test_aclose_closes_only_a_client_it_created(frozen: FrozenClock) -> None:
    injected = httpx.AsyncClient()
    await HttpWeChatGateway({APP: SECRET}, clock=frozen, client=injected).aclose()
    assert not injected.is_closed
    await injected.aclose()
    owned = HttpWeChatGateway({APP: SECRET}, clock=frozen)
    await owned.aclose()
    assert owned._client.is_closed


# the development fake


async def test_fake_login_codes() -> None:
    fake = FakeWeChatGateway({"wx-demo"})
    assert fake.knows_app("wx-demo") and not fake.knows_app("wx-other")
    session = await fake.code_to_session("wx-demo", "test:alice")
    assert (session.openid, session.unionid) == ("alice", None)
    assert session == await fake.code_to_session("wx-demo", "test:alice")  # deterministic
    session = await fake.code_to_session("wx-demo", "test:alice:union_A-1")
    assert (session.openid, session.unionid) == ("alice", "union_A-1")


@pytest.mark.parametrize(
    "code", ["", "alice", "test:", "test:a b", "test:a:b:c", "test:" + "a" * 65, "TEST:alice"]
)
async def test_fake_rejects_other_login_codes(code: str) -> None:
    error = await _error_of(FakeWeChatGateway().code_to_session("wx-demo", code))
    assert error.code is MemberErrorCode.INVALID_WECHAT_CODE


async def test_fake_phone_codes() -> None:
    fake = FakeWeChatGateway()
    assert await fake.phone_number("wx-demo", "test-phone:+8613800138000") == "+8613800138000"
    assert await fake.phone_number("wx-demo", "test-phone:13800138000") == "13800138000"
    for code in ("", "test-phone:", "13800138000", "test:13800138000"):
        error = await _error_of(fake.phone_number("wx-demo", code))
        assert error.code is MemberErrorCode.INVALID_WECHAT_CODE


async def test_fake_unknown_app() -> None:
    fake = FakeWeChatGateway({"wx-demo"})
    for call in (
        fake.code_to_session("wx-other", "test:alice"),
        fake.phone_number("wx-other", "test-phone:13800138000"),
    ):
        assert (await _error_of(call)).code is MemberErrorCode.UNKNOWN_APP


async def test_the_cached_access_token_is_lent_to_other_wechat_apis(
    gateway: HttpWeChatGateway, stub: WeChatStub
) -> None:
    await gateway.phone_number(APP, PHONE_CODE)
    assert await gateway.access_token(APP) == "ACCESS-TOKEN-1"  # the same cached token
    assert stub.tokens_issued == 1
    error = await _error_of(gateway.access_token("wx-unknown"))
    assert error.code is MemberErrorCode.UNKNOWN_APP  # refused without asking WeChat
    assert stub.paths().count("/cgi-bin/token") == 1


async def test_a_token_rejected_elsewhere_is_replaced_once(
    gateway: HttpWeChatGateway, stub: WeChatStub
) -> None:
    """Subscribe messages hand back the token WeChat rejected: it is replaced, and a second
    caller holding the same stale token gets the replacement instead of a third token."""
    first = await gateway.access_token(APP)
    fresh = await gateway.access_token(APP, stale=first)
    assert (first, fresh) == ("ACCESS-TOKEN-1", "ACCESS-TOKEN-2")
    assert await gateway.access_token(APP, stale=first) == "ACCESS-TOKEN-2"
    assert stub.tokens_issued == 2


def test_production_wiring_sends_notifications_through_wechat() -> None:
    from infra.notifier import FakeNotifier, WeChatSubscribeNotifier
    from infra.runtime import Runtime
    from infra.settings import Settings
    from infra.subscribe_templates import DEV_TEMPLATES

    real = Runtime(Settings(wechat_fake=False, wechat_apps={APP: SECRET}, notifier="wechat"))
    assert isinstance(real.notifier, WeChatSubscribeNotifier)
    # Only the operator's templates reach WeChat, never the development ones.
    assert real.settings.subscribe_templates() == {}
    assert isinstance(Runtime(Settings()).notifier, FakeNotifier)
    assert Settings().subscribe_templates() == DEV_TEMPLATES
    assert real.notify_app == APP
    assert isinstance(Runtime(Settings()).notifier, FakeNotifier)  # development: recorded only
    off = Runtime(Settings(wechat_fake=False, wechat_apps={APP: SECRET}, notifier="disabled"))
    assert isinstance(off.notifier, DisabledNotifier)


async def test_a_failed_token_fetch_is_a_retryable_notifier_error(stub: WeChatStub) -> None:
    from infra.notifier import WeChatSubscribeNotifier
    from infra.subscribe_templates import DEV_TEMPLATES

    async def unreachable(stale: str | None) -> str:
        raise MemberError(MemberErrorCode.WECHAT_UNAVAILABLE, "WeChat could not be reached")

    notifier = WeChatSubscribeNotifier(token_provider=unreachable, templates=DEV_TEMPLATES)
    with pytest.raises(NotifierError) as failed:
        await notifier.send(message_for_test(), "openid")
    assert not failed.value.permanent and "access token" in str(failed.value)
    await notifier.aclose()


async def test_disabled_notifications_fail_permanently() -> None:
    with pytest.raises(NotifierError) as failed:
        await DisabledNotifier().send(message_for_test(), "openid")
    assert failed.value.permanent


def message_for_test() -> OutboxMessage:
    from datetime import UTC, datetime

    from domain.ids import new_id
    from domain.outbox import Notification

    notification = Notification(
        kind="ORDER_PAID",
        member_id=new_id(),
        order_id=None,
        data={"order_number": "SH-A-0001", "total": "100"},
        dedupe_key="k",
    )
    return OutboxMessage.pending(notification, datetime(2026, 1, 1, tzinfo=UTC))
