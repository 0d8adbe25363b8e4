"""A reconciliation run of a provider's bill day and the differences it found."""

from __future__ import annotations

from datetime import date, datetime

import strawberry

from api.relay import encode_id
from domain.ordering import reconcile as r

strawberry.enum(
    r.DifferenceKind,
    name="ReconciliationDifferenceKind",
    description="MISSING_OURS: in the bill, not succeeded with us; MISSING_THEIRS: succeeded "
    "with us, not in the bill; AMOUNT, STATE: on both sides, disagreeing.",
)


@strawberry.type(description="One side of a bill day: counts, and sums in fen.")
class ReconciliationTotals:
    payments: int
    paid: int
    refunds: int
    refunded: int

    @classmethod
    def from_domain(cls, totals: r.Totals) -> ReconciliationTotals:
        return cls(
            payments=totals.payments,
            paid=totals.paid,
            refunds=totals.refunds,
            refunded=totals.refunded,
        )


@strawberry.type
class ReconciliationDifference:
    id: strawberry.ID
    kind: r.DifferenceKind
    reference: str = strawberry.field(description="The out_trade_no or out_refund_no.")
    order_number: str | None = strawberry.field(description="Null: no order of ours.")
    our_amount: int | None = strawberry.field(description="Fen; null when we have nothing.")
    their_amount: int | None = strawberry.field(description="Fen; null when the bill has nothing.")
    our_state: str | None
    their_state: str | None
    found_at: datetime
    resolved_at: datetime | None
    resolved_by: strawberry.ID | None
    note: str

    @classmethod
    def from_domain(cls, d: r.Difference) -> ReconciliationDifference:
        return cls(
            id=encode_id("ReconciliationDifference", d.id),
            kind=d.kind,
            reference=d.reference,
            order_number=d.order_number,
            our_amount=d.our_amount,
            their_amount=d.their_amount,
            our_state=d.our_state,
            their_state=d.their_state,
            found_at=d.found_at,
            resolved_at=d.resolved_at,
            resolved_by=encode_id("StaffUser", d.resolved_by) if d.resolved_by else None,
            note=d.note,
        )


@strawberry.type(description="The last reconciliation of a provider's bill day (Beijing).")
class PaymentReconciliation:
    provider: str
    date: date
    ran_at: datetime
    bill: ReconciliationTotals
    ours: ReconciliationTotals
    unresolved: int
    differences: list[ReconciliationDifference]

    @classmethod
    def from_domain(
        cls, run: r.ReconciliationRun, differences: list[r.Difference]
    ) -> PaymentReconciliation:
        return cls(
            provider=run.provider,
            date=run.day,
            ran_at=run.ran_at,
            bill=ReconciliationTotals.from_domain(run.bill),
            ours=ReconciliationTotals.from_domain(run.ours),
            unresolved=run.unresolved,
            differences=[ReconciliationDifference.from_domain(d) for d in differences],
        )
