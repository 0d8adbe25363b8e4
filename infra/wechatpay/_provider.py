"""`wechatpay`: the PaymentProvider, RefundGateway and BillSource of WeChat Pay API v3 for the
mini-program (JSAPI) and the kiosk (Native).

A payment attempt's `out_trade_no` is its payment id (32 hex characters); asking WeChat again
for the same attempt with the same parameters gives back the same `prepay_id`. A refund's
`out_refund_no` is the refund's own; submitting it again gives back the same refund."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import date, datetime, timedelta, timezone
from typing import Any
from uuid import UUID

from domain.clock import Clock
from domain.errors import OrderError, OrderErrorCode
from domain.ordering.model import Order, Payment
from domain.ordering.ports import (
    MalformedNotification,
    PayChannel,
    PaymentNotice,
    PaymentQueryFailed,
    PaymentRequest,
    RefundFailed,
    RefundNotice,
    RefundState,
    RefundSubmitted,
    WebhookRejected,
)
from domain.ordering.reconcile import BillRow, BillUnavailable
from infra.wechatpay._bills import (
    NO_BILL,
    TRADE_BILL,
    bill_query,
    download_of,
    parse_trade_bill,
    unpacked,
)
from infra.wechatpay._client import (
    SignatureRejected,
    WeChatPayClient,
    WeChatPayError,
    verify_signed,
)
from infra.wechatpay._config import WeChatPayConfig
from infra.wechatpay._crypto import (
    BadCiphertext,
    decrypt_resource,
    nonce_str,
    pay_sign_message,
    rsa_sign,
)
from infra.wechatpay._refunds import (
    REFUNDS,
    refund_body,
    refund_notice,
    refund_state,
    refused,
    submitted,
)

BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")
MAX_NOTIFIED_AMOUNT = 10**12  # fen: more than any order, inside BIGINT
JSAPI = "/v3/pay/transactions/jsapi"
# Transaction states in which nobody can pay any more (REFUND: paid, then refunded).
CLOSED_STATES = frozenset({"CLOSED", "REVOKED", "PAYERROR"})
NATIVE = "/v3/pay/transactions/native"
log = logging.getLogger("omnishelf.wechatpay")
# The member's openid under a WeChat app id, or None: the members context's service.
PayerLookup = Callable[[UUID, str], Awaitable[str | None]]


def rfc3339_beijing(moment: datetime) -> str:
    """`time_expire` as WeChat Pay writes times: to the second, in +08:00."""
    return moment.astimezone(BEIJING).isoformat(timespec="seconds")


class WeChatPayProvider:
    name = "wechatpay"
    # A prepay_id is valid for two hours; asked again within them for the same out_trade_no,
    # WeChat answers with the same one.
    resume_within = timedelta(minutes=110)

    def __init__(self, client: WeChatPayClient, clock: Clock, payer: PayerLookup):
        self._client, self._clock, self._payer = client, clock, payer

    @property
    def _config(self) -> WeChatPayConfig:
        return self._client.config

    async def start(self, order: Order, payment_id: UUID, channel: PayChannel) -> PaymentRequest:
        """A JSAPI transaction for the member's mini-program, or a Native one whose code_url
        the kiosk shows as a QR code."""
        config = self._config
        body: dict[str, Any] = {
            "appid": config.appid,
            "mchid": config.mchid,
            "description": f"Order {order.number}",
            "out_trade_no": payment_id.hex,
            "notify_url": config.notify_url,
            "amount": {"total": order.amount_due, "currency": order.currency},
        }
        if order.payment_deadline is not None:
            body["time_expire"] = rfc3339_beijing(order.payment_deadline)
        if channel is PayChannel.KIOSK_QR:
            code_url = await self._prepay(NATIVE, body, "code_url")
            return PaymentRequest(provider_ref=payment_id.hex, client_payload={"codeUrl": code_url})
        openid = await self._payer(order.member_id, config.appid) if order.member_id else None
        if openid is None:
            raise OrderError(
                OrderErrorCode.PAYMENT_NOT_ALLOWED,
                "Sign in with WeChat in the mini-program to pay with WeChat Pay.",
                ["provider"],
            )
        body["payer"] = {"openid": openid}
        prepay_id = await self._prepay(JSAPI, body, "prepay_id")
        return PaymentRequest(provider_ref=payment_id.hex, client_payload=self._jsapi(prepay_id))

    async def _prepay(self, path: str, body: dict[str, Any], field: str) -> str:
        try:
            answer = await self._client.request("POST", path, body=body)
        except (WeChatPayError, SignatureRejected) as error:
            log.warning("WeChat Pay refused a prepay", extra={"why": str(error)})
            answer = {}
        value = answer.get(field)
        if not isinstance(value, str) or not value:
            raise OrderError(
                OrderErrorCode.PAYMENT_NOT_ALLOWED,
                "WeChat Pay did not take the payment; try again in a moment.",
                ["provider"],
            )
        return value

    def _jsapi(self, prepay_id: str) -> dict[str, str]:
        """Exactly the parameters of `wx.requestPayment`."""
        app_id, timestamp, nonce = (
            self._config.appid,
            str(int(self._clock.now().timestamp())),
            nonce_str(),
        )
        package = f"prepay_id={prepay_id}"
        return {
            "appId": app_id,
            "timeStamp": timestamp,
            "nonceStr": nonce,
            "package": package,
            "signType": "RSA",
            "paySign": rsa_sign(
                self._config.private_key, pay_sign_message(app_id, timestamp, nonce, package)
            ),
        }

    def parse_notification(
        self, headers: Mapping[str, str], body: bytes
    ) -> PaymentNotice | RefundNotice:
        """A TRANSACTION.* notification (resource `transaction`) or a REFUND.* one
        (resource `refund`), at the same notify_url."""
        try:
            verify_signed(self._config, self._clock, headers, body)
        except SignatureRejected as error:
            raise WebhookRejected(str(error)) from None
        envelope = _json(body)
        resource = envelope.get("resource")
        if not isinstance(resource, dict) or resource.get("algorithm") != "AEAD_AES_256_GCM":
            raise MalformedNotification("no AEAD_AES_256_GCM resource")
        kind = resource.get("original_type")
        if kind not in ("transaction", "refund"):
            raise MalformedNotification("neither a payment nor a refund notification")
        try:
            plain = decrypt_resource(
                self._config.apiv3_key,
                str(resource.get("nonce", "")),
                str(resource.get("associated_data", "")),
                str(resource.get("ciphertext", "")),
            )
        except BadCiphertext as error:
            raise WebhookRejected(str(error)) from None
        if kind == "refund":
            return refund_notice(_json(plain), self._config.mchid)
        return self._notice(_json(plain))

    async def submit_refund(
        self, payment: Payment, out_refund_no: str, amount: int, reason: str
    ) -> RefundSubmitted | RefundFailed:
        """`POST /v3/refund/domestic/refunds`; WeChat answers a repeated out_refund_no with the
        same refund, so a resubmission never refunds twice."""
        body = refund_body(payment, out_refund_no, amount, reason, self._config.notify_url)
        try:
            answer = await self._client.request("POST", REFUNDS, body=body)
            return submitted(refund_state(answer, out_refund_no))
        except WeChatPayError as error:
            log.warning("WeChat Pay refused a refund", extra={"why": str(error)})
            return refused(error)
        except SignatureRejected as error:  # not WeChat's answer: ask again later
            return RefundFailed(f"answer not verified: {error}", retry=True)

    async def refund_status(self, out_refund_no: str) -> tuple[RefundState, str]:
        """`GET /v3/refund/domestic/refunds/{out_refund_no}`. An answer we cannot have (an
        error, or one that does not verify) leaves the refund PROCESSING: the job asks again."""
        try:
            answer = await self._client.request("GET", f"{REFUNDS}/{out_refund_no}")
            state = refund_state(answer, out_refund_no)
        except (WeChatPayError, SignatureRejected) as error:
            log.warning("WeChat Pay refund query failed", extra={"why": str(error)})
            return RefundState.PROCESSING, ""
        failed = state in (RefundState.ABNORMAL, RefundState.CLOSED)
        return state, state.value if failed else ""

    async def query(self, provider_ref: str) -> PaymentNotice | None:
        """`GET /v3/pay/transactions/out-trade-no/{no}?mchid=`: the transaction read as its
        notification would be; None for an out_trade_no WeChat does not know."""
        path = f"/v3/pay/transactions/out-trade-no/{provider_ref}"
        try:
            answer = await self._client.request("GET", path, query={"mchid": self._config.mchid})
            notice = self._notice(answer)
        except WeChatPayError as error:
            if error.code == "ORDER_NOT_EXIST":
                return None
            raise PaymentQueryFailed(f"{error.status} {error.code}") from None
        except (SignatureRejected, WebhookRejected) as error:
            raise PaymentQueryFailed(str(error)) from None
        if notice.provider_ref != provider_ref:
            raise PaymentQueryFailed("the answer is about another out_trade_no")
        return notice

    async def close(self, provider_ref: str) -> PaymentNotice | None:
        """`POST /v3/pay/transactions/out-trade-no/{no}/close` (204, no body). When WeChat
        refuses (ORDERPAID, or anything else), the transaction itself says how it stands:
        paid (the notice), closed or never known (None), or still payable (try again)."""
        path = f"/v3/pay/transactions/out-trade-no/{provider_ref}/close"
        try:
            await self._client.request("POST", path, body={"mchid": self._config.mchid})
            return None
        except (WeChatPayError, SignatureRejected) as error:
            log.info("WeChat Pay did not close a transaction", extra={"why": str(error)})
        notice = await self.query(provider_ref)
        if notice is not None and notice.succeeded:
            return notice
        if notice is None or notice.state in CLOSED_STATES:
            return None
        raise PaymentQueryFailed(f"not closed: the transaction is {notice.state}")

    async def trade_bill(self, day: date) -> list[BillRow]:
        """The ALL trade bill of the Beijing `day` (`GET /v3/bill/tradebill`, then its
        download_url): verified answer, then the file checked against its SHA1."""
        try:
            answer = await self._client.request("GET", TRADE_BILL, query=bill_query(day))
            url, sha1 = download_of(answer)
            raw = await self._client.download(url)
        except WeChatPayError as error:
            if error.code == NO_BILL:
                return []
            raise BillUnavailable(f"{error.status} {error.code}: {error.message}") from None
        except SignatureRejected as error:
            raise BillUnavailable(f"answer not verified: {error}") from None
        return parse_trade_bill(unpacked(raw, sha1))

    def _notice(self, transaction: dict[str, Any]) -> PaymentNotice:
        """A transaction (decrypted notification or query answer) of our merchant and app, or
        WebhookRejected."""
        if transaction.get("mchid") != self._config.mchid:
            raise WebhookRejected("mchid is not ours")
        if transaction.get("appid") != self._config.appid:
            raise WebhookRejected("appid is not ours")
        out_trade_no, amount = transaction.get("out_trade_no"), transaction.get("amount")
        if not isinstance(out_trade_no, str) or not isinstance(amount, dict):
            raise MalformedNotification("no out_trade_no or amount")
        total, currency = amount.get("total"), amount.get("currency")
        if type(total) is not int or not 0 <= total <= MAX_NOTIFIED_AMOUNT:
            raise MalformedNotification("amount.total is not a whole number of fen")
        if not isinstance(currency, str):
            raise MalformedNotification("no amount.currency")
        return PaymentNotice(
            provider_ref=out_trade_no,
            amount=total,
            currency=currency,
            succeeded=transaction.get("trade_state") == "SUCCESS",
            state=str(transaction.get("trade_state", "")),
        )


def _json(raw: bytes) -> dict[str, Any]:
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        raise MalformedNotification("not JSON") from None
    if not isinstance(data, dict):
        raise MalformedNotification("not a JSON object")
    return data
