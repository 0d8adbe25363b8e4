"""Migration 0018 on a database with refunds recorded before it: each names its payment, the
ones of online payments become due for the refund job, the till's become REFUND_AT_TILL."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa

from infra.db.connection import migrate, sqlalchemy_url
from tests.integration.test_migrations import fresh_url

__all__ = ["fresh_url"]  # the fixture, shared with the other migration tests

INSERT = sa.text(
    "INSERT INTO order_payment (id, order_id, kind, provider, provider_ref, method, amount, "
    "currency, status, created_at) VALUES (:id, :order_id, :kind, :provider, :ref, :method, "
    ":amount, 'CNY', :status, :at)"
)
AT = "2026-12-01 08:00:00+00:00"


async def test_refunds_recorded_before_0018_name_their_payment_and_become_due(
    fresh_url: Any,
) -> None:
    url = fresh_url()
    migrate(url, "0017_orders_changed_index")
    order, online, till = (str(uuid.uuid4()) for _ in range(3))
    online_refund, till_refund = str(uuid.uuid4()), str(uuid.uuid4())
    rows = [
        (online, "PAYMENT", "devpay", "dp_1", "ONLINE", "SUCCEEDED"),
        (online_refund, "REFUND", "devpay", "refund:dp_1", "ONLINE", "REFUND_PENDING"),
        (till, "PAYMENT", "IN_STORE", "store:1", "CASH", "SUCCEEDED"),
        (till_refund, "REFUND", "IN_STORE", "refund:store:1", "CASH", "REFUND_PENDING"),
    ]
    engine = sa.create_engine(sqlalchemy_url(url))
    with engine.begin() as conn:
        for id_, kind, provider, ref, method, status in rows:
            conn.execute(
                INSERT,
                {
                    "id": id_,
                    "order_id": order,
                    "kind": kind,
                    "provider": provider,
                    "ref": ref,
                    "method": method,
                    "amount": 990,
                    "status": status,
                    "at": AT,
                },
            )
    migrate(url)
    with engine.connect() as conn:
        found = conn.execute(
            sa.text(
                "SELECT id, refund_of, status, attempts, reason, next_attempt_at "
                "FROM order_payment WHERE kind = 'REFUND'"
            )
        ).mappings()
        after = {str(r["id"]): r for r in found}
    engine.dispose()
    online_row, till_row = after[online_refund], after[till_refund]
    assert str(online_row["refund_of"]) == online
    assert (online_row["status"], online_row["attempts"], online_row["reason"]) == (
        "REFUND_PENDING",
        0,
        "",
    )
    assert online_row["next_attempt_at"] is not None
    assert str(till_row["refund_of"]) == till
    assert till_row["status"] == "REFUND_AT_TILL"
    assert till_row["next_attempt_at"] is None
