"""Flash sales over the in-memory fakes: when a sale covers an order (phase, place), which
lines of a checkout get its price, the field an error names, and that a cancellation gives the
units back once. The races are on PostgreSQL (tests/integration/test_flash_sale_concurrency)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from domain.errors import PromotionError, PromotionErrorCode
from domain.identity.model import Principal, PrincipalKind, StaffRole
from domain.ids import new_id
from domain.inventory.model import StockLine
from domain.ordering.checkout import Checkout, place_order
from domain.ordering.deps import OrderingDeps
from domain.ordering.lifecycle import cancel_order
from domain.ordering.model import SalesChannel
from domain.promotions.deps import FlashSaleDeps
from domain.promotions.flash_sales import FlashSaleTerms, create_flash_sale
from domain.promotions.flash_sales_model import FlashSale, FlashSalePhase
from tests.fakes.deps import ordering_deps
from tests.fakes.shop import FakeShop

ADMIN = Principal(kind=PrincipalKind.STAFF, id=new_id(), role=StaffRole.ADMIN)


@pytest.fixture
def shop() -> FakeShop:
    return FakeShop()


@pytest.fixture
def deps(shop: FakeShop) -> OrderingDeps:
    return ordering_deps(shop.db, shop.clock)


def test_phase_place_and_overlap() -> None:
    now = FakeShop().clock.now()
    store, other = new_id(), new_id()
    sale = FlashSale(
        id=new_id(),
        variant_id=new_id(),
        price=100,
        currency="CNY",
        starts_at=now,
        ends_at=now + timedelta(hours=1),
        units_offered=10,
        per_member_limit=1,
        online=False,
        location_ids=(store,),
        created_at=now,
        updated_at=now,
    )
    assert [
        sale.phase(now + d) for d in (-timedelta(seconds=1), timedelta(0), timedelta(hours=1))
    ] == [
        FlashSalePhase.UPCOMING,
        FlashSalePhase.LIVE,
        FlashSalePhase.ENDED,
    ]
    assert replace(sale, cancelled_at=now).phase(now) is FlashSalePhase.CANCELLED
    assert (sale.covers(store), sale.covers(other), sale.covers(None)) == (True, False, False)
    assert replace(sale, online=True).covers(None)
    later = replace(sale, id=new_id(), starts_at=sale.ends_at, ends_at=sale.ends_at + timedelta(1))
    assert not sale.overlaps(later)  # back to back
    assert sale.overlaps(replace(later, starts_at=sale.ends_at - timedelta(seconds=1)))
    assert not sale.overlaps(replace(sale, id=new_id(), location_ids=(other,)))
    assert not sale.overlaps(replace(sale, id=new_id(), cancelled_at=now))


async def test_only_the_sale_lines_take_its_price_and_errors_name_the_request_line(
    shop: FakeShop, deps: OrderingDeps
) -> None:
    store = shop.store("SH-A", 31.2304, 121.4737)
    mango, lime, kiwi = (shop.variant(code, 1990) for code in ("M-1", "L-1", "K-1"))
    for variant in (mango, lime, kiwi):
        shop.stock(store, variant, 10)
    flash = FlashSaleDeps(uow=shop.db, clock=shop.clock)
    now = shop.clock.now()
    terms = FlashSaleTerms(990, now, now + timedelta(hours=1), 3, 2, (store.id,))
    sales = {v.code: await create_flash_sale(flash, ADMIN, v.id, terms) for v in (mango, kiwi)}
    member = shop.member()

    def order(*lines: StockLine) -> Checkout:
        return Checkout(SalesChannel.MINI_PROGRAM, lines, member.id, store.id)

    placed = await place_order(
        deps,
        member,
        order(StockLine(kiwi.id, 1), StockLine(lime.id, 1), StockLine(mango.id, 2)),
        None,
    )
    assert {line.variant_id: line.unit_price for line in placed.lines} == {
        mango.id: 990,
        lime.id: 1990,
        kiwi.id: 990,
    }
    assert placed.total == 990 * 3 + 1990
    with pytest.raises(PromotionError) as refused:
        await place_order(deps, member, order(StockLine(lime.id, 1), StockLine(mango.id, 1)), None)
    assert (refused.value.code, refused.value.field) == (
        PromotionErrorCode.FLASH_SALE_LIMIT_REACHED,
        ["lines", "1", "quantity"],
    )
    counts = {code: shop.db.tables.flash_sales[s.id].units_sold for code, s in sales.items()}
    assert counts == {"M-1": 2, "K-1": 1}  # the refusal kept nothing

    await cancel_order(deps, member, placed.id, "changed my mind")
    assert [shop.db.tables.flash_sales[s.id].units_sold for s in sales.values()] == [0, 0]
    assert set(shop.db.tables.flash_sale_buyers.values()) == {0}
    assert shop.db.tables.flash_sale_takes == {}
