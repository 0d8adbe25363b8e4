"""WeChat Pay trade bills (`GET /v3/bill/tradebill`), read into BillRows.

The bill is asked for with a signed, verified request; its answer names `download_url`,
`hash_type` (SHA1) and `hash_value`. The file at `download_url` is fetched with a signed request
too, but WeChat does not sign its answer: the file is believed only when the SHA1 of the bill,
after gunzip (WeChat: "原始账单(gzip需要解压缩)的摘要值"), is `hash_value`.

The file is UTF-8 CSV: a header row, the detail rows (every value prefixed with a backtick so
that Excel keeps long numbers), then a summary header and a summary row. Amounts are yuan with
two decimals, read into fen with Decimal, never a float."""

from __future__ import annotations

import csv
import gzip
import hashlib
import hmac
import io
import re
import zlib
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from domain.ordering.reconcile import BillRow, BillUnavailable

TRADE_BILL = "/v3/bill/tradebill"
NO_BILL = "NO_STATEMENT_EXIST"  # WeChat's answer for a day without trades
# The columns read, by their header names in an ALL bill.
TRADE_NO, TRANSACTION_ID, STATE = "商户订单号", "微信订单号", "交易状态"
REFUND_NO, REFUND_AMOUNT, REFUND_STATE = "商户退款单号", "申请退款金额", "退款状态"
SETTLED_REFUND, ORDER_AMOUNT, SETTLED_AMOUNT = "退款金额", "订单金额", "应结订单金额"
REQUIRED = (TRADE_NO, STATE, REFUND_NO, REFUND_STATE, SETTLED_AMOUNT, SETTLED_REFUND)
SUMMARY_FIRST = "总交易单数"  # the first column of the summary header
AMOUNT = re.compile(r"-?[0-9]{1,12}(\.[0-9]{1,2})?")
MAX_BILL_BYTES = 512 * 1024 * 1024  # unzipped; a day of a large merchant stays far below


def bill_query(day: date) -> dict[str, str]:
    return {"bill_date": day.isoformat(), "bill_type": "ALL", "tar_type": "GZIP"}


def download_of(answer: dict[str, Any]) -> tuple[str, str]:
    """The download_url and SHA1 hash_value of a tradebill answer."""
    url, kind, value = answer.get("download_url"), answer.get("hash_type"), answer.get("hash_value")
    if not isinstance(url, str) or not url:
        raise BillUnavailable("the tradebill answer has no download_url")
    if kind != "SHA1" or not isinstance(value, str) or len(value) != 40:
        raise BillUnavailable(f"unknown bill hash {kind!r}")
    return url, value.lower()


def unpacked(raw: bytes, sha1: str) -> str:
    """The bill's text: gunzipped, its SHA1 checked against `sha1`, decoded from UTF-8."""
    try:
        plain = gzip.GzipFile(fileobj=io.BytesIO(raw)).read(MAX_BILL_BYTES + 1)
    except (OSError, EOFError, zlib.error):
        raise BillUnavailable("the bill file is not gzip") from None
    if len(plain) > MAX_BILL_BYTES:
        raise BillUnavailable("the bill file is too large")
    if not hmac.compare_digest(hashlib.sha1(plain).hexdigest(), sha1):
        raise BillUnavailable("the bill file does not match its hash_value")
    try:
        return plain.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BillUnavailable("the bill file is not UTF-8") from None


def fen(text: str) -> int:
    """`12.34` yuan as 1234 fen, exactly; an empty value is 0. Only plain decimals with at
    most two places and 12 digits before them (no exponent, NaN or infinity) are amounts."""
    if not text:
        return 0
    if AMOUNT.fullmatch(text) is None:
        raise BillUnavailable(f"{text[:20]!r} is not an amount in yuan")
    return int(Decimal(text) * 100)


def _value(cell: str) -> str:
    cell = cell.strip()
    return cell[1:] if cell.startswith("`") else cell


def parse_trade_bill(text: str) -> list[BillRow]:
    """The detail rows of an ALL trade bill (the summary is left out)."""
    rows = list(csv.reader(io.StringIO(text)))
    rows = [r for r in rows if any(c.strip() for c in r)]
    if not rows:
        return []
    header = [_value(c) for c in rows[0]]
    missing = [name for name in REQUIRED if name not in header]
    if missing:
        raise BillUnavailable(f"the bill has no column {missing[0]}")
    column = {name: i for i, name in enumerate(header)}
    found: list[BillRow] = []
    for raw in rows[1:]:
        values = [_value(c) for c in raw]
        if values and values[0] == SUMMARY_FIRST:
            break
        if len(values) != len(header):
            raise BillUnavailable("a bill row does not have the header's columns")
        found.append(_row(values, column))
    return found


def _row(values: Sequence[str], column: dict[str, int]) -> BillRow:
    def get(name: str) -> str:
        return values[column[name]] if name in column else ""

    amount = get(ORDER_AMOUNT) or get(SETTLED_AMOUNT)
    refund = get(REFUND_AMOUNT) or get(SETTLED_REFUND)
    return BillRow(
        trade_no=get(TRADE_NO),
        trade_state=get(STATE),
        amount=fen(amount),
        transaction_id=get(TRANSACTION_ID),
        refund_no=get(REFUND_NO),
        refund_amount=fen(refund),
        refund_state=get(REFUND_STATE),
    )
