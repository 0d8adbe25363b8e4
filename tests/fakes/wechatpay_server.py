"""A fake WeChat Pay API v3 server speaking the real protocol, with RSA keys of its own made
at test time: it checks our request signatures, answers JSAPI/Native prepay, query by
out_trade_no, close and refunds (create, query by out_refund_no) with signed answers, and
writes signed, encrypted payment and refund notifications. `use_certificates()` switches it
to the platform-certificate mode: answers signed under the serial of a self-signed certificate
of its platform key, which `/v3/certificates` hands out encrypted with the APIv3 key."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from cryptography.x509.oid import NameOID
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from infra.wechatpay import (
    MAX_CLOCK_SKEW,
    PlatformCertificate,
    WeChatPayConfig,
    encrypt_resource,
    load_certificate,
    nonce_str,
    parse_authorization,
    request_message,
    response_message,
    rfc3339_beijing,
    rsa_sign,
    rsa_verify,
)
from tests.fakes.wechatpay_bill import BillDesk, bill_routes

MCHID = "1900000109"
MERCHANT_SERIAL = "3775B6A45ACD588826D15E583A95F5DD3B8AC8F5"
PUBLIC_KEY_ID = "PUB_KEY_ID_0114232134912410000000000000"
APIV3_KEY = b"0123456789abcdefghijklmnopqrstuv"


def new_key() -> RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def self_signed(key: RSAPrivateKey, start: datetime, end: datetime) -> PlatformCertificate:
    """An X.509 certificate of `key` signed by itself, valid from `start` to `end`."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Tenpay.com Root CA")])
    built = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .sign(key, hashes.SHA256())
    )
    return load_certificate(built.public_bytes(serialization.Encoding.PEM))


@dataclass
class Transaction:
    kind: str  # JSAPI or NATIVE
    request: dict[str, Any]
    prepay: str  # prepay_id, or code_url for NATIVE
    state: str = "NOTPAY"
    transaction_id: str = ""


@dataclass
class Refund:
    request: dict[str, Any]
    refund_id: str
    status: str  # PROCESSING, then SUCCESS, ABNORMAL or CLOSED

    @property
    def amount(self) -> int:
        return int(self.request["amount"]["refund"])


@dataclass
class FakeWeChatPay:
    """`now` is the clock both sides use (tests move it). `merchant_key` is the key our client
    signs with; `platform_key` signs this server's answers under PUBLIC_KEY_ID."""

    now: Callable[[], datetime]
    appid: str = "wx-demo"
    mchid: str = MCHID
    merchant_key: RSAPrivateKey = field(default_factory=new_key)
    platform_key: RSAPrivateKey = field(default_factory=new_key)
    signing_serial: str = PUBLIC_KEY_ID  # the Wechatpay-Serial of its answers
    transactions: dict[str, Transaction] = field(default_factory=dict)
    refused: list[str] = field(default_factory=list)  # why each refused request was refused
    queried: list[str] = field(default_factory=list)  # out_trade_no of each query
    closed: list[str] = field(default_factory=list)  # out_trade_no of each close asked for
    # The next close requests are answered with this error: (HTTP status, code, message).
    close_errors: list[tuple[int, str, str]] = field(default_factory=list)
    refunds: dict[str, Refund] = field(default_factory=dict)  # by out_refund_no
    refund_requests: list[dict[str, Any]] = field(default_factory=list)  # every body, repeats too
    refund_queries: list[str] = field(default_factory=list)  # out_refund_no of each query
    refund_answer: str = "PROCESSING"  # the status a new refund starts in
    # The next refund submissions are answered with this error: (HTTP status, code, message).
    refund_errors: list[tuple[int, str, str]] = field(default_factory=list)
    bills: BillDesk = field(default_factory=BillDesk)  # trade bills: tests/fakes/wechatpay_bill.py

    def config(self, api_base: str = "http://wechatpay.test", **changes: Any) -> WeChatPayConfig:
        values: dict[str, Any] = {
            "mchid": self.mchid,
            "appid": self.appid,
            "merchant_serial": MERCHANT_SERIAL,
            "private_key": self.merchant_key,
            "apiv3_key": APIV3_KEY,
            "public_key_id": PUBLIC_KEY_ID,
            "public_key": self.platform_key.public_key(),
            "notify_url": "https://shop.example.com/webhooks/payments/wechatpay",
            "api_base": api_base,
        }
        if self.signing_serial != PUBLIC_KEY_ID:
            values.update(
                public_key_id="", public_key=None, platform_certificates=(self.certificate,)
            )
        return WeChatPayConfig(**{**values, **changes})

    def write_keys(self, folder: Path) -> tuple[Path, Path]:
        """The merchant's private key and WeChat's public key as PEM files (for settings)."""
        private = folder / "apiclient_key.pem"
        public = folder / "pub_key.pem"
        private.write_bytes(
            self.merchant_key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        public.write_bytes(
            self.platform_key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
        return private, public

    # ------------------------------------------------------------ platform certificates

    def use_certificates(self) -> None:
        """The platform-certificate mode: sign under the certificate's serial; `config()`
        then verifies with the certificate alone."""
        self.signing_serial = self.certificate.serial

    @cached_property
    def certificate(self) -> PlatformCertificate:
        """A self-signed X.509 certificate of the platform key, valid for five years."""
        start = self.now() - timedelta(days=1)
        return self_signed(self.platform_key, start, start + timedelta(days=5 * 365))

    def write_certificate(self, folder: Path) -> Path:
        path = folder / self.certificate.file_name
        path.write_bytes(self.certificate.pem)
        return path

    async def _certificates(self, request: Request) -> Response:
        """GET /v3/certificates: the certificate sealed with the APIv3 key, as WeChat lists it."""
        _, refused = await self._checked(request)
        if refused is not None:
            return refused
        nonce, associated = secrets.token_hex(6), "certificate"
        cert = self.certificate
        entry = {
            "serial_no": cert.serial,
            "effective_time": rfc3339_beijing(cert.not_before),
            "expire_time": rfc3339_beijing(cert.not_after),
            "encrypt_certificate": {
                "algorithm": "AEAD_AES_256_GCM",
                "nonce": nonce,
                "associated_data": associated,
                "ciphertext": encrypt_resource(APIV3_KEY, nonce, associated, cert.pem),
            },
        }
        return self._answer(200, {"data": [entry]})

    # ------------------------------------------------------------ signing as WeChat does

    def signed_headers(
        self,
        body: bytes,
        *,
        serial: str | None = None,
        timestamp: datetime | None = None,
        key: RSAPrivateKey | None = None,
    ) -> dict[str, str]:
        stamp = str(int((timestamp or self.now()).timestamp()))
        nonce = nonce_str()
        signature = rsa_sign(
            key or self.platform_key, response_message(stamp, nonce, body.decode())
        )
        return {
            "Wechatpay-Serial": self.signing_serial if serial is None else serial,
            "Wechatpay-Timestamp": stamp,
            "Wechatpay-Nonce": nonce,
            "Wechatpay-Signature": signature,
            "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048",
        }

    def _answer(self, status: int, data: Mapping[str, Any] | None = None) -> Response:
        body = b"" if data is None else json.dumps(data).encode()
        headers = self.signed_headers(body)
        if data is not None:
            headers["Content-Type"] = "application/json"
        return Response(body, status_code=status, headers=headers)

    def _error(self, status: int, code: str, message: str) -> Response:
        self.refused.append(code)
        return self._answer(status, {"code": code, "message": message})

    # ------------------------------------------------------------ notifications

    def transaction(self, out_trade_no: str, /, **changes: Any) -> dict[str, Any]:
        """The transaction resource as WeChat reports it (`changes` replace fields)."""
        tx = self.transactions[out_trade_no]
        amount = tx.request["amount"]
        payer = tx.request.get("payer", {"openid": "o-native-payer"})
        resource: dict[str, Any] = {
            "appid": tx.request["appid"],
            "mchid": tx.request["mchid"],
            "out_trade_no": out_trade_no,
            "transaction_id": tx.transaction_id or None,
            "trade_type": tx.kind,
            "trade_state": tx.state,
            "trade_state_desc": tx.state,
            "bank_type": "OTHERS",
            "attach": "",
            "success_time": self.now().isoformat(timespec="seconds")
            if tx.state == "SUCCESS"
            else None,
            "payer": payer,
            "amount": {
                "total": amount["total"],
                "payer_total": amount["total"],
                "currency": amount.get("currency", "CNY"),
                "payer_currency": "CNY",
            },
        }
        resource = {k: v for k, v in resource.items() if v is not None}
        resource.update(changes)
        return resource

    def pay(self, out_trade_no: str) -> None:
        """The payer confirms in WeChat: the transaction succeeds (a closed one cannot)."""
        tx = self.transactions[out_trade_no]
        assert tx.state == "NOTPAY", f"a {tx.state} transaction cannot be paid"
        tx.state, tx.transaction_id = "SUCCESS", "42000" + secrets.token_hex(12)
        self.bills.paid_at[out_trade_no] = self.now()

    def notification(
        self,
        out_trade_no: str,
        /,
        *,
        apiv3_key: bytes = APIV3_KEY,
        **changes: Any,
    ) -> bytes:
        """The body WeChat POSTs to notify_url: the transaction encrypted with the APIv3 key."""
        plain = json.dumps(self.transaction(out_trade_no, **changes)).encode()
        nonce, associated = secrets.token_hex(6), "transaction"
        envelope = {
            "id": secrets.token_hex(18),
            "create_time": self.now().isoformat(timespec="seconds"),
            "resource_type": "encrypt-resource",
            "event_type": "TRANSACTION.SUCCESS",
            "summary": "支付成功",
            "resource": {
                "original_type": "transaction",
                "algorithm": "AEAD_AES_256_GCM",
                "ciphertext": encrypt_resource(apiv3_key, nonce, associated, plain),
                "associated_data": associated,
                "nonce": nonce,
            },
        }
        return json.dumps(envelope, ensure_ascii=False).encode()

    def refund_resource(self, out_refund_no: str, /, **changes: Any) -> dict[str, Any]:
        """The refund as WeChat reports it, in an answer or (decrypted) in a notification."""
        refund = self.refunds[out_refund_no]
        request = refund.request
        tx = self.transactions[request["out_trade_no"]]
        resource: dict[str, Any] = {
            "mchid": self.mchid,
            "out_trade_no": request["out_trade_no"],
            "transaction_id": tx.transaction_id,
            "out_refund_no": out_refund_no,
            "refund_id": refund.refund_id,
            "channel": "ORIGINAL",
            "user_received_account": "支付用户零钱",
            "status": refund.status,
            "create_time": self.now().isoformat(timespec="seconds"),
            "amount": {
                "total": request["amount"]["total"],
                "refund": refund.amount,
                "payer_total": request["amount"]["total"],
                "payer_refund": refund.amount,
                "currency": "CNY",
            },
        }
        if refund.status == "SUCCESS":
            resource["success_time"] = self.now().isoformat(timespec="seconds")
        resource.update(changes)
        return resource

    def end_refund(self, out_refund_no: str, status: str = "SUCCESS") -> None:
        """The money reaches the payer (SUCCESS), or cannot (ABNORMAL, CLOSED)."""
        self.refunds[out_refund_no].status = status
        if status == "SUCCESS":
            self.bills.refunded_at[out_refund_no] = self.now()

    def refund_notification(
        self, out_refund_no: str, /, *, apiv3_key: bytes = APIV3_KEY, **changes: Any
    ) -> bytes:
        """The REFUND.<status> body WeChat POSTs to the refund's notify_url, encrypted."""
        resource = self.refund_resource(out_refund_no)
        resource["refund_status"] = resource.pop("status")  # as a notification names it
        resource.update(changes)
        plain = json.dumps(resource, ensure_ascii=False).encode()
        nonce, associated = secrets.token_hex(6), "refund"
        envelope = {
            "id": secrets.token_hex(18),
            "create_time": self.now().isoformat(timespec="seconds"),
            "resource_type": "encrypt-resource",
            "event_type": f"REFUND.{resource['refund_status']}",
            "summary": "退款状态变更",
            "resource": {
                "original_type": "refund",
                "algorithm": "AEAD_AES_256_GCM",
                "ciphertext": encrypt_resource(apiv3_key, nonce, associated, plain),
                "associated_data": associated,
                "nonce": nonce,
            },
        }
        return json.dumps(envelope, ensure_ascii=False).encode()

    # ------------------------------------------------------------ the API

    @property
    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v3/certificates", self._certificates, methods=["GET"]),
                Route("/v3/pay/transactions/jsapi", self._prepay, methods=["POST"]),
                Route("/v3/pay/transactions/native", self._prepay, methods=["POST"]),
                Route("/v3/pay/transactions/out-trade-no/{no}", self._query, methods=["GET"]),
                Route(
                    "/v3/pay/transactions/out-trade-no/{no}/close", self._close, methods=["POST"]
                ),
                Route("/v3/refund/domestic/refunds", self._refund, methods=["POST"]),
                Route("/v3/refund/domestic/refunds/{no}", self._refund_query, methods=["GET"]),
                *bill_routes(self),
            ]
        )

    def _authentic(self, request: Request, body: bytes) -> str | None:
        """Why the request's signature does not hold, or None."""
        fields = parse_authorization(request.headers.get("authorization", ""))
        if not fields:
            return "no WECHATPAY2-SHA256-RSA2048 Authorization"
        if fields.get("mchid") != self.mchid or fields.get("serial_no") != MERCHANT_SERIAL:
            return "unknown merchant or certificate serial"
        stamp = fields.get("timestamp", "")
        if not stamp.isdigit() or abs(self.now().timestamp() - int(stamp)) > (
            MAX_CLOCK_SKEW.total_seconds()
        ):
            return "timestamp out of range"
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        message = request_message(
            request.method, target, stamp, fields.get("nonce_str", ""), body.decode()
        )
        if not rsa_verify(self.merchant_key.public_key(), message, fields.get("signature", "")):
            return "signature does not verify"
        return None

    async def _checked(self, request: Request) -> tuple[bytes, Response | None]:
        body = await request.body()
        why = self._authentic(request, body)
        if why is not None:
            return body, self._error(401, "SIGN_ERROR", why)
        return body, None

    async def _prepay(self, request: Request) -> Response:
        body, refused = await self._checked(request)
        if refused is not None:
            return refused
        data = json.loads(body)
        kind = "NATIVE" if request.url.path.endswith("native") else "JSAPI"
        if data.get("mchid") != self.mchid or data.get("appid") != self.appid:
            return self._error(400, "INVALID_REQUEST", "appid and mchid do not match")
        no = data.get("out_trade_no", "")
        if not 6 <= len(no) <= 32 or not no.isalnum():
            return self._error(400, "PARAM_ERROR", "out_trade_no")
        if kind == "JSAPI" and not data.get("payer", {}).get("openid"):
            return self._error(400, "PARAM_ERROR", "payer.openid")
        if not isinstance(data.get("amount", {}).get("total"), int):
            return self._error(400, "PARAM_ERROR", "amount.total")
        if "time_expire" in data:
            datetime.fromisoformat(data["time_expire"])  # RFC 3339 or a 500
        known = self.transactions.get(no)
        if known is not None:
            if known.state != "NOTPAY":
                return self._error(
                    400, "ORDERPAID" if known.state == "SUCCESS" else "ORDERCLOSED", known.state
                )
            if known.request != data:
                return self._error(
                    400, "INVALID_REQUEST", "out_trade_no reused with other parameters"
                )
        else:
            prepay = (
                "wx" + secrets.token_hex(16)
                if kind == "JSAPI"
                else f"weixin://wxpay/bizpayurl?pr={secrets.token_urlsafe(6)}"
            )
            known = self.transactions[no] = Transaction(kind, data, prepay)
        field_name = "prepay_id" if kind == "JSAPI" else "code_url"
        return self._answer(200, {field_name: known.prepay})

    async def _query(self, request: Request) -> Response:
        _, refused = await self._checked(request)
        if refused is not None:
            return refused
        no = request.path_params["no"]
        self.queried.append(no)
        if request.query_params.get("mchid") != self.mchid:
            return self._error(400, "PARAM_ERROR", "mchid")
        if no not in self.transactions:
            return self._error(404, "ORDER_NOT_EXIST", "no such order")
        return self._answer(200, self.transaction(no))

    async def _close(self, request: Request) -> Response:
        body, refused = await self._checked(request)
        if refused is not None:
            return refused
        no = request.path_params["no"]
        self.closed.append(no)
        if self.close_errors:
            return self._error(*self.close_errors.pop(0))
        if json.loads(body).get("mchid") != self.mchid or no not in self.transactions:
            return self._error(400, "PARAM_ERROR", "mchid or out_trade_no")
        tx = self.transactions[no]
        if tx.state == "SUCCESS":
            return self._error(400, "ORDERPAID", "already paid")
        tx.state = "CLOSED"
        return self._answer(204)

    async def _refund(self, request: Request) -> Response:
        """A refund of a paid transaction: the same out_refund_no answers the same refund; all
        refunds not CLOSED or ABNORMAL together stay within what was paid."""
        body, refused = await self._checked(request)
        if refused is not None:
            return refused
        data = json.loads(body)
        self.refund_requests.append(data)
        if self.refund_errors:
            return self._error(*self.refund_errors.pop(0))
        no, amount = data.get("out_refund_no", ""), data.get("amount", {})
        if no in self.refunds:
            return self._answer(200, self.refund_resource(no))
        tx = self.transactions.get(data.get("out_trade_no", ""))
        if tx is None:
            return self._error(404, "RESOURCE_NOT_EXISTS", "订单不存在")
        if tx.state != "SUCCESS":
            return self._error(400, "INVALID_REQUEST", "订单未支付")
        if not isinstance(amount.get("refund"), int) or amount.get("currency") != "CNY":
            return self._error(400, "PARAM_ERROR", "amount")
        if amount.get("total") != tx.request["amount"]["total"]:
            return self._error(400, "INVALID_REQUEST", "订单金额与原订单不一致")
        refunded = sum(
            r.amount
            for r in self.refunds.values()
            if r.request["out_trade_no"] == data["out_trade_no"]
            and r.status not in ("CLOSED", "ABNORMAL")
        )
        if not 0 < amount["refund"] <= amount["total"] - refunded:
            return self._error(400, "INVALID_REQUEST", "申请退款金额超过订单可退金额")
        self.refunds[no] = Refund(data, "50" + secrets.token_hex(14), self.refund_answer)
        if self.refund_answer == "SUCCESS":
            self.bills.refunded_at[no] = self.now()
        return self._answer(200, self.refund_resource(no))

    async def _refund_query(self, request: Request) -> Response:
        _, refused = await self._checked(request)
        if refused is not None:
            return refused
        no = request.path_params["no"]
        self.refund_queries.append(no)
        if no not in self.refunds:
            return self._error(404, "RESOURCE_NOT_EXISTS", "退款单不存在")
        return self._answer(200, self.refund_resource(no))


__all__ = [
    "APIV3_KEY",
    "MCHID",
    "PUBLIC_KEY_ID",
    "FakeWeChatPay",
    "Refund",
    "new_key",
    "self_signed",
]
