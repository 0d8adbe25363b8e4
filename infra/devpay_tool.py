"""`omnishelf devpay pay ORDER`: the development provider's signed notification that an order's
pending payment succeeded, as DevPayProvider expects it (infra/payments.py), for a developer
who has no provider to pay with."""

from __future__ import annotations

import base64
import binascii
import json
import shlex
from dataclasses import dataclass
from typing import TYPE_CHECKING
from uuid import UUID

import httpx

from domain.ordering.model import PaymentKind, PaymentStatus
from infra.db.models.orders import OrderRow
from infra.payments import SIGNATURE_HEADER, DevPayProvider, sign_body

if TYPE_CHECKING:
    from infra.runtime import Runtime

WEBHOOK_PATH = f"/webhooks/payments/{DevPayProvider.name}"


class DevPayError(Exception):
    """The order is unknown or has no pending devpay payment; the message says what to do."""


@dataclass(frozen=True)
class SignedNotice:
    order_number: str
    body: bytes
    signature: str

    def curl(self, base_url: str) -> str:
        return " ".join(
            [
                "curl -sS -X POST",
                shlex.quote(base_url.rstrip("/") + WEBHOOK_PATH),
                "-H 'content-type: application/json'",
                "-H",
                shlex.quote(f"{SIGNATURE_HEADER}: {self.signature}"),
                "--data-raw",
                shlex.quote(self.body.decode()),
            ]
        )

    async def send(self, base_url: str) -> httpx.Response:
        async with httpx.AsyncClient(timeout=10.0) as client:
            return await client.post(
                base_url.rstrip("/") + WEBHOOK_PATH,
                content=self.body,
                headers={"content-type": "application/json", SIGNATURE_HEADER: self.signature},
            )


def _order_id(reference: str) -> UUID | None:
    """A bare UUID or a GraphQL global id (`base64("Order:<uuid>")`); None for a number."""
    try:
        return UUID(reference)
    except ValueError:
        pass
    try:
        kind, _, key = base64.b64decode(reference, validate=True).decode().partition(":")
        return UUID(key) if kind == "Order" else None
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None


async def pending_notice(runtime: Runtime, reference: str) -> SignedNotice:
    """The notice that pays the order's newest pending devpay payment (started by `payOrder`
    with provider "devpay"), signed with PAYMENT_WEBHOOK_SECRET."""
    key = _order_id(reference)
    row = await (
        OrderRow.filter(id=key) if key else OrderRow.filter(number=reference.strip().upper())
    ).first()
    if row is None:
        raise DevPayError(f"no order with id or number {reference!r}")
    payments = await runtime.repos.orders.payments_of([row.id])
    pending = [
        p
        for p in payments
        if p.provider == DevPayProvider.name
        and p.kind is PaymentKind.PAYMENT
        and p.status is PaymentStatus.PENDING
    ]
    if not pending:
        raise DevPayError(
            f"order {row.number} ({row.status}) has no pending devpay payment: start one with "
            'payOrder(input: {orderId: ..., provider: "devpay"}) as its member'
        )
    payment = max(pending, key=lambda p: (p.created_at, p.id))
    body = json.dumps(
        {
            "paymentRef": payment.provider_ref,
            "amount": payment.amount,
            "currency": payment.currency,
            "status": "SUCCEEDED",
        },
        separators=(",", ":"),
    ).encode()
    return SignedNotice(row.number, body, sign_body(runtime.settings.payment_secret, body))
