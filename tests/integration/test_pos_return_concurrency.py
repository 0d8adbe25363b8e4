"""Till returns racing each other on a real database (issue 16: "50 concurrent requests for
the same line → never more than bought").

On PostgreSQL every racer is its own transaction on its own pooled connection, so they really
overlap and the conditional update of the sale line's `returned` decides who wins (the test
checks that they did overlap). SQLite serialises writers: the same outcome must hold there.
After the race the doctor finds nothing wrong, and the points ledger still balances."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable
from typing import Any, TypeVar

from tortoise import connections

from domain.aftersales.member_codes import issue_member_code
from domain.aftersales.model import Condition
from domain.errors import InventoryError, InventoryErrorCode
from domain.identity.model import DeviceKind, Principal, PrincipalKind, StaffRole
from domain.ids import new_id
from domain.inventory.model import TillLine
from domain.inventory.stock import record_pos_sale
from domain.inventory.till_model import PosReturn, RefundMethod, ReturnedLine
from domain.inventory.till_returns import PosReturnRequest, record_pos_return
from domain.loyalty.services import adjust_points
from infra.db.models.inventory import MovementRow, StockLevelRow
from infra.doctor import run_checks
from infra.runtime import Runtime
from tests.support import MovableClock, is_postgres
from tests.support.orders import make_variants
from tests.support.points import check_books, new_member

T = TypeVar("T")
ADMIN = Principal(kind=PrincipalKind.STAFF, id=new_id(), role=StaffRole.ADMIN)


async def outcome(action: Awaitable[T]) -> T | InventoryError:
    """The result, or the expected domain error; anything else (a deadlock...) propagates."""
    try:
        return await action
    except InventoryError as error:
        return error


async def test_50_concurrent_returns_of_one_line_never_take_back_more_than_sold(
    runtime: Runtime, stores: dict[str, Any], clock: MovableClock
) -> None:
    sh_a = stores["SH-A"].id
    till = Principal(
        kind=PrincipalKind.DEVICE,
        id=new_id(),
        device_kind=DeviceKind.POS,
        store_ids=frozenset({sh_a}),
    )
    (tea,) = await make_variants(runtime, ("TEA-RACE", "box", 1000))
    member = await new_member(runtime, "till-race")
    await adjust_points(runtime.loyalty, ADMIN, member, 2000, "welcome gift", "gift-race")
    # Ten teas for 99.99 (not a multiple of ten), 1,000 points of it paid with points.
    code = issue_member_code(runtime.member_codes, member).code
    sale = await record_pos_sale(
        runtime.inventory,
        till,
        sh_a,
        "race-1",
        [TillLine(tea.id, 10, 9999)],
        member_code=code,
        points_to_redeem=1000,
    )
    assert sale.points_redeemed == 1000 and sale.points_earned == (9999 - 1000) // 100

    def one_unit(n: int) -> Awaitable[PosReturn | InventoryError]:
        condition = Condition.DAMAGED if n % 2 else Condition.RESALEABLE
        request = PosReturnRequest(
            sh_a, "race-1", [ReturnedLine(tea.id, 1, condition)], RefundMethod.CASH, "race"
        )
        return outcome(record_pos_return(runtime.inventory, till, request))

    peak = [0]
    done = asyncio.Event()

    async def watch() -> None:  # the most pooled connections busy at once (PostgreSQL)
        pool = connections.get("default")._pool  # type: ignore[attr-defined]
        while not done.is_set():
            peak[0] = max(peak[0], pool.get_size() - pool.get_idle_size())
            await asyncio.sleep(0.001)

    watcher = asyncio.create_task(watch()) if is_postgres(runtime.settings.database_url) else None
    try:
        results = await asyncio.gather(*(one_unit(n) for n in range(50)))
    finally:
        done.set()
        if watcher is not None:
            await watcher
    if watcher is not None:
        assert peak[0] > 1, peak  # the racers did overlap

    won = [r for r in results if isinstance(r, PosReturn)]
    lost = [r for r in results if isinstance(r, InventoryError)]
    assert (len(won), len(lost)) == (10, 40), Counter(type(r).__name__ for r in results)
    assert {e.code for e in lost} == {InventoryErrorCode.QUANTITY_EXCEEDED}
    # The ten shares add up to what was paid in money and the points redeemed, exactly.
    assert sum(r.refund_amount for r in won) == 9999 - 1000
    assert sum(r.points_returned for r in won) == 1000
    # Every unit is back in the ledger once: ten in, the damaged ones written off.
    returned = await MovementRow.filter(reference__startswith="pos-return:")
    assert sum(m.on_hand_delta for m in returned if m.kind.value == "RETURN") == 10
    damaged = sum(1 for r in won for line in r.lines if line.condition is Condition.DAMAGED)
    level = await StockLevelRow.get(location_id=sh_a, variant_id=tea.id)
    assert level.on_hand == 10 - damaged
    report = await run_checks(now=clock.now())
    assert report.exit_code == 0, report.text()
    await check_books()
