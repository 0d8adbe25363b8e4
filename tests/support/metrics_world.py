"""A world for the engagement metrics tests: the runtime's clock stopped at named store-local
moments, and the people who act in it logged in anew at each stop."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest

from domain.catalog.model import Variant
from domain.engagement.metrics_model import Scope, percentile_of_histogram
from domain.identity.model import StaffRole
from domain.identity.services import staff_login
from infra.db import sql
from infra.runtime import Runtime
from tests.support import MovableClock
from tests.support.api import STAFF_PASSWORD, Api, staff_api
from tests.support.clock import STORE_ZONE
from tests.support.orders import complete, lid, order_input, pay_online, pickup_of, placed, stepped
from tests.support.shoppers import Shopper, shopper


class Stopped:
    """The runtime's clock stopped at a store-local moment the test names: hand-over times
    are then exact, whatever the machine's speed."""

    def __init__(self, clock: MovableClock, monkeypatch: pytest.MonkeyPatch) -> None:
        self.moment = clock.now()
        monkeypatch.setattr(clock, "now", lambda: self.moment)

    def at(self, day: date, hour: int, minute: int = 0) -> None:
        local = datetime(day.year, day.month, day.day, hour, minute, tzinfo=STORE_ZONE)
        self.moment = local.astimezone(UTC)


class Cast:
    """Everyone who acts in the world; access tokens live 15 minutes, so each stop of the clock
    on another day logs them in anew."""

    def __init__(
        self, api: Api, runtime: Runtime, stores: dict[str, Any], stopped: Stopped
    ) -> None:
        self.api, self.runtime, self.stores, self.stopped = api, runtime, stores, stopped
        self.staff: dict[str, Api] = {}
        self.members: dict[str, Shopper] = {}

    async def hire(self) -> None:
        a, b = self.stores["SH-A"], self.stores["SH-B"]
        for name, role, stores in (
            ("clerk-a", StaffRole.STORE_CLERK, [a]),
            ("clerk-b", StaffRole.STORE_CLERK, [b]),
            ("manager-a", StaffRole.STORE_MANAGER, [a]),
        ):
            self.staff[name] = await staff_api(self.api, self.runtime, name, role, stores)

    async def at(self, day: date, hour: int) -> None:
        """Stop the clock at another hour, everyone logged in anew."""
        self.stopped.at(day, hour)
        await self.wake()

    async def wake(self) -> None:
        for name in self.staff:
            self.staff[name] = await self.relogin(name)
        for name in self.members:
            self.members[name] = await shopper(self.api, name)

    async def relogin(self, name: str) -> Api:
        """Through the use case, each from its own address: many stops of the clock must not
        run into the per-address login limit (it counts on the wall clock, in Redis)."""
        _, pair = await staff_login(self.runtime.auth, name, STAFF_PASSWORD, f"cast:{name}")
        return self.api.as_(pair.access_token)

    async def member(self, name: str) -> Shopper:
        if name not in self.members:
            self.members[name] = await shopper(self.api, name)
        return self.members[name]


async def paid_order(
    client: httpx.AsyncClient,
    runtime: Runtime,
    who: Shopper,
    stores: dict[str, Any],
    lines: list[tuple[Variant, int]],
    store: str,
    coupons: list[str] | None = None,
) -> dict[str, Any]:
    input_ = order_input(lines, pickup=lid(stores, store))
    if coupons:
        input_["couponIds"] = coupons
    order = await placed(who.api, input_)
    await pay_online(client, runtime, who, order)
    return order


async def hand_over(cast: Cast, clerk: str, who: str, order: Any, store: str) -> None:
    """Prepared, ready and picked up at the clock's stopped moment."""
    staff = cast.staff[clerk]
    await stepped(staff, "startPreparingOrder", order["id"])
    await stepped(staff, "markOrderReadyForPickup", order["id"])
    code = (await pickup_of(cast.members[who], order))["code"]
    done = await complete(staff, cast.stores, code, store)
    assert done["errors"] == [] and done["order"]["status"] == "PICKED_UP", done


async def straightforward(first: date, last: date, scope: Scope) -> dict[str, Any]:
    """The old way: every member row of the range aggregated per member, every pickup second
    of its histogram counted."""
    where = "day >= $1 AND day <= $2"
    values: list[Any] = [first, last]
    if scope.store_id is not None:
        values.append(scope.store_id)
        where += f" AND store_id = ${len(values)}"
    if scope.channel is not None:
        values.append(scope.channel.value)
        where += f" AND channel = ${len(values)}"
    bought: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for r in await sql.fetch(f"SELECT * FROM metrics_member_day WHERE {where}", *values):
        seen = bought[str(r["member_id"])]
        seen[0] += int(r["orders"])
        seen[1] = max(seen[1], int(r["first_order"]))
    waited: dict[int, int] = defaultdict(int)
    handovers = 0
    for r in await sql.fetch(
        f"SELECT * FROM metrics_handover_day WHERE {where} AND pickup = 1", *values
    ):
        handovers += int(r["handed_over"])
        if r["seconds"] is not None:
            waited[int(r["seconds"])] += int(r["handed_over"])
    histogram = sorted(waited.items())
    return {
        "active_members": len(bought),
        "repeat_members": sum(1 for orders, _ in bought.values() if orders >= 2),
        "new_members": sum(first for _, first in bought.values()),
        "handovers": handovers,
        "handover_median_seconds": percentile_of_histogram(histogram, 50),
        "handover_p90_seconds": percentile_of_histogram(histogram, 90),
    }
