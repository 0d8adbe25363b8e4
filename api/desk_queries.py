"""The customer-service desk's reads: an order by its number, the invoicing queue."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from api.arguments import page_args as _page
from api.arguments import top_level_error as _top
from api.context import Context
from api.permissions import IsCustomerService, IsStaff
from api.relay import Connection
from api.types.desk import InvoiceRequest
from api.types.orders import Order
from domain.aftersales.desk import invoice_requests
from domain.aftersales.desk_model import InvoiceStatus
from domain.errors import DomainError
from domain.ordering.services import order_by_number


@strawberry.type
class DeskQueries:
    @strawberry.field(
        permission_classes=[IsStaff],
        description="The order printed with this number (receipts, the member's order page): "
        "CS and ADMIN find any, store staff their stores' orders; null otherwise.",
    )
    async def order_by_number(self, info: Info[Context, object], number: str) -> Order | None:
        principal = info.context.principal
        assert principal is not None
        try:
            found = await order_by_number(info.context.runtime.ordering, principal, number)
        except DomainError as error:
            raise _top(error) from None
        return Order.from_domain(found) if found else None

    @strawberry.field(
        permission_classes=[IsCustomerService],
        description="E-invoice requests for the invoicing system (CS, ADMIN), oldest first; "
        "reading them decrypts the title, tax id and e-mail, and writes the read to the PII "
        "access log (an entry per member on the page).",
    )
    async def invoice_requests(
        self,
        info: Info[Context, object],
        status: InvoiceStatus | None = InvoiceStatus.REQUESTED,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[InvoiceRequest]:
        principal = info.context.principal
        assert principal is not None
        page = _page(first, after)
        result = await invoice_requests(info.context.runtime.desk, principal, status, page)
        return Connection[InvoiceRequest].from_page(
            result, lambda opened: InvoiceRequest.from_domain(*opened)
        )
