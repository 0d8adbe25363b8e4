"""The notifiers: the fake's record, and the WeChat adapter against a stub of WeChat's API."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from domain.ids import new_id
from domain.outbox import Notification, NotifierError, OutboxMessage
from infra.notifier import SEND_URL, FakeNotifier, WeChatSubscribeNotifier

TOKEN = "ACCESS-TOKEN-0123456789"
OPENID = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"
ORDER = new_id()
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def message(order_id: Any = ORDER) -> OutboxMessage:
    notification = Notification(
        kind="ORDER_READY_FOR_PICKUP",
        member_id=new_id(),
        order_id=order_id,
        data={"order_number": "SH-A-0001", "store": "Store SH-A", "code": "123456"},
        dedupe_key="order:1:ready",
    )
    return OutboxMessage.pending(notification, NOW)


EXPECTED_BODY = {
    "touser": OPENID,
    "template_id": "tmpl-order_ready_for_pickup",
    "page": f"pages/order/detail?id={ORDER}",
    "data": {
        "order_number": {"value": "SH-A-0001"},
        "store": {"value": "Store SH-A"},
        "code": {"value": "123456"},
    },
    "dedupe_key": "order:1:ready",
}


async def test_fake_records_the_subscribe_message(caplog: pytest.LogCaptureFixture) -> None:
    fake = FakeNotifier()
    with caplog.at_level(logging.INFO, logger="omnishelf.notifier"):
        await fake.send(message(), OPENID)
    assert fake.sent == [EXPECTED_BODY]
    assert any(r.getMessage() == "notification (fake)" for r in caplog.records)


async def test_fake_leaves_out_the_page_without_an_order() -> None:
    fake = FakeNotifier()
    await fake.send(message(order_id=None), None)
    assert "page" not in fake.sent[0] and fake.sent[0]["touser"] is None


async def test_fake_fails_the_next_sends_when_told() -> None:
    fake = FakeNotifier()
    fake.fail_next(2)
    for _ in range(2):
        with pytest.raises(NotifierError) as failed:
            await fake.send(message(), OPENID)
        assert not failed.value.permanent
    await fake.send(message(), OPENID)
    assert len(fake.sent) == 1


Handler = Callable[[httpx.Request], httpx.Response]


class WeChatStub:
    """Plays subscribeMessage.send: checks each request and answers as told."""

    def __init__(self, answer: httpx.Response) -> None:
        self.answer = answer
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.answer


@pytest.fixture
async def wechat() -> AsyncIterator[Callable[[httpx.Response], Any]]:
    clients: list[httpx.AsyncClient] = []

    def make(answer: httpx.Response) -> tuple[WeChatSubscribeNotifier, WeChatStub]:
        stub = WeChatStub(answer)
        client = httpx.AsyncClient(transport=httpx.MockTransport(stub))
        clients.append(client)

        async def token() -> str:
            return TOKEN

        return WeChatSubscribeNotifier(token_provider=token, client=client), stub

    yield make
    for client in clients:
        await client.aclose()


async def test_wechat_posts_the_message_with_the_access_token(wechat: Any) -> None:
    notifier, stub = wechat(httpx.Response(200, json={"errcode": 0, "errmsg": "ok"}))
    await notifier.send(message(), OPENID)
    [request] = stub.requests
    assert request.method == "POST"
    assert str(request.url.copy_with(params=None)) == SEND_URL
    assert dict(request.url.params) == {"access_token": TOKEN}
    assert json.loads(request.content) == EXPECTED_BODY


async def test_wechat_refusal_is_a_permanent_failure(wechat: Any) -> None:
    refused = {"errcode": 43101, "errmsg": f"user refuse to accept the msg {TOKEN} rid: 6f1a"}
    notifier, _ = wechat(httpx.Response(200, json=refused))
    with pytest.raises(NotifierError) as failed:
        await notifier.send(message(), OPENID)
    assert failed.value.permanent
    assert "43101" in str(failed.value) and TOKEN not in str(failed.value)


async def test_wechat_server_error_is_worth_a_retry(wechat: Any) -> None:
    notifier, _ = wechat(httpx.Response(500, text="Internal Server Error"))
    with pytest.raises(NotifierError) as failed:
        await notifier.send(message(), OPENID)
    assert not failed.value.permanent
    assert str(failed.value) == "WeChat answered HTTP 500"


async def test_wechat_busy_is_worth_a_retry(wechat: Any) -> None:
    notifier, _ = wechat(httpx.Response(200, json={"errcode": -1, "errmsg": "system error"}))
    with pytest.raises(NotifierError) as failed:
        await notifier.send(message(), OPENID)
    assert not failed.value.permanent


async def test_wechat_needs_an_openid(wechat: Any) -> None:
    notifier, stub = wechat(httpx.Response(200, json={"errcode": 0}))
    with pytest.raises(NotifierError) as failed:
        await notifier.send(message(), None)
    assert failed.value.permanent and stub.requests == []


async def test_wechat_unreachable_keeps_the_token_out_of_the_error() -> None:
    def unreachable(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"cannot connect to {request.url}", request=request)

    async def token() -> str:
        return TOKEN

    async with httpx.AsyncClient(transport=httpx.MockTransport(unreachable)) as client:
        notifier = WeChatSubscribeNotifier(token_provider=token, client=client)
        with pytest.raises(NotifierError) as failed:
            await notifier.send(message(), OPENID)
    assert not failed.value.permanent
    assert TOKEN not in str(failed.value) and failed.value.__cause__ is None
    assert failed.value.__suppress_context__
