"""The ReconciliationRepository on Tortoise: runs and differences, and the payments a bill day
is compared with (order_payment, ordering's own table)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any
from uuid import UUID

from tortoise.expressions import Q

from domain.ordering.model import Payment, PaymentKind, PaymentStatus
from domain.ordering.reconcile import (
    Difference,
    ReconciliationRepository,
    ReconciliationRun,
    Totals,
)
from infra.db.models.orders import OrderPaymentRow
from infra.db.models.reconciliation import ReconciliationDifferenceRow, ReconciliationRunRow
from infra.repositories.orders import _payment

REFS_PER_QUERY = 500  # numbers looked up per IN (...): SQLite takes at most 999 parameters


def _run(row: ReconciliationRunRow, unresolved: int) -> ReconciliationRun:
    return ReconciliationRun(
        row.id,
        row.provider,
        row.day,
        row.ran_at,
        Totals(row.bill_payments, row.bill_paid, row.bill_refunds, row.bill_refunded),
        Totals(row.our_payments, row.our_paid, row.our_refunds, row.our_refunded),
        unresolved,
    )


def _difference(row: ReconciliationDifferenceRow) -> Difference:
    return Difference(
        row.id,
        row.run_id,
        row.kind,
        row.reference,
        row.order_number,
        row.our_amount,
        row.their_amount,
        row.our_state,
        row.their_state,
        row.found_at,
        row.resolved_at,
        row.resolved_by,
        row.note,
    )


class TortoiseReconciliationRepository(ReconciliationRepository):
    async def settled_between(self, provider: str, start: datetime, end: datetime) -> list[Payment]:
        settled = Q(kind=PaymentKind.PAYMENT, status=PaymentStatus.SUCCEEDED) | Q(
            kind=PaymentKind.REFUND, status=PaymentStatus.REFUNDED
        )
        rows = await OrderPaymentRow.filter(
            settled, provider=provider, completed_at__gte=start, completed_at__lt=end
        ).order_by("completed_at", "id")
        return [_payment(r) for r in rows]

    async def payments_by_refs(self, provider: str, refs: Sequence[str]) -> list[Payment]:
        found: list[Payment] = []
        for at in range(0, len(refs), REFS_PER_QUERY):
            chunk = list(refs[at : at + REFS_PER_QUERY])
            rows = await OrderPaymentRow.filter(provider=provider, provider_ref__in=chunk)
            found.extend(_payment(r) for r in rows)
        return found

    async def save_run(self, run: ReconciliationRun, differences: Sequence[Difference]) -> int:
        row = (
            await ReconciliationRunRow.filter(provider=run.provider, day=run.day)
            .select_for_update()
            .first()
        )
        totals: dict[str, Any] = {
            "ran_at": run.ran_at,
            "bill_payments": run.bill.payments,
            "bill_paid": run.bill.paid,
            "bill_refunds": run.bill.refunds,
            "bill_refunded": run.bill.refunded,
            "our_payments": run.ours.payments,
            "our_paid": run.ours.paid,
            "our_refunds": run.ours.refunds,
            "our_refunded": run.ours.refunded,
        }
        if row is None:
            row = await ReconciliationRunRow.create(
                id=run.id, provider=run.provider, day=run.day, **totals
            )
        else:
            await ReconciliationRunRow.filter(id=row.id).update(**totals)
            await ReconciliationDifferenceRow.filter(run_id=row.id, resolved_at=None).delete()
        settled = {
            (r.kind, r.reference) for r in await ReconciliationDifferenceRow.filter(run_id=row.id)
        }
        fresh: list[ReconciliationDifferenceRow] = []
        for d in differences:
            if (d.kind, d.reference) in settled:
                continue  # resolved before, or the same number twice in one bill
            settled.add((d.kind, d.reference))
            fresh.append(
                ReconciliationDifferenceRow(
                    id=d.id,
                    run_id=row.id,
                    kind=d.kind,
                    reference=d.reference,
                    order_number=d.order_number,
                    our_amount=d.our_amount,
                    their_amount=d.their_amount,
                    our_state=d.our_state,
                    their_state=d.their_state,
                    found_at=d.found_at,
                )
            )
        if fresh:
            await ReconciliationDifferenceRow.bulk_create(fresh)
        return len(fresh)

    async def run_of(
        self, provider: str, day: date
    ) -> tuple[ReconciliationRun, list[Difference]] | None:
        row = await ReconciliationRunRow.filter(provider=provider, day=day).first()
        if row is None:
            return None
        differences = [
            _difference(d)
            for d in await ReconciliationDifferenceRow.filter(run_id=row.id).order_by(
                "kind", "reference"
            )
        ]
        unresolved = sum(1 for d in differences if d.resolved_at is None)
        return _run(row, unresolved), differences

    async def resolve(self, difference_id: UUID, by: UUID, note: str, at: datetime) -> bool:
        changed = await ReconciliationDifferenceRow.filter(
            id=difference_id, resolved_at=None
        ).update(resolved_at=at, resolved_by=by, note=note)
        return bool(changed)

    async def difference(self, difference_id: UUID) -> Difference | None:
        row = await ReconciliationDifferenceRow.filter(id=difference_id).first()
        return None if row is None else _difference(row)
