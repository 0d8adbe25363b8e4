"""Racing orders on a real database: shared by the concurrency tests of ordering and of flash
sales (a variant in stock, members, a pickup checkout, an attempt that returns its error)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

from domain.catalog.services import ProductDraft, VariantDraft, create_product
from domain.errors import DomainError
from domain.identity.model import Principal, PrincipalKind, StaffRole
from domain.ids import new_id
from domain.inventory.model import MovementKind, StockLine
from domain.inventory.stock import Adjustment, adjust
from domain.members.login import login_with_wechat
from domain.members.services import member_principal
from domain.ordering.checkout import Checkout, place_order
from domain.ordering.model import SalesChannel
from domain.promotions.flash_sales import FlashSaleTerms, create_flash_sale
from domain.promotions.flash_sales_model import FlashSale
from infra.runtime import Runtime

ADMIN = Principal(kind=PrincipalKind.STAFF, id=new_id(), role=StaffRole.ADMIN)


async def a_variant(runtime: Runtime, code: str = "MANGO-1", price: int = 1990) -> UUID:
    product = await create_product(
        runtime.catalog,
        ProductDraft(name="Mango", variants=[VariantDraft(code=code, name="1kg", price=price)]),
    )
    [variant] = await runtime.repos.catalog.variants_of([product.id])
    return variant.id


async def receive(runtime: Runtime, location_id: UUID, variant_id: UUID, units: int) -> None:
    await adjust(
        runtime.inventory,
        ADMIN,
        Adjustment(location_id, variant_id, units, MovementKind.RECEIPT, "delivery"),
        None,
    )


async def members(runtime: Runtime, count: int, prefix: str = "buyer") -> list[Principal]:
    made = []
    for i in range(count):
        member, _, created = await login_with_wechat(
            runtime.members, "wx-demo", f"test:{prefix}-{i}"
        )
        assert created
        made.append(member_principal(member))
    return made


def pickup(member: Principal, location_id: UUID, variant_id: UUID, quantity: int = 1) -> Checkout:
    return Checkout(
        channel=SalesChannel.MINI_PROGRAM,
        lines=[StockLine(variant_id, quantity)],
        member_id=member.id,
        pickup_location_id=location_id,
    )


async def attempt(runtime: Runtime, member: Principal, checkout: Checkout, key: str) -> Any:
    try:
        return await place_order(runtime.ordering, member, checkout, key)
    except DomainError as error:
        return error


async def a_sale(runtime: Runtime, variant: UUID, store: UUID, units: int, limit: int) -> FlashSale:
    now = runtime.clock.now()
    return await create_flash_sale(
        runtime.flash_sales,
        ADMIN,
        variant,
        FlashSaleTerms(
            price=990,
            starts_at=now,
            ends_at=now + timedelta(hours=1),
            units_offered=units,
            per_member_limit=limit,
            location_ids=(store,),
        ),
    )


async def assert_ledger_agrees(runtime: Runtime) -> None:
    sums = await runtime.repos.inventory.ledger_sums()
    assert sums, "the ledger is empty"
    for (location_id, variant_id), ledger in sums.items():
        level = await runtime.repos.inventory.level(location_id, variant_id)
        assert level is not None
        assert ledger == (level.on_hand, level.reserved), (location_id, variant_id)
