"""The load: clients that retry across the two APIs, and the mix of operations.

A request that fails because its process died (connection refused or reset, a timeout) is sent
again, unchanged (same idempotency key, same till transaction, same webhook body), to the other
API: that is what shows a retry has no second effect. Order steps and the check-in have no key:
a resent one that is refused only because the first copy took effect (ILLEGAL_TRANSITION,
INVALID_PICKUP_CODE, ALREADY_CHECKED_IN) counts as done once a read confirms it. The `Ledger`
keeps what the clients saw succeed, for the checks afterwards.
"""

from __future__ import annotations

import asyncio
import base64
import json
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import httpx

from bench.chaos.cluster import Cluster, Proc
from bench.chaos.world import Member, Store, World
from infra.payments import SIGNATURE_HEADER, sign_body

RETRY_FOR = 90.0  # seconds a request keeps trying while no API answers
QUEUE = "omnishelf:queue"
POKED_JOBS = (
    "deliver_outbox",
    "sweep_expired_reservations",
    "cancel_unpaid_orders",
    "renew_subscriptions",
)
KINDS = (
    "order",
    "order_with_points",
    "payment_webhook",
    "pickup",
    "pos_sale",
    "check_in",
    "points_grant",
    "subscription",
    "merge",
)
PREPARING = frozenset({"PREPARING", "READY_FOR_PICKUP", "PICKED_UP"})  # and after
STATUS = "query($o: ID!) { order(id: $o) { status } }"
MY_CODE = "query($o: ID!) { order(id: $o) { pickup { code } } }"

T = TypeVar("T")
Done = Callable[[str], Awaitable[bool]]  # given the refusal's code: did the first copy work?


class Finding(Exception):
    """A top-level GraphQL error, a 5xx from a live server, an answer that breaks a rule, or
    no API answering for RETRY_FOR seconds."""


class Refused(Exception):
    """An expected refusal: a user error (its code)."""


@dataclass
class Tally:
    attempted: int = 0
    succeeded: int = 0
    retried: int = 0  # operations that resent a request after its process died
    user_errors: int = 0
    failed: int = 0  # findings
    codes: dict[str, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)  # the first few findings


@dataclass
class Ledger:
    """What the clients saw succeed (ids as UUID strings)."""

    orders: dict[str, str] = field(default_factory=dict)  # idempotency key -> order
    order_keys: list[str] = field(default_factory=list)  # every key sent, answered or not
    paid: list[str] = field(default_factory=list)
    paid_answers: dict[str, int] = field(default_factory=dict)  # order -> "paid" answers
    picked_up: list[str] = field(default_factory=list)
    pos: dict[str, int] = field(default_factory=dict)  # till transaction -> lines
    grants: dict[str, str] = field(default_factory=dict)  # key -> member
    merges: dict[str, str] = field(default_factory=dict)  # source -> target
    subscriptions: dict[str, str] = field(default_factory=dict)  # key -> subscription


@dataclass
class Op:
    retried: bool = False


@dataclass(frozen=True)
class Placed:
    gid: str
    id: str
    amount_due: int
    store: Store
    member: Member


def uuid_of(global_id: str) -> str:
    return base64.b64decode(global_id).decode().split(":", 1)[1]


def mutation(name: str, input_type: str | None, fields: str) -> str:
    head, call = (f"($i: {input_type}!)", "(input: $i)") if input_type else ("", "")
    return f"mutation{head} {{ {name}{call} {{ {fields} errors {{ code message }} }} }}"


class Load:
    def __init__(self, world: World, cluster: Cluster, payment_secret: str, seed: int):
        self.world, self.cluster, self.secret, self.seed = world, cluster, payment_secret, seed
        self.tallies = {kind: Tally() for kind in KINDS}
        self.ledger = Ledger()
        self.dropped = 0  # requests lost with their process (and sent again)
        self.jobs_enqueued = 0
        self.funded: list[Member] = []  # members CS gave points to
        self.dups = list(world.dups)
        self.route = random.Random(seed)  # which API a request tries first
        self.http = {
            a.name: httpx.AsyncClient(base_url=a.base_url, timeout=15) for a in cluster.apis
        }

    async def close(self) -> None:
        for client in self.http.values():
            await client.aclose()

    # ------------------------------------------------------------ requests

    async def _api(self, prefer: int) -> Proc:
        apis, deadline = self.cluster.apis, time.monotonic() + RETRY_FOR
        while time.monotonic() < deadline:
            for api in (apis[prefer], apis[1 - prefer]):
                if api.ready.is_set():
                    return api
            await asyncio.sleep(0.05)
        raise Finding(f"no API was up for {RETRY_FOR:g} s")

    async def post(self, op: Op, path: str, prefer: int, **request: Any) -> httpx.Response:
        """Send until an API answers; after a lost request, the same one to the other API."""
        deadline = time.monotonic() + RETRY_FOR
        while True:
            api = await self._api(prefer)
            try:
                response = await self.http[api.name].post(path, **request)
                if response.status_code < 500:
                    return response
                if api.ready.is_set():
                    raise Finding(f"HTTP {response.status_code} from {api.name}, which is up")
            except httpx.TransportError:
                pass
            self.dropped += 1
            op.retried = True
            if time.monotonic() > deadline:
                raise Finding(f"{path}: no answer for {RETRY_FOR:g} s")
            prefer = 1 - self.cluster.apis.index(api)
            await asyncio.sleep(0.05)

    async def gql(self, op: Op, token: str, query: str, variables: dict[str, Any]) -> Any:
        response = await self.post(
            op,
            "/graphql",
            self.route.randrange(2),
            json={"query": query, "variables": variables},
            headers={"Authorization": f"Bearer {token}"},
        )
        body = response.json()
        if response.status_code != 200 or body.get("errors"):
            raise Finding(f"HTTP {response.status_code} {body.get('errors')}"[:300])
        return next(iter(body["data"].values()))

    async def mutate(
        self,
        op: Op,
        token: str,
        name: str,
        input_type: str | None,
        request: dict[str, Any],
        fields: str,
        done: Done | None = None,
    ) -> dict[str, Any]:
        """Run a mutation; Refused on a user error, unless the operation was resent and `done`
        confirms the first copy took effect."""
        query = mutation(name, input_type, fields)
        payload: dict[str, Any] = await self.gql(
            op, token, query, {"i": request} if input_type else {}
        )
        if payload["errors"]:
            code = payload["errors"][0]["code"]
            if not (op.retried and done is not None and await done(code)):
                raise Refused(code)
        return payload

    async def attempt(self, kind: str, action: Callable[[Op], Awaitable[T]]) -> T | None:
        tally, op = self.tallies[kind], Op()
        tally.attempted += 1
        try:
            result = await action(op)
            tally.succeeded += 1
            return result
        except Refused as refusal:
            tally.user_errors += 1
            tally.codes[str(refusal)] = tally.codes.get(str(refusal), 0) + 1
        except (Finding, httpx.HTTPError, LookupError, TypeError, ValueError) as error:
            tally.failed += 1
            tally.failures = [*tally.failures, f"{type(error).__name__}: {error}"[:300]][:5]
        finally:
            tally.retried += op.retried
        return None

    # ------------------------------------------------------------ operations

    async def place(self, rng: random.Random, member: Member, points: int = 0) -> Placed | None:
        store, key = rng.choice(self.world.stores), uuid.uuid4().hex
        request = {
            "channel": "MINI_PROGRAM",
            "lines": [
                {"variantId": v, "quantity": rng.randint(1, 2)}
                for v in rng.sample(self.world.variants, rng.randint(1, 2))
            ],
            "fulfilment": {"pickup": {"locationId": store.gid}},
            "pointsToRedeem": points,
            "idempotencyKey": key,
        }

        async def action(op: Op) -> Placed:
            self.ledger.order_keys.append(key)
            fields = "order { id amountDue { amount } }"
            payload = await self.mutate(
                op, member.token, "placeOrder", "PlaceOrderInput", request, fields
            )
            gid = payload["order"]["id"]
            self.ledger.orders[key] = uuid_of(gid)
            return Placed(gid, uuid_of(gid), payload["order"]["amountDue"]["amount"], store, member)

        return await self.attempt("order_with_points" if points else "order", action)

    async def pay(self, rng: random.Random, placed: Placed) -> bool:
        """payOrder, then the provider's signed webhook: once, twice in a row, or twice at once
        to both APIs. One answer at most may say "paid"."""

        async def action(op: Op) -> bool:
            pay = {"orderId": placed.gid}
            started = await self.mutate(
                op, placed.member.token, "payOrder", "PayOrderInput", pay, "payment { paymentRef }"
            )
            body = json.dumps(
                {
                    "paymentRef": started["payment"]["paymentRef"],
                    "amount": placed.amount_due,
                    "currency": "CNY",
                    "status": "SUCCEEDED",
                }
            ).encode()
            headers = {SIGNATURE_HEADER: sign_body(self.secret, body)}

            async def hook(prefer: int) -> str:
                path = "/webhooks/payments/devpay"
                response = await self.post(op, path, prefer, content=body, headers=headers)
                return str(response.json().get("result"))

            mode = rng.random()
            if mode < 0.6:
                answers = [await hook(rng.randrange(2))]
            elif mode < 0.8:
                answers = [await hook(0), await hook(1)]
            else:
                answers = list(await asyncio.gather(hook(0), hook(1)))
            self.ledger.paid_answers[placed.id] = answers.count("paid")
            if not set(answers) <= {"paid", "duplicate"} or answers.count("paid") > 1:
                raise Finding(f"webhook answers {answers} for order {placed.id}")
            if "paid" not in answers and not op.retried:
                raise Finding(f"no webhook answer said paid for order {placed.id}")
            self.ledger.paid.append(placed.id)
            return True

        return bool(await self.attempt("payment_webhook", action))

    async def pickup(self, placed: Placed) -> None:
        """The clerk prepares and readies the order, the member reads the code, the clerk
        hands the goods over against it."""
        clerk, order = placed.store.clerk, {"orderId": placed.gid}

        def reached(op: Op, statuses: frozenset[str]) -> Done:
            async def done(_: str) -> bool:
                found = await self.gql(op, clerk, STATUS, {"o": placed.gid})
                return found is not None and found["status"] in statuses

            return done

        async def action(op: Op) -> None:
            for step, after in (
                ("startPreparingOrder", PREPARING),
                ("markOrderReadyForPickup", PREPARING - {"PREPARING"}),
            ):
                await self.mutate(
                    op, clerk, step, "OrderIdInput", order, "order { status }", reached(op, after)
                )
            mine = await self.gql(op, placed.member.token, MY_CODE, {"o": placed.gid})
            if not mine or not mine["pickup"]:
                raise Finding(f"order {placed.id} is ready but shows its member no code")
            handover = {"locationId": placed.store.gid, "pickupCode": mine["pickup"]["code"]}
            done = reached(op, frozenset({"PICKED_UP"}))
            fields = "order { status }"
            await self.mutate(
                op, clerk, "completePickup", "CompletePickupInput", handover, fields, done
            )
            self.ledger.picked_up.append(placed.id)

        await self.attempt("pickup", action)

    async def story(self, rng: random.Random, with_points: bool) -> None:
        """A member orders for pickup (with points if CS gave some); most pay (the payment
        timeout job cancels the rest); most paid orders are collected."""
        if with_points and self.funded:
            placed = await self.place(rng, rng.choice(self.funded), points=100)
        else:
            placed = await self.place(rng, rng.choice(self.world.members))
        paid = placed is not None and rng.random() < 0.85 and await self.pay(rng, placed)
        if placed is not None and paid and rng.random() < 0.8:
            await self.pickup(placed)

    async def pos_sale(self, rng: random.Random) -> None:
        store, tx = rng.choice(self.world.stores), f"chaos-{uuid.uuid4().hex}"
        lines = []
        for v in rng.sample(self.world.variants, rng.randint(1, 2)):
            quantity = rng.randint(1, 3)  # rung up at ¥1 each (under any catalog price)
            lines.append({"variantId": v, "quantity": quantity, "lineTotal": 100 * quantity})
        request = {"locationId": store.gid, "posTransactionId": tx, "lines": lines}

        async def action(op: Op) -> None:
            sale = await self.mutate(
                op, store.till, "recordPosSales", "RecordPosSalesInput", request, "replayed"
            )
            if sale["replayed"] and not op.retried:
                raise Finding(f"a new till transaction {tx} was answered as a replay")
            self.ledger.pos[tx] = len(lines)

        await self.attempt("pos_sale", action)

    async def check_in(self, member: Member) -> None:
        async def counted(code: str) -> bool:  # resent: the first copy checked in
            return code == "ALREADY_CHECKED_IN"

        async def action(op: Op) -> None:
            await self.mutate(
                op, member.token, "dailyCheckIn", None, {}, "entry { amount }", counted
            )

        await self.attempt("check_in", action)

    async def grant(self, rng: random.Random) -> None:
        member, key = rng.choice(self.world.members), uuid.uuid4().hex
        request = {"memberId": member.gid, "delta": 300, "reason": "chaos", "idempotencyKey": key}

        async def action(op: Op) -> None:
            await self.mutate(
                op, self.world.cs, "adjustPoints", "AdjustPointsInput", request, "entry { amount }"
            )
            self.ledger.grants[key] = str(member.id)
            self.funded.append(member)

        await self.attempt("points_grant", action)

    async def subscribe(self, rng: random.Random) -> None:
        """First delivery tomorrow, a daily plan: within the renewal lead time (2 days), so the
        renewal job orders and charges two cycles during the run."""
        member, key = rng.choice(self.world.members), uuid.uuid4().hex
        tomorrow = datetime.now(ZoneInfo("Asia/Shanghai")).date() + timedelta(days=1)
        request = {
            "planId": self.world.plan,
            "lines": [{"variantId": rng.choice(self.world.plan_variants), "quantity": 1}],
            "fulfilment": {"pickup": {"locationId": rng.choice(self.world.stores).gid}},
            "firstDeliveryDate": tomorrow.isoformat(),
            "paymentAgreement": f"chaos-agreement-{member.id}",
            "idempotencyKey": key,
        }

        async def action(op: Op) -> None:
            kind, fields = "CreateSubscriptionInput", "subscription { id }"
            made = await self.mutate(op, member.token, "createSubscription", kind, request, fields)
            self.ledger.subscriptions[key] = uuid_of(made["subscription"]["id"])

        await self.attempt("subscription", action)

    async def merge(self, rng: random.Random) -> None:
        """A duplicate record checks in and orders; then CS merges it into a member (the same
        merge again answers like the first)."""
        if not self.dups:
            return
        dup, target = self.dups.pop(), rng.choice(self.world.members)
        await self.check_in(dup)
        await self.place(rng, dup)
        request = {"sourceMemberId": dup.gid, "targetMemberId": target.gid, "reason": "twice"}

        async def action(op: Op) -> None:
            await self.mutate(
                op, self.world.cs, "mergeMembers", "MergeMembersInput", request, "merge { id }"
            )
            self.ledger.merges[str(dup.id)] = str(target.id)

        await self.attempt("merge", action)

    # ------------------------------------------------------------ the run

    async def client(self, n: int, stop: asyncio.Event) -> None:
        rng = random.Random(self.seed * 1000 + n)
        mix: list[tuple[Callable[[], Awaitable[None]], int]] = [
            (lambda: self.story(rng, with_points=False), 40),
            (lambda: self.story(rng, with_points=True), 10),
            (lambda: self.pos_sale(rng), 15),
            (lambda: self.check_in(rng.choice(self.world.members)), 4),
            (lambda: self.grant(rng), 8),
            (lambda: self.subscribe(rng), 8),
            (lambda: self.merge(rng), 8),
        ]
        actions, weights = zip(*mix, strict=True)
        while not stop.is_set():
            await rng.choices(actions, weights)[0]()

    async def poke_jobs(self, redis_url: str, stop: asyncio.Event) -> None:
        """Crons run the renewal job every 300 s: enqueue the jobs by name every 3 s."""
        from arq import create_pool
        from arq.connections import RedisSettings

        pool = await create_pool(RedisSettings.from_dsn(redis_url), default_queue_name=QUEUE)
        try:
            while not stop.is_set():
                for name in POKED_JOBS:
                    await pool.enqueue_job(name)
                    self.jobs_enqueued += 1
                await asyncio.sleep(3)
        finally:
            await pool.aclose()

    async def run(self, clients: int, seconds: float, redis_url: str) -> None:
        stop = asyncio.Event()
        tasks = [asyncio.create_task(self.client(n, stop)) for n in range(clients)]
        tasks.append(asyncio.create_task(self.poke_jobs(redis_url, stop)))
        await asyncio.sleep(seconds)
        stop.set()
        await asyncio.gather(*tasks)
