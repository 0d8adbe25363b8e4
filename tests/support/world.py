"""A shop with one of every kind of caller: two members, the staff roles, a kiosk and a POS
of SH-A, a variant with stock, and the objects they act on (an order, a subscription,
transfers). The authorisation tests run their calls in it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx

from api.relay import encode_id
from domain.catalog.model import Variant
from domain.identity.model import ApiScope, DeviceKind, StaffRole
from domain.identity.services import create_device, create_staff, staff_login
from domain.inventory import transfers
from domain.inventory.model import StockLine
from domain.locations.model import Location
from domain.subscriptions.model import Interval, IntervalUnit
from domain.subscriptions.plans import create_plan
from infra.runtime import Runtime
from tests.support.api import STAFF_PASSWORD, Api
from tests.support.clock import local_date
from tests.support.orders import ROOT, make_variants, order_input, pay_online, placed, receive
from tests.support.shoppers import Shopper, shopper


@dataclass
class World:
    api: Api
    stores: dict[str, Location]
    mango: Variant
    member_a: Shopper
    member_b: Shopper
    tokens: dict[str, str | None]  # the principals that are not API keys
    order: str = ""  # member A's paid pickup order at SH-A
    subscription: str = ""  # member A's weekly subscription, picked up at SH-A
    transfer_out: str = ""  # SH-A -> WH-1, created
    transfer_in: str = ""  # WH-1 -> SH-A, created
    keys: dict[frozenset[ApiScope], str] = field(default_factory=dict)

    def store(self, code: str) -> str:
        return encode_id("Location", self.stores[code].id)

    @property
    def variant(self) -> str:
        return encode_id("Variant", self.mango.id)


async def staff_token(runtime: Runtime, username: str, role: StaffRole, stores: list[Any]) -> str:
    """Logged in through the use case, not over HTTP: the matrix's own staffLogin calls must
    not run into the per-address login limit."""
    await create_staff(runtime.auth, username, STAFF_PASSWORD, role, [s.id for s in stores])
    _, pair = await staff_login(runtime.auth, username, STAFF_PASSWORD, "authorization-fixture")
    return pair.access_token


async def device_token(runtime: Runtime, store: Location, kind: DeviceKind) -> str:
    _, token = await create_device(runtime.auth, store.id, kind)
    return token


async def principals(api: Api, runtime: Runtime, stores: dict[str, Location]) -> World:
    """Two members, the staff roles, a kiosk and a POS of SH-A, and a variant with stock."""
    (mango,) = await make_variants(runtime, ("MANGO-1", "1kg", 1990))
    for code in ("SH-A", "SH-B", "WH-1"):
        await receive(runtime, stores[code].id, mango, 50)
    a, b = stores["SH-A"], stores["SH-B"]
    member_a, member_b = await shopper(api, "member-a"), await shopper(api, "member-b")
    tokens: dict[str, str | None] = {
        "anonymous": None,
        "member_a": member_a.api.token,
        "member_b": member_b.api.token,
        "clerk_a": await staff_token(runtime, "clerk-a", StaffRole.STORE_CLERK, [a]),
        "clerk_b": await staff_token(runtime, "clerk-b", StaffRole.STORE_CLERK, [b]),
        "manager_a": await staff_token(runtime, "manager-a", StaffRole.STORE_MANAGER, [a]),
        "kiosk_a": await device_token(runtime, a, DeviceKind.KIOSK),
        "pos_a": await device_token(runtime, a, DeviceKind.POS),
        "cs_agent": await staff_token(runtime, "cs-agent", StaffRole.CS_AGENT, []),
        "admin": await staff_token(runtime, "admin", StaffRole.ADMIN, []),
    }
    return World(api, stores, mango, member_a, member_b, tokens)


async def paid_pickup(
    client: httpx.AsyncClient, runtime: Runtime, world: World, who: Shopper, store: str
) -> str:
    order = await placed(who.api, order_input([(world.mango, 1)], pickup=world.store(store)))
    await pay_online(client, runtime, who, order)
    order_id: str = order["id"]
    return order_id


CREATE_SUBSCRIPTION = """
mutation($input: CreateSubscriptionInput!) {
  createSubscription(input: $input) { subscription { id } errors { code message } }
}"""


async def weekly_subscription(runtime: Runtime, world: World, who: Shopper, store: str) -> str:
    plan = await create_plan(
        runtime.subscriptions,
        f"Weekly {store}",
        [world.mango.id],
        Interval(IntervalUnit.WEEK, 1),
        10,
        0,
    )
    today = local_date(runtime.clock.now())
    payload = (
        await who.api.data(
            CREATE_SUBSCRIPTION,
            {
                "input": {
                    "planId": encode_id("SubscriptionPlan", plan.id),
                    "lines": [{"variantId": world.variant, "quantity": 1}],
                    "fulfilment": {"pickup": {"locationId": world.store(store)}},
                    "firstDeliveryDate": (today + timedelta(days=7)).isoformat(),
                    "paymentAgreement": f"agreement-{who.openid}",
                }
            },
        )
    )["createSubscription"]
    assert payload["errors"] == [], payload
    subscription_id: str = payload["subscription"]["id"]
    return subscription_id


async def transfer(runtime: Runtime, world: World, source: str, destination: str) -> str:
    made = await transfers.create_transfer(
        runtime.inventory,
        ROOT,
        world.stores[source].id,
        world.stores[destination].id,
        [StockLine(world.mango.id, 1)],
        None,
    )
    return encode_id("StockTransfer", made.id)


async def build_world(
    api: Api, client: httpx.AsyncClient, runtime: Runtime, stores: dict[str, Location]
) -> World:
    world = await principals(api, runtime, stores)
    world.order = await paid_pickup(client, runtime, world, world.member_a, "SH-A")
    world.subscription = await weekly_subscription(runtime, world, world.member_a, "SH-A")
    world.transfer_out = await transfer(runtime, world, "SH-A", "WH-1")
    world.transfer_in = await transfer(runtime, world, "WH-1", "SH-A")
    return world
