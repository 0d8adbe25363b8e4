"""Reconciliation of the providers' bills (ADMIN): the run of a day, and resolving a
difference with a note. Runs are made by `omnishelf reconcile` and the daily job."""

from __future__ import annotations

from datetime import date

import strawberry
from strawberry.types import Info

from api.context import Context
from api.errors import OrderUserError
from api.mutations import actor, mutate
from api.permissions import IsAdmin
from api.relay import decode_id
from api.types.reconciliation import PaymentReconciliation, ReconciliationDifference
from domain.ordering.reconcile import reconciliation_of, resolve_difference

MAX_PROVIDER = 30


@strawberry.input
class ResolveReconciliationDifferenceInput:
    id: strawberry.ID
    note: str = strawberry.field(description="What was done about it (1-500 characters).")


@strawberry.type
class ReconciliationDifferencePayload:
    difference: ReconciliationDifference | None = None
    errors: list[OrderUserError] = strawberry.field(default_factory=list)


@strawberry.type
class ReconciliationQueries:
    @strawberry.field(
        permission_classes=[IsAdmin],
        description="The last reconciliation of `provider`'s bill of `date` (a Beijing day), "
        "null when none ran (ADMIN).",
    )
    async def payment_reconciliation(
        self, info: Info[Context, object], date: date, provider: str = "wechatpay"
    ) -> PaymentReconciliation | None:
        found = await reconciliation_of(
            info.context.runtime.reconciliation, provider[:MAX_PROVIDER], date
        )
        return PaymentReconciliation.from_domain(*found) if found else None


@strawberry.type
class ReconciliationMutations:
    @strawberry.mutation(
        permission_classes=[IsAdmin],
        description="Mark a reconciliation difference settled, saying how (ADMIN).",
    )
    async def resolve_reconciliation_difference(
        self, info: Info[Context, object], input: ResolveReconciliationDifferenceInput
    ) -> ReconciliationDifferencePayload:
        deps, caller = info.context.runtime.reconciliation, actor(info)
        return await mutate(
            ReconciliationDifferencePayload,
            OrderUserError,
            lambda: resolve_difference(
                deps, caller.id, decode_id(input.id, "ReconciliationDifference"), input.note
            ),
            lambda d: ReconciliationDifferencePayload(
                difference=ReconciliationDifference.from_domain(d)
            ),
        )
