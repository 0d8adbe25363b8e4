"""How each scenario is made of steps, shared by the HTTP flows (bench.flows) and the raw
asyncpg baselines (bench.raw), so both do the same sequence of work.

A step is one request (http) or the SQL work the server does for that request (raw). A
subclass implements the steps; this class strings them into scenarios."""

from __future__ import annotations

from collections import deque
from typing import Any

from bench.driver import Client, Op

# The mixed scenario: what a day of traffic looks like, as shares of user actions.
MIX = (
    ("products", 30),  # browse the catalogue
    ("availability", 25),  # which store near me has it
    ("my_orders", 15),
    ("checkout", 10),  # placeOrder, payOrder and the provider's webhook
    ("pickup_step", 8),  # the store moves a paid order on (prepare, ready, hand-over)
    ("pos_sale", 7),
    ("points", 5),  # a CS adjustment (a points credit)
)
MIX_NAMES = [name for name, _ in MIX]
MIX_WEIGHTS = [weight for _, weight in MIX]
CHECKOUTS_WITH_POINTS = 0.2  # in the mix, one order in five redeems points


class Steps:
    """The steps; `strict` asks for a full check of what came back."""

    async def place(
        self, c: Client, strict: bool, points: bool = False, coupon: bool = False
    ) -> dict[str, Any]:
        """placeOrder (pickup, 2 lines), with a fresh coupon of the member's if `coupon`;
        returns the order as later steps need it."""
        raise NotImplementedError

    async def pay_and_notify(self, c: Client, order: dict[str, Any], strict: bool) -> None:
        """payOrder by the member, then the provider's signed webhook."""
        raise NotImplementedError

    async def quote(self, c: Client, strict: bool, coupons: bool = False) -> None:
        """checkoutQuote of place's cart with points; nothing reserved. `coupons`: by a
        member holding three coupons, which the quote offers."""
        raise NotImplementedError

    async def prepare(self, c: Client, order: dict[str, Any], strict: bool) -> None:
        raise NotImplementedError

    async def ready(self, c: Client, order: dict[str, Any], strict: bool) -> None:
        raise NotImplementedError

    async def hand_over(self, c: Client, order: dict[str, Any], strict: bool) -> None:
        """The member shows the pickup code (read from the order), the clerk enters it."""
        raise NotImplementedError

    async def availability(self, c: Client, strict: bool) -> None:
        raise NotImplementedError

    async def my_orders(self, c: Client, strict: bool) -> None:
        raise NotImplementedError

    async def products(self, c: Client, strict: bool) -> None:
        raise NotImplementedError

    async def products_stock(self, c: Client, strict: bool) -> None:
        raise NotImplementedError

    async def pos_sale(self, c: Client, strict: bool) -> None:
        raise NotImplementedError

    async def points_earn(self, c: Client, strict: bool) -> None:
        raise NotImplementedError

    async def wechatpay_notify(self, c: Client, strict: bool) -> None:
        """WeChat Pay's signed, encrypted notification for one of the run's prepared orders
        (bench.wechatpay), which pays it."""
        raise NotImplementedError

    async def wechatpay_pay_order(self, c: Client, strict: bool) -> None:
        """payOrder with WeChat Pay (JSAPI prepay at the fake server) for one of the run's
        prepared orders, by its member."""
        raise NotImplementedError


class Scenarios(Steps):
    async def place_order(self, c: Client, strict: bool) -> None:
        await self.place(c, strict)

    async def place_order_points(self, c: Client, strict: bool) -> None:
        await self.place(c, strict, points=True)

    async def place_order_coupon(self, c: Client, strict: bool) -> None:
        await self.place(c, strict, coupon=True)

    async def checkout_quote(self, c: Client, strict: bool) -> None:
        await self.quote(c, strict)

    async def checkout_quote_coupons(self, c: Client, strict: bool) -> None:
        await self.quote(c, strict, coupons=True)

    async def staff_step(self, c: Client, order: dict[str, Any], strict: bool) -> None:
        """Move a paid order on by one step: prepare, then ready, then hand-over."""
        stage = order.get("stage", "PAID")
        if stage == "PAID":
            await self.prepare(c, order, strict)
            order["stage"] = "PREPARING"
        elif stage == "PREPARING":
            await self.ready(c, order, strict)
            order["stage"] = "READY"
        else:
            await self.hand_over(c, order, strict)
            order["stage"] = "DONE"

    async def pickup_story(self, c: Client, strict: bool) -> None:
        order = await self.place(c, strict)
        await self.pay_and_notify(c, order, strict)
        while order.get("stage") != "DONE":
            await self.staff_step(c, order, strict)

    async def points_redeem(self, c: Client, strict: bool) -> None:
        """Redeeming at checkout: placeOrder holds the points, the payment's webhook spends
        them (two phases, three requests)."""
        order = await self.place(c, strict, points=True)
        await self.pay_and_notify(c, order, strict)

    async def mixed(self, c: Client, strict: bool) -> None:
        """One user action drawn from MIX; checkouts feed each client's own queue of paid
        orders, which its pickup steps work through."""
        await self.action(c, c.rnd.choices(MIX_NAMES, MIX_WEIGHTS)[0], strict)

    async def action(self, c: Client, action: str, strict: bool) -> None:
        queue: deque[dict[str, Any]] = c.state.setdefault("orders", deque())
        if action == "pickup_step" and not queue:
            action = "checkout"  # nothing paid yet to work on
        if action == "checkout":
            order = await self.place(c, strict, points=c.rnd.random() < CHECKOUTS_WITH_POINTS)
            await self.pay_and_notify(c, order, strict)
            queue.append(order)
        elif action == "pickup_step":
            order = queue[0]
            await self.staff_step(c, order, strict)
            if order.get("stage") == "DONE":
                queue.popleft()
        elif action == "points":
            await self.points_earn(c, strict)
        else:
            await getattr(self, action)(c, strict)

    async def mixed_check(self, c: Client, strict: bool) -> None:
        """Every kind of action once (the order goes through every pickup step)."""
        for name in MIX_NAMES:
            await self.action(c, name, strict)
        while c.state["orders"]:
            await self.action(c, "pickup_step", strict)

    def op(self, scenario: str) -> Op:
        if scenario not in HTTP_SCENARIOS:
            raise KeyError(f"no such scenario: {scenario}")
        return getattr(self, scenario)  # type: ignore[no-any-return]

    def check_op(self, scenario: str) -> Op:
        """The operation run once, strictly, before timing starts."""
        return self.mixed_check if scenario == "mixed" else self.op(scenario)


HTTP_SCENARIOS = (
    "place_order",
    "place_order_points",
    "place_order_coupon",
    "checkout_quote",
    "checkout_quote_coupons",
    "pickup_story",
    "availability",
    "my_orders",
    "products",
    "products_stock",
    "pos_sale",
    "points_earn",
    "points_redeem",
    "mixed",
    "wechatpay_notify",
    "wechatpay_pay_order",
)
