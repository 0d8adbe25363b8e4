"""The trade bills of the fake WeChat Pay server: `GET /v3/bill/tradebill` (a signed answer naming
the file's SHA1 and download_url) and the file itself at `/v3/billdownload/file?token=` (gzip
CSV, not signed, as WeChat serves it).

A day's bill is made from the server's own transactions paid that Beijing day and its refunds
that succeeded that day. A test crafts a different one (rows added, altered or dropped) with
`fake.bills.craft(day, rows)`, starting from `fake.bills.rows(fake, day)`."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import secrets
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

if TYPE_CHECKING:
    from tests.fakes.wechatpay_server import FakeWeChatPay

BEIJING = timezone(timedelta(hours=8))
COLUMNS = [
    "交易时间",
    "公众账号ID",
    "商户号",
    "特约商户号",
    "设备号",
    "微信订单号",
    "商户订单号",
    "用户标识",
    "交易类型",
    "交易状态",
    "付款银行",
    "货币种类",
    "应结订单金额",
    "代金券金额",
    "微信退款单号",
    "商户退款单号",
    "退款金额",
    "充值券退款金额",
    "退款类型",
    "退款状态",
    "商品名称",
    "商户数据包",
    "手续费",
    "费率",
    "订单金额",
    "申请退款金额",
    "费率备注",
]
SUMMARY = (
    "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额"
)
FEE_RATE = Decimal("0.006")
Row = dict[str, str]


def yuan(fen: int | Decimal) -> str:
    return f"{Decimal(fen) / 100:.2f}"


@dataclass
class BillDesk:
    """When each transaction was paid and each refund succeeded (the bill day of a row), the
    crafted bills, and the files handed out (by download token)."""

    paid_at: dict[str, datetime] = field(default_factory=dict)  # by out_trade_no
    refunded_at: dict[str, datetime] = field(default_factory=dict)  # by out_refund_no
    crafted: dict[date, list[Row]] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)  # gzip by token
    asked: list[str] = field(default_factory=list)  # bill_date of each tradebill request
    downloads: list[str] = field(default_factory=list)  # token of each download
    wrong_hash: bool = False  # announce a hash_value that is not the file's

    def craft(self, day: date, rows: list[Row]) -> None:
        self.crafted[day] = rows

    def rows(self, fake: FakeWeChatPay, day: date) -> list[Row]:
        """The ALL bill of `day` as WeChat would make it from what the server holds."""
        rows: list[Row] = []
        for no, at in sorted(self.paid_at.items(), key=lambda item: item[1]):
            if at.astimezone(BEIJING).date() == day:
                rows.append(_payment_row(fake, no, at))
        for no, at in sorted(self.refunded_at.items(), key=lambda item: item[1]):
            if at.astimezone(BEIJING).date() == day:
                rows.append(_refund_row(fake, no, at))
        return rows


def _base(fake: FakeWeChatPay, out_trade_no: str, at: datetime) -> Row:
    tx = fake.transactions[out_trade_no]
    total = int(tx.request["amount"]["total"])
    row = dict.fromkeys(COLUMNS, "")
    row.update(
        {
            "交易时间": at.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S"),
            "公众账号ID": tx.request["appid"],
            "商户号": fake.mchid,
            "特约商户号": "0",
            "微信订单号": tx.transaction_id,
            "商户订单号": out_trade_no,
            "用户标识": tx.request.get("payer", {}).get("openid", "o-native-payer"),
            "交易类型": tx.kind,
            "付款银行": "OTHERS",
            "货币种类": "CNY",
            "应结订单金额": yuan(total),
            "代金券金额": "0.00",
            "微信退款单号": "0",
            "商户退款单号": "0",
            "退款金额": "0.00",
            "充值券退款金额": "0.00",
            "商品名称": tx.request.get("description", ""),
            "费率": "0.60%",
            "订单金额": yuan(total),
            "申请退款金额": "0.00",
        }
    )
    return row


def _payment_row(fake: FakeWeChatPay, out_trade_no: str, at: datetime) -> Row:
    row = _base(fake, out_trade_no, at)
    total = int(fake.transactions[out_trade_no].request["amount"]["total"])
    row.update({"交易状态": "SUCCESS", "手续费": yuan((total * FEE_RATE).quantize(Decimal(1)))})
    return row


def _refund_row(fake: FakeWeChatPay, out_refund_no: str, at: datetime) -> Row:
    refund = fake.refunds[out_refund_no]
    row = _base(fake, refund.request["out_trade_no"], at)
    row.update(
        {
            "交易状态": "REFUND",
            "微信退款单号": refund.refund_id,
            "商户退款单号": out_refund_no,
            "退款金额": yuan(refund.amount),
            "退款类型": "ORIGINAL",
            "退款状态": refund.status,
            "手续费": "0.00",
            "申请退款金额": yuan(refund.amount),
        }
    )
    return row


def bill_text(rows: list[Row]) -> str:
    """The CSV as WeChat writes it: detail values behind a backtick, then the summary."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow(f"`{row.get(c, '')}" for c in COLUMNS)

    def total(column: str) -> str:
        return yuan(sum(Decimal(r.get(column) or "0") * 100 for r in rows))

    writer.writerow(SUMMARY.split(","))
    writer.writerow(
        f"`{v}"
        for v in (
            str(len(rows)),
            total("应结订单金额"),
            total("退款金额"),
            total("充值券退款金额"),
            total("手续费"),
            total("订单金额"),
            total("申请退款金额"),
        )
    )
    return out.getvalue()


def bill_routes(fake: FakeWeChatPay) -> list[Route]:
    async def trade_bill(request: Request) -> Response:
        _, refused = await fake._checked(request)
        if refused is not None:
            return refused
        query = request.query_params
        fake.bills.asked.append(query.get("bill_date", ""))
        try:
            day = date.fromisoformat(query.get("bill_date", ""))
        except ValueError:
            return fake._error(400, "PARAM_ERROR", "bill_date")
        if query.get("bill_type", "ALL") != "ALL" or query.get("tar_type") != "GZIP":
            return fake._error(400, "PARAM_ERROR", "this fake serves ALL bills as GZIP")
        rows = fake.bills.crafted.get(day)
        if rows is None:
            rows = fake.bills.rows(fake, day)
            if not rows:
                return fake._error(400, "NO_STATEMENT_EXIST", "账单文件不存在")
        plain = bill_text(rows).encode()
        token = secrets.token_urlsafe(16)
        fake.bills.files[token] = gzip.compress(plain)
        digest = hashlib.sha1(plain).hexdigest()
        if fake.bills.wrong_hash:
            digest = hashlib.sha1(plain + b" ").hexdigest()
        url = f"{request.base_url}v3/billdownload/file?token={token}"
        return fake._answer(200, {"hash_type": "SHA1", "hash_value": digest, "download_url": url})

    async def download(request: Request) -> Response:
        _, refused = await fake._checked(request)
        if refused is not None:
            return refused
        token = request.query_params.get("token", "")
        fake.bills.downloads.append(token)
        data = fake.bills.files.get(token)
        if data is None:
            return Response(b'{"code":"RESOURCE_NOT_EXISTS"}', status_code=404)
        # The file is not signed: no Wechatpay-* headers.
        return Response(data, media_type="application/octet-stream")

    return [
        Route("/v3/bill/tradebill", trade_bill, methods=["GET"]),
        Route("/v3/billdownload/file", download, methods=["GET"]),
    ]
