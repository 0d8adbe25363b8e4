"""Subscribe messages as WeChat receives them: the exact body of each message kind (rendered
from the documented example templates), the key types' limits, and what each WeChat answer
means for the outbox. The real notifier and the real gateway (for its access token) talk to
a stub of api.weixin.qq.com through httpx.MockTransport."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest

from domain.clock import FrozenClock
from domain.ids import new_id
from domain.outbox import MESSAGE_KINDS, Notification, NotifierError, OutboxMessage
from infra.notifier import SEND_URL, FakeNotifier, SentNotification, WeChatSubscribeNotifier
from infra.subscribe_templates import DEV_TEMPLATES, KEY_TYPES, fit, load, parse
from infra.wechat import HttpWeChatGateway

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "wechat-templates.example.toml"
TEMPLATES = load(EXAMPLE)
APP, SECRET = "wx1234567890abcdef", "s3cr3t-app-secret-0123456789abcd"
OPENID = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"
ORDER = UUID("0190f7d2-5e1a-7000-8000-00000000a001")
SUBSCRIPTION = "0190f7d2-5e1a-7000-8000-00000000b001"
NOW = datetime(2027, 1, 5, tzinfo=UTC)
TOO_LONG_REASON = "顾客要求取消因为商品颜色与图片不符希望换一个颜色再下单"  # 27 characters

# Each kind as the notifying code writes it (tests/unit/test_message_kinds.py checks the
# fields against the code), and the body WeChat must receive for it.
CASES: dict[str, tuple[dict[str, str], dict[str, Any]]] = {
    "ORDER_PAID": (
        {"order_number": "SH-A-0001", "total": "12900"},
        {
            "template_id": "Xq1o3Kv7mP4sN2bR8tY6wE0uI9aD5fGhJkLzCxVbNm0",
            "page": f"pages/order/detail?id={ORDER}",
            "data": {
                "character_string1": {"value": "SH-A-0001"},
                "amount2": {"value": "¥129.00"},
                "phrase3": {"value": "已支付"},
            },
        },
    ),
    "ORDER_READY_FOR_PICKUP": (
        {
            "order_number": "SH-A-0001",
            "code": "042917",
            "store": "Store SH-A",
            "deadline": "2027-01-08 04:00",
        },
        {
            "template_id": "bDmywsp2oEHjwAadTGKkUHpC0RgBVPvfAWvNHXTNVKk",
            "page": f"pages/order/detail?id={ORDER}",
            "data": {
                "character_string1": {"value": "SH-A-0001"},
                "thing2": {"value": "Store SH-A"},
                "character_string3": {"value": "042917"},
                "time4": {"value": "2027年1月8日 04:00"},
            },
        },
    ),
    "PICKUP_REMINDER": (
        {"order_number": "SH-A-0001", "deadline": "2027-12-31 21:30"},
        {
            "template_id": "R7yT2uI9oP3aS6dF1gH4jK8lZ0xC5vB2nM7qW3eR9tY",
            "page": f"pages/order/detail?id={ORDER}",
            "data": {
                "character_string1": {"value": "SH-A-0001"},
                "time2": {"value": "2027年12月31日 21:30"},
                "thing3": {"value": "请在截止时间前到店取货"},
            },
        },
    ),
    "ORDER_CANCELLED": (
        {"order_number": "SH-A-0001", "reason": TOO_LONG_REASON},
        {
            "template_id": "C4nC3lL3dT3mPl4t3Id0000000000000000000000a1",
            "page": f"pages/order/detail?id={ORDER}",
            "data": {
                "character_string1": {"value": "SH-A-0001"},
                "thing2": {"value": "顾客要求取消因为商品颜色与图片不符希望…"},  # 19 + "…"
                "phrase3": {"value": "已取消"},
            },
        },
    ),
    "ORDER_UNCLAIMED": (
        {"order_number": "SH-A-0001", "reason": "pickup deadline passed"},
        {
            "template_id": "Unc1a1m3dT3mPl4t3Id000000000000000000000b2",
            "page": f"pages/order/detail?id={ORDER}",
            "data": {
                "character_string1": {"value": "SH-A-0001"},
                "thing2": {"value": "pickup deadline pas…"},
                "phrase3": {"value": "超时未取"},
            },
        },
    ),
    "ORDER_REFUNDED": (
        {"order_number": "SH-A-0001", "amount": "990", "reason": "退货"},
        {
            "template_id": "R3fundT3mPl4t3Id00000000000000000000000000c3",
            "page": f"pages/order/detail?id={ORDER}",
            "data": {
                "character_string1": {"value": "SH-A-0001"},
                "amount2": {"value": "¥9.90"},
                "thing3": {"value": "退货"},
            },
        },
    ),
    "REVIEW_INVITATION": (
        {"order_number": "SH-A-0001"},
        {
            "template_id": "R3v13wT3mPl4t3Id0000000000000000000000000d4",
            "page": f"pages/order/review?id={ORDER}",
            "data": {
                "character_string1": {"value": "SH-A-0001"},
                "thing2": {"value": "邀请您评价本次购物"},
            },
        },
    ),
    "AFTER_SALE_APPROVED": (
        {"order_number": "SH-A-0001"},
        {
            "template_id": "AfT3rSa1eApPr0v3dT3mPl4t3Id00000000000000g7",
            "page": f"pages/order/detail?id={ORDER}",
            "data": {
                "character_string1": {"value": "SH-A-0001"},
                "phrase2": {"value": "售后已同意"},
            },
        },
    ),
    "AFTER_SALE_REJECTED": (
        {"order_number": "SH-A-0001", "reason": "超过退货期"},
        {
            "template_id": "AfT3rSa1eR3j3ct3dT3mPl4t3Id00000000000000h8",
            "page": f"pages/order/detail?id={ORDER}",
            "data": {
                "character_string1": {"value": "SH-A-0001"},
                "thing2": {"value": "超过退货期"},
                "phrase3": {"value": "售后未通过"},
            },
        },
    ),
    "AFTER_SALE_REFUNDED": (
        {"order_number": "SH-A-0001", "amount": "1990"},
        {
            "template_id": "AfT3rSa1eR3fund3dT3mPl4t3Id0000000000000i9",
            "page": f"pages/order/detail?id={ORDER}",
            "data": {
                "character_string1": {"value": "SH-A-0001"},
                "amount2": {"value": "¥19.90"},
                "phrase3": {"value": "退款成功"},
            },
        },
    ),
    "INVOICE_ISSUED": (
        {"order_number": "SH-A-0001", "invoice_number": "24312000000012345678"},
        {
            "template_id": "Inv01c3Issu3dT3mPl4t3Id00000000000000000j10",
            "page": f"pages/order/detail?id={ORDER}",
            "data": {
                "character_string1": {"value": "SH-A-0001"},
                "character_string2": {"value": "24312000000012345678"},
                "phrase3": {"value": "发票已开具"},
            },
        },
    ),
    "SUBSCRIPTION_REMINDER": (
        {"subscription": SUBSCRIPTION, "date": "2027-02-01", "total": "5"},
        {
            "template_id": "SubR3m1nd3rT3mPl4t3Id000000000000000000000e5",
            "page": f"pages/subscription/detail?id={SUBSCRIPTION}",
            "data": {
                "date1": {"value": "2027年2月1日"},
                "amount2": {"value": "¥0.05"},
                "thing3": {"value": "周期购即将下单"},
            },
        },
    ),
    "SUBSCRIPTION_SHORT": (
        {"subscription": SUBSCRIPTION, "date": "2027-02-01", "reason": "Not enough stock"},
        {
            "template_id": "SubSh0rtT3mPl4t3Id000000000000000000000000f6",
            "page": f"pages/subscription/detail?id={SUBSCRIPTION}",
            "data": {
                "date1": {"value": "2027年2月1日"},
                "thing2": {"value": "Not enough stock"},
            },
        },
    ),
    "SUBSCRIPTION_PAUSED": (
        {"subscription": SUBSCRIPTION, "reason": "payment kept failing"},  # 20: kept whole
        {
            "template_id": "SubPaus3dT3mPl4t3Id00000000000000000000000g7",
            "page": f"pages/subscription/detail?id={SUBSCRIPTION}",
            "data": {
                "thing1": {"value": "payment kept failing"},
                "phrase2": {"value": "已暂停"},
            },
        },
    ),
    "COUPON_EXPIRING": (
        {"coupon": "新人券 ¥20", "expires": "2027-02-01"},
        {
            "template_id": "C0up0nExp1r1ngT3mPl4t3Id000000000000000000h8",
            "page": "pages/coupons/index",
            "data": {
                "thing1": {"value": "新人券 ¥20"},
                "date2": {"value": "2027年2月1日"},
                "thing3": {"value": "优惠券即将过期"},
            },
        },
    ),
    "AUTOMATION_MESSAGE": (
        {"text": "生日快乐, 送您一张券", "channel": "WECHAT"},
        {
            "template_id": "Aut0m4t10nM3ss4g3T3mPl4t3Id00000000000000i9",
            "page": "pages/coupons/index",
            "data": {
                "thing1": {"value": "生日快乐, 送您一张券"},
                "thing2": {"value": "会员关怀"},
            },
        },
    ),
}


def message(
    kind: str = "ORDER_READY_FOR_PICKUP", data: dict[str, str] | None = None
) -> OutboxMessage:
    about_order = MESSAGE_KINDS[kind].about_order
    notification = Notification(
        kind=kind,
        member_id=new_id(),
        order_id=ORDER if about_order else None,
        data=CASES[kind][0] if data is None else data,
        dedupe_key=f"{kind.lower()}:1",
    )
    return OutboxMessage.pending(notification, NOW)


class WeChat:
    """Plays api.weixin.qq.com: issues access tokens, answers subscribe sends from a script
    (the last answer repeats), and rejects the tokens it was told are stale."""

    def __init__(self) -> None:
        self.sends: list[httpx.Request] = []
        self.answers: list[dict[str, Any] | httpx.Response] = [{"errcode": 0, "errmsg": "ok"}]
        self.tokens_issued = 0
        self.stale: set[str] = set()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/cgi-bin/token":
            self.tokens_issued += 1
            token = {"access_token": f"ACCESS-TOKEN-{self.tokens_issued}", "expires_in": 7200}
            return httpx.Response(200, json=token)
        assert str(request.url.copy_with(params=None)) == SEND_URL
        assert request.method == "POST" and set(request.url.params) == {"access_token"}
        self.sends.append(request)
        if request.url.params["access_token"] in self.stale:
            expired = {"errcode": 42001, "errmsg": "access_token expired rid: 6f1a2b3c"}
            return httpx.Response(200, json=expired)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        return answer if isinstance(answer, httpx.Response) else httpx.Response(200, json=answer)

    def bodies(self) -> list[Any]:
        return [json.loads(r.content) for r in self.sends]

    def tokens(self) -> list[str]:
        return [r.url.params["access_token"] for r in self.sends]


@pytest.fixture
def wechat() -> WeChat:
    return WeChat()


@pytest.fixture
async def notifier(wechat: WeChat) -> AsyncIterator[WeChatSubscribeNotifier]:
    """Wired as infra.runtime wires it: the gateway's cached token, refreshed when stale."""
    async with httpx.AsyncClient(transport=httpx.MockTransport(wechat)) as client:
        gateway = HttpWeChatGateway(
            {APP: SECRET}, clock=FrozenClock(), client=client, base_url="https://api.weixin.qq.com"
        )

        async def token(stale: str | None) -> str:
            return await gateway.access_token(APP, stale=stale)

        yield WeChatSubscribeNotifier(token_provider=token, templates=TEMPLATES, client=client)


async def _failure(notifier: Any, msg: OutboxMessage, openid: str | None = OPENID) -> NotifierError:
    with pytest.raises(NotifierError) as failed:
        await notifier.send(msg, openid)
    return failed.value


# ---------------------------------------------------------------- the bodies


def test_every_kind_the_system_sends_has_a_case_and_an_example_template() -> None:
    assert set(CASES) == set(MESSAGE_KINDS) == set(TEMPLATES) == set(DEV_TEMPLATES)
    for kind, (data, _) in CASES.items():
        assert set(data) == set(MESSAGE_KINDS[kind].fields), kind


@pytest.mark.parametrize("kind", sorted(CASES))
async def test_wechat_receives_exactly_this_body(
    kind: str, notifier: WeChatSubscribeNotifier, wechat: WeChat
) -> None:
    await notifier.send(message(kind), OPENID)
    [body] = wechat.bodies()
    expected = {
        "touser": OPENID,
        **CASES[kind][1],
        "miniprogram_state": "formal",
        "lang": "zh_CN",
    }
    assert body == expected
    assert list(body) == list(expected)  # no field of ours (dedupe_key...) rides along
    assert wechat.tokens() == ["ACCESS-TOKEN-1"]


async def test_the_fake_records_what_the_real_notifier_sends(
    notifier: WeChatSubscribeNotifier, wechat: WeChat
) -> None:
    fake = FakeNotifier(TEMPLATES)
    for kind in CASES:
        await fake.send(message(kind), OPENID)
        await notifier.send(message(kind), OPENID)
    assert [s.body for s in fake.sent] == wechat.bodies()
    assert fake.sent[0] == SentNotification("ORDER_PAID", "order_paid:1", wechat.bodies()[0])


async def test_the_fake_renders_the_development_templates_by_default(
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake = FakeNotifier()
    with caplog.at_level(logging.INFO, logger="omnishelf.notifier"):
        await fake.send(message(), OPENID)
    [sent] = fake.sent
    assert sent.body["template_id"] == "tmpl-order_ready_for_pickup"
    assert sent.body["miniprogram_state"] == "developer"
    assert sent.body["data"]["character_string3"] == {"value": "042917"}
    [record] = [r for r in caplog.records if r.getMessage() == "notification (fake)"]
    assert OPENID not in str(record.__dict__)  # the recipient is masked


async def test_the_fake_fails_the_next_sends_when_told() -> None:
    fake = FakeNotifier()
    fake.fail_next(2)
    for _ in range(2):
        assert not (await _failure(fake, message())).permanent
    await fake.send(message(), OPENID)
    assert len(fake.sent) == 1


@pytest.mark.parametrize(
    ("key_type", "value", "sent"),
    [
        ("thing", "a" * 20, "a" * 20),
        ("thing", "a" * 21, "a" * 19 + "…"),
        ("character_string", "订单 SH-A-0001", "SH-A-0001"),  # letters, digits, symbols only
        ("character_string", "X" * 40, "X" * 32),
        ("phrase", "已经准备好了", "已经准备好"),  # 5 characters
        ("number", "¥129.00", "129.00"),
        ("letter", "ABC-123-def", "ABCdef"),
        ("symbol", "!?!?!?!", "!?!?!"),
        ("phone_number", "+86 138-0013-8000", "+86138-0013-8000"),
        ("car_number", "沪A·12345X", "沪A·12345"),
        ("name", "欧阳娜娜娜娜娜娜娜娜娜", "欧阳娜娜娜娜娜娜娜…"),  # 10 Chinese characters
        ("name", "Alexandra Montgomery-Smith", "Alexandra Montgomer…"),  # or 20 Latin ones
    ],
)
def test_values_are_cut_to_what_the_key_type_accepts(key_type: str, value: str, sent: str) -> None:
    assert fit(KEY_TYPES[key_type], value) == sent


async def test_a_message_without_its_order_goes_without_a_page() -> None:
    fake = FakeNotifier(TEMPLATES)
    notification = Notification("REVIEW_INVITATION", new_id(), None, {"order_number": "X"}, "k")
    await fake.send(OutboxMessage.pending(notification, NOW), OPENID)
    assert "page" not in fake.sent[0].body


async def test_page_values_are_url_encoded() -> None:
    templates = parse(
        {
            "SUBSCRIPTION_PAUSED": {
                "template_id": "t",
                "page": "pages/x?reason={reason}",
                "data": {"thing1": "{reason}"},
            }
        }
    )
    fake = FakeNotifier(templates)
    await fake.send(message("SUBSCRIPTION_PAUSED", {"subscription": "s", "reason": "a&b=c"}), None)
    assert fake.sent[0].body["page"] == "pages/x?reason=a%26b%3Dc"


# ---------------------------------------------------------------- what cannot be sent


@pytest.mark.parametrize(
    ("msg", "complaint"),
    [
        (message("ORDER_PAID", {"order_number": "SH-A-0001"}), "no field 'total'"),
        (message("ORDER_PAID", {"order_number": "X", "total": "12.90"}), "not a MONEY value"),
        (
            message("PICKUP_REMINDER", {"order_number": "X", "deadline": "tomorrow"}),
            "not a LOCAL_TIME value",
        ),
    ],
)
async def test_a_message_its_template_cannot_render_fails_permanently_unsent(
    notifier: WeChatSubscribeNotifier, wechat: WeChat, msg: OutboxMessage, complaint: str
) -> None:
    failure = await _failure(notifier, msg)
    assert failure.permanent and complaint in str(failure)
    assert wechat.sends == [] and wechat.tokens_issued == 0


async def test_a_kind_without_a_template_or_turned_off_fails_permanently_unsent(
    wechat: WeChat,
) -> None:
    templates = {
        **{k: v for k, v in TEMPLATES.items() if k != "ORDER_PAID"},
        **parse({"REVIEW_INVITATION": {"enabled": False}}),
    }
    async with httpx.AsyncClient(transport=httpx.MockTransport(wechat)) as client:

        async def token(stale: str | None) -> str:
            raise AssertionError("no token is needed")

        real = WeChatSubscribeNotifier(token, templates, client=client)
        for kind, complaint in (
            ("ORDER_PAID", "no WeChat template for ORDER_PAID"),
            ("REVIEW_INVITATION", "turned off"),
        ):
            failure = await _failure(real, message(kind))
            assert failure.permanent and complaint in str(failure)
    assert wechat.sends == []


async def test_a_member_without_an_openid_fails_permanently(
    notifier: WeChatSubscribeNotifier, wechat: WeChat
) -> None:
    assert (await _failure(notifier, message(), None)).permanent
    assert wechat.sends == []


# ---------------------------------------------------------------- WeChat's answers


async def test_refused_or_not_subscribed_is_permanent_and_not_retried(
    notifier: WeChatSubscribeNotifier, wechat: WeChat
) -> None:
    wechat.answers = [{"errcode": 43101, "errmsg": f"user refuse to accept the msg {OPENID}"}]
    failure = await _failure(notifier, message())
    assert failure.permanent and "43101" in str(failure)
    assert OPENID not in str(failure) and "oUpF****S6o" in str(failure)
    assert len(wechat.sends) == 1


@pytest.mark.parametrize("errcode", [40001, 42001])
async def test_a_rejected_token_is_refreshed_and_the_message_sent_once_more(
    notifier: WeChatSubscribeNotifier, wechat: WeChat, errcode: int
) -> None:
    await notifier.send(message(), OPENID)  # caches ACCESS-TOKEN-1
    wechat.answers = [{"errcode": errcode, "errmsg": "access_token invalid"}, {"errcode": 0}]
    await notifier.send(message("PICKUP_REMINDER"), OPENID)
    assert wechat.tokens() == ["ACCESS-TOKEN-1", "ACCESS-TOKEN-1", "ACCESS-TOKEN-2"]
    assert wechat.bodies()[1] == wechat.bodies()[2]
    await notifier.send(message("ORDER_PAID"), OPENID)  # the fresh token stays cached
    assert wechat.tokens()[-1] == "ACCESS-TOKEN-2" and wechat.tokens_issued == 2


async def test_a_token_rejected_twice_is_left_for_a_later_retry(
    notifier: WeChatSubscribeNotifier, wechat: WeChat
) -> None:
    wechat.stale = {"ACCESS-TOKEN-1", "ACCESS-TOKEN-2"}
    failure = await _failure(notifier, message())
    assert not failure.permanent and "42001" in str(failure)
    assert wechat.tokens() == ["ACCESS-TOKEN-1", "ACCESS-TOKEN-2"]  # refreshed once, not more
    assert "ACCESS-TOKEN" not in str(failure)


@pytest.mark.parametrize(
    "answer",
    [
        {"errcode": 45009, "errmsg": "reach max api daily quota limit"},
        {"errcode": -1, "errmsg": "system error"},
        httpx.Response(500, text="Internal Server Error"),
        httpx.Response(200, text="<html>gateway</html>"),
    ],
)
async def test_quota_busy_and_server_errors_are_retried_later(
    notifier: WeChatSubscribeNotifier, wechat: WeChat, answer: Any
) -> None:
    wechat.answers = [answer]
    assert not (await _failure(notifier, message())).permanent
    assert len(wechat.sends) == 1  # the outbox retries, with its backoff


@pytest.mark.parametrize("errcode", [40003, 40037, 47003, 41030])
async def test_answers_that_blame_our_configuration_are_permanent_and_logged(
    notifier: WeChatSubscribeNotifier,
    wechat: WeChat,
    errcode: int,
    caplog: pytest.LogCaptureFixture,
) -> None:
    wechat.answers = [{"errcode": errcode, "errmsg": "invalid template_id rid: 1"}]
    with caplog.at_level(logging.ERROR, logger="omnishelf.notifier"):
        assert (await _failure(notifier, message())).permanent
    [record] = caplog.records
    assert "ORDER_READY_FOR_PICKUP" in record.getMessage() and str(errcode) in record.getMessage()


async def test_unreachable_wechat_is_retried_and_keeps_the_token_out_of_the_error() -> None:
    def unreachable(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"cannot connect to {request.url}", request=request)

    async def token(stale: str | None) -> str:
        return "ACCESS-TOKEN-SECRET"

    async with httpx.AsyncClient(transport=httpx.MockTransport(unreachable)) as client:
        real = WeChatSubscribeNotifier(token, TEMPLATES, client=client)
        failure = await _failure(real, message())
    assert not failure.permanent and "ACCESS-TOKEN-SECRET" not in str(failure)
    assert failure.__cause__ is None and failure.__suppress_context__
