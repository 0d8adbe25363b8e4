"""WeChat Pay trade bills at the protocol level (issue 15, reconciliation), over
httpx.MockTransport: the tradebill request and the file download are both signed; the tradebill
answer is verified, the (unsigned) file is believed only with the announced SHA1 of its gunzipped
content; the CSV's backticks, summary and yuan amounts are read exactly into fen."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import re
from datetime import date
from decimal import Decimal
from uuid import UUID

import httpx
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from domain.ordering.reconcile import BillRow, BillUnavailable
from infra.wechatpay import WeChatPayClient, WeChatPayProvider
from infra.wechatpay._bills import fen, parse_trade_bill
from tests.fakes.wechatpay_bill import COLUMNS, Row, bill_text
from tests.fakes.wechatpay_server import MCHID, FakeWeChatPay, new_key
from tests.support import MovableClock

DAY = date(2026, 12, 5)
API = "http://wechatpay.test"
AUTH = re.compile(
    r'WECHATPAY2-SHA256-RSA2048 mchid="(?P<mchid>\d+)",nonce_str="(?P<nonce>\w+)",'
    r'signature="(?P<sig>[A-Za-z0-9+/=]+)",timestamp="(?P<ts>\d+)",serial_no="(?P<serial>\w+)"'
)


@pytest.fixture(scope="module")
def wechat_keys() -> tuple[object, object]:
    return new_key(), new_key()


@pytest.fixture
def fake(clock: MovableClock, wechat_keys: tuple[object, object]) -> FakeWeChatPay:
    merchant, platform = wechat_keys
    return FakeWeChatPay(clock.now, merchant_key=merchant, platform_key=platform)  # type: ignore[arg-type]


async def _no_payer(member_id: UUID, app_id: str) -> str | None:
    return None


def row(**values: str) -> Row:
    """A detail row as WeChat writes it, every amount column present."""
    base = dict.fromkeys(COLUMNS, "")
    base.update({c: "0.00" for c in COLUMNS if "金额" in c})
    base.update(values)
    return base


PAYMENT = row(
    交易时间="2026-12-05 10:15:00",
    商户号=MCHID,
    微信订单号="4200001234202612050000000001",
    商户订单号="0123456789abcdef0123456789abcdef",
    交易类型="JSAPI",
    交易状态="SUCCESS",
    应结订单金额="39.80",
    订单金额="39.80",
    商品名称="Order 1001, mangoes",  # a comma: the CSV quotes it
)
REFUND = row(
    交易时间="2026-12-05 18:00:00",
    商户号=MCHID,
    微信订单号="4200001234202612050000000001",
    商户订单号="0123456789abcdef0123456789abcdef",
    交易状态="REFUND",
    微信退款单号="50300000012026120500000001",
    商户退款单号="rf_0123456789abcdef0123456789abcd",
    退款金额="0.10",
    申请退款金额="0.10",
    退款状态="SUCCESS",
    订单金额="39.80",
)


class Bills:
    """A MockTransport WeChat: answers tradebill with a signed pointer to a gzip file."""

    def __init__(self, fake: FakeWeChatPay, text: str, **answer: object):
        self.fake, self.seen = fake, list[httpx.Request]()
        self.plain = text.encode()
        self.answer: dict[str, object] = {
            "hash_type": "SHA1",
            "hash_value": hashlib.sha1(self.plain).hexdigest(),
            "download_url": f"{API}/v3/billdownload/file?token=t0k3n",
            **answer,
        }
        self.error: tuple[int, str] | None = None

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        if request.url.path == "/v3/bill/tradebill":
            if self.error is not None:
                status, code = self.error
                body = json.dumps({"code": code, "message": "账单文件不存在"}).encode()
                return httpx.Response(status, content=body, headers=self.fake.signed_headers(body))
            body = json.dumps(self.answer).encode()
            return httpx.Response(200, content=body, headers=self.fake.signed_headers(body))
        return httpx.Response(200, content=gzip.compress(self.plain))  # no Wechatpay-* headers

    def provider(self, clock: MovableClock) -> WeChatPayProvider:
        client = WeChatPayClient(self.fake.config(API), clock, httpx.MockTransport(self))
        return WeChatPayProvider(client, clock, payer=_no_payer)


def signed_over(fake: FakeWeChatPay, request: httpx.Request, target: str) -> bool:
    fields = AUTH.fullmatch(request.headers["authorization"])
    assert fields is not None and fields["mchid"] == MCHID
    message = f"GET\n{target}\n{fields['ts']}\n{fields['nonce']}\n\n"
    raw = fake.merchant_key.sign(message.encode(), padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(raw).decode() == fields["sig"]


async def test_the_bill_is_asked_for_and_downloaded_with_signed_requests(
    fake: FakeWeChatPay, clock: MovableClock
) -> None:
    bills = Bills(fake, bill_text([PAYMENT, REFUND]))
    got = await bills.provider(clock).trade_bill(DAY)

    ask, download = bills.seen
    assert ask.method == download.method == "GET"
    assert signed_over(
        fake, ask, "/v3/bill/tradebill?bill_date=2026-12-05&bill_type=ALL&tar_type=GZIP"
    )
    assert signed_over(fake, download, "/v3/billdownload/file?token=t0k3n")
    assert got == [
        BillRow(
            trade_no="0123456789abcdef0123456789abcdef",
            trade_state="SUCCESS",
            amount=3980,
            transaction_id="4200001234202612050000000001",
            refund_no="",
            refund_amount=0,
            refund_state="",
        ),
        BillRow(
            trade_no="0123456789abcdef0123456789abcdef",
            trade_state="REFUND",
            amount=3980,
            transaction_id="4200001234202612050000000001",
            refund_no="rf_0123456789abcdef0123456789abcd",
            refund_amount=10,
            refund_state="SUCCESS",
        ),
    ]


async def test_a_file_that_is_not_the_announced_one_is_refused(
    fake: FakeWeChatPay, clock: MovableClock
) -> None:
    text = bill_text([PAYMENT])
    tampered = Bills(fake, text, hash_value=hashlib.sha1(text.encode() + b"\n").hexdigest())
    with pytest.raises(BillUnavailable, match="does not match its hash_value"):
        await tampered.provider(clock).trade_bill(DAY)
    # WeChat's hash is of the bill itself, not of the gzip carrying it.
    of_the_gzip = Bills(fake, text)
    of_the_gzip.answer["hash_value"] = hashlib.sha1(gzip.compress(text.encode())).hexdigest()
    with pytest.raises(BillUnavailable, match="does not match"):
        await of_the_gzip.provider(clock).trade_bill(DAY)
    unknown = Bills(fake, text, hash_type="MD5")
    with pytest.raises(BillUnavailable, match="unknown bill hash"):
        await unknown.provider(clock).trade_bill(DAY)


async def test_an_unsigned_answer_or_a_foreign_download_url_is_refused(
    fake: FakeWeChatPay, clock: MovableClock
) -> None:
    foreign = Bills(fake, bill_text([PAYMENT]), download_url="https://evil.example/bill?token=1")
    with pytest.raises(BillUnavailable, match="FOREIGN_URL"):
        await foreign.provider(clock).trade_bill(DAY)
    assert len(foreign.seen) == 1  # our signature never went there

    other = FakeWeChatPay(clock.now, merchant_key=fake.merchant_key, platform_key=new_key())
    forged = Bills(other, bill_text([PAYMENT]))  # signed, but not by WeChat's key
    client = WeChatPayClient(fake.config(API), clock, httpx.MockTransport(forged))
    with pytest.raises(BillUnavailable, match="not verified"):
        await WeChatPayProvider(client, clock, payer=_no_payer).trade_bill(DAY)
    assert len(forged.seen) == 1


async def test_a_day_without_trades_is_an_empty_bill_and_other_errors_are_unavailable(
    fake: FakeWeChatPay, clock: MovableClock
) -> None:
    bills = Bills(fake, "")
    bills.error = (400, "NO_STATEMENT_EXIST")
    assert await bills.provider(clock).trade_bill(DAY) == []
    bills.error = (400, "STATEMENT_CREATING")
    with pytest.raises(BillUnavailable, match="STATEMENT_CREATING"):
        await bills.provider(clock).trade_bill(DAY)


def test_the_csv_is_read_behind_its_backticks_and_without_its_summary() -> None:
    text = bill_text([PAYMENT, REFUND])
    assert text.splitlines()[1].startswith("`2026-12-05 10:15:00,`,`" + MCHID)
    assert '"`Order 1001, mangoes"' in text
    assert text.splitlines()[-2].startswith("总交易单数")
    rows = parse_trade_bill(text)
    assert [(r.trade_state, r.amount, r.refund_amount) for r in rows] == [
        ("SUCCESS", 3980, 0),
        ("REFUND", 3980, 10),
    ]
    assert parse_trade_bill("") == []
    with pytest.raises(BillUnavailable, match="no column"):
        parse_trade_bill("交易时间,商户订单号\n`2026-12-05,`x\n")


@pytest.mark.parametrize(
    ("yuan", "expected"),
    [("0.01", 1), ("19.90", 1990), ("0.1", 10), ("100", 10000), ("1234567.89", 123456789), ("", 0)],
)
def test_yuan_become_fen_exactly(yuan: str, expected: int) -> None:
    assert fen(yuan) == expected
    assert Decimal(expected) / 100 == Decimal(yuan or "0")


@pytest.mark.parametrize(
    "bad", ["1.005", "abc", "NaN", "Infinity", "1e400", "1e2", "12345678901234.00", " 1"]
)
def test_an_amount_that_is_not_whole_fen_is_refused(bad: str) -> None:
    with pytest.raises(BillUnavailable):
        fen(bad)
