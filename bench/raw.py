"""The raw baselines: for each request, the SQL work the server does for it, written by
hand with plain asyncpg (prepared statements, one pool, one process), reading and writing the
same rows with as few statements as that takes.

What raw leaves out is what is not SQL: HTTP, GraphQL, JWT signatures, webhook HMACs, the
pickup-code rate-limit check in Redis. What it keeps: the session (or device) check every
authenticated request makes, the catalog reads that price an order, every row the domain
writes (orders, lines, timeline events, reservations, movements, points lots, entries, holds,
growth, outbox messages, idempotency records). The load generator counts the statements
of each step; bench.trace counts the server's."""

from __future__ import annotations

import json
import math
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any, TypeVar

import asyncpg
import httpx

from bench import raw_sql as sql
from bench.compose import Scenarios
from bench.coupons import CouponSupply
from bench.driver import Client
from bench.flows import POINTS_AT_CHECKOUT, with_member
from bench.prepared import Supply

T = TypeVar("T")
PAYMENT_TIMEOUT = timedelta(minutes=15)
PICKUP_WINDOW = timedelta(days=3)
PAID_HOLD = timedelta(days=30)
SCOPE_EVERYTHING = {"products": [], "categories": [], "channels": [], "stores": []}


def _ids(n: int) -> list[uuid.UUID]:
    from domain.ids import new_id

    return [new_id() for _ in range(n)]


def _order_number(order_id: uuid.UUID) -> str:
    from domain.ordering.checkout import order_number

    return order_number(order_id)


class Refused(Exception):
    """What the server would answer with a typed error (no stock, no points...)."""


class RawSteps(Scenarios):
    def __init__(self, world: dict[str, Any], pool: asyncpg.Pool):
        from domain.loyalty.model import PointsPolicy

        self.pool = pool
        self.policy = PointsPolicy()
        self.members = [(uuid.UUID(m["id"]), uuid.UUID(m["session_id"])) for m in world["members"]]
        self.history = [
            (uuid.UUID(m["id"]), uuid.UUID(m["session_id"])) for m in world["history_members"]
        ]
        self.stores = [
            {
                "id": uuid.UUID(s["id"]),
                "clerk": (uuid.UUID(s["clerk"]["id"]), uuid.UUID(s["clerk"]["session_id"])),
                "till": s["pos"]["token_hash"],
            }
            for s in world["stores"]
        ]
        self.cs = (uuid.UUID(world["cs"]["id"]), uuid.UUID(world["cs"]["session_id"]))
        self.variants = [
            {
                "id": uuid.UUID(v["id"]),
                "product_id": uuid.UUID(v["product_id"]),
                "price": v["price"],
            }
            for v in world["variants"]
        ]
        self.quoting = [
            (uuid.UUID(m["id"]), uuid.UUID(m["session_id"]))
            for m in world.get("quote_crowd", {}).get("members", [])
        ]
        crowd = world.get("coupon_crowd", {}).get("members", [])
        self.coupons = CouponSupply(
            [((uuid.UUID(m["id"]), uuid.UUID(m["session_id"])), m["coupons"]) for m in crowd]
        )
        self.prepared = Supply.load(world.get("wechatpay_batch"))  # bench.wechatpay
        self.wechatpay = world.get("wechatpay")  # {"keys": folder, "api_base": URL}
        self.secrets = world.get("secrets", {})

    async def _timed(self, c: Client, kind: str, work: Callable[[], Awaitable[T]]) -> T:
        c.state["step"] = kind
        t0 = time.perf_counter()
        result = await work()
        c.rec.step(kind, time.perf_counter() - t0)
        return result

    @staticmethod
    async def _session(conn: asyncpg.Connection, session: uuid.UUID) -> None:
        row = await conn.fetchrow(sql.SESSION, session)
        if row is None or row["revoked_at"] is not None:
            raise Refused("session revoked")

    # ------------------------------------------------------------ checkout and payment

    async def place(
        self, c: Client, strict: bool, points: bool = False, coupon: bool = False
    ) -> dict[str, Any]:
        rnd = c.rnd
        coupon_id = None
        if coupon:
            (member, session), taken = self.coupons.take(rnd)
            coupon_id = uuid.UUID(taken)
        else:
            member, session = rnd.choice(self.members)
        store = rnd.choice(self.stores)["id"]
        lines = sorted(rnd.sample(self.variants, 2), key=lambda v: v["id"])
        key = uuid.uuid4().hex
        redeem = POINTS_AT_CHECKOUT if points else 0

        async def work() -> dict[str, Any]:
            now = datetime.now(UTC)
            order_id, claim, *more = _ids(9)
            owner, actor = f"order:{order_id}", f"MEMBER:{member}"
            scope = f"{actor}:placeOrder"
            async with self.pool.acquire() as conn:
                await self._session(conn, session)
                async with conn.transaction():
                    if await conn.fetchval(sql.CLAIM, claim, scope, key, "0" * 64, now) is None:
                        raise Refused("idempotency key reused")
                    variants = await conn.fetch(sql.VARIANTS, [v["id"] for v in lines])
                    found = {r["id"]: r for r in variants}
                    products = await conn.fetch(
                        sql.PRODUCTS_BY_ID, list({r["product_id"] for r in variants})
                    )
                    names = {r["id"]: r["name"] for r in products}
                    paid = await self._member_prices(conn, member, found)
                    ids = [v["id"] for v in lines]
                    off = [0, 0]
                    if coupon_id is not None:
                        off = await self._hold_coupon(
                            conn, coupon_id, member, order_id, [paid[v] for v in ids], now
                        )
                    where = await conn.fetchrow(sql.LOCATION, store)
                    if where is None or not where["pickup_enabled"]:
                        raise Refused("no pickup there")
                    for v in lines:
                        if await conn.execute(sql.RESERVE, store, v["id"], 1) != "UPDATE 1":
                            raise Refused("insufficient stock")
                    await conn.execute(
                        sql.RESERVATIONS,
                        more[0:2],
                        owner,
                        store,
                        ids,
                        [1, 1],
                        now + PAYMENT_TIMEOUT,
                        now,
                    )
                    await conn.execute(
                        sql.MOVEMENTS,
                        more[2:4],
                        store,
                        ids,
                        "RESERVE",
                        [0, 0],
                        [1, 1],
                        "reserved",
                        owner,
                        "SYSTEM",
                        now,
                    )
                    total = sum(paid[v] for v in ids) - sum(off)
                    discount = self.policy.value_of(redeem) if redeem else 0
                    if redeem:
                        await self._hold(conn, member, redeem, owner, actor, now)
                    await conn.execute(
                        sql.ORDER,
                        order_id,
                        _order_number(order_id),
                        member,
                        store,
                        total,
                        now,
                        now + PAYMENT_TIMEOUT,
                        redeem,
                        discount,
                    )
                    await conn.execute(
                        sql.LINES_WITH_COUPON,
                        more[4:6],
                        order_id,
                        ids,
                        [found[v]["product_id"] for v in ids],
                        [found[v]["code"] for v in ids],
                        [f"{names[found[v]['product_id']]} {found[v]['name']}" for v in ids],
                        [paid[v] for v in ids],
                        [found[v]["price_amount"] for v in ids],
                        off,
                    )
                    await conn.execute(
                        sql.EVENT, more[6], order_id, None, "PENDING_PAYMENT", actor, "placed", now
                    )
                    await conn.execute(sql.GUIDE_ORDER, order_id, now, member)
                    await conn.execute(
                        sql.COMPLETE_KEY, scope, key, json.dumps({"order_id": str(order_id)})
                    )
            return {"id": order_id, "member": (member, session), "store": store}

        return await self._timed(c, "placeOrder", work)

    @staticmethod
    async def _member_prices(
        conn: asyncpg.Connection, member: uuid.UUID, variants: dict[uuid.UUID, Any]
    ) -> dict[uuid.UUID, int]:
        """Each variant's unit price for the member: the member price of their tier when
        lower than the list price (the reads of domain/promotions/pricing.py)."""
        account = await conn.fetchrow(sql.POINTS_OF, member)
        tier = account["tier"] if account is not None else "MEMBER"
        rows = await conn.fetch(sql.MEMBER_PRICES, tier, list(variants))
        member_prices = {r["variant_id"]: r["price"] for r in rows}
        return {
            v: min(r["price_amount"], member_prices.get(v, r["price_amount"]))
            for v, r in variants.items()
        }

    @staticmethod
    async def _hold_coupon(
        conn: asyncpg.Connection,
        coupon_id: uuid.UUID,
        member: uuid.UUID,
        order_id: uuid.UUID,
        totals: list[int],
        now: datetime,
    ) -> list[int]:
        """The coupon with its template's rules (one read), what it takes off the lines
        (a NO_THRESHOLD or AMOUNT_OFF coupon on the whole cart, allocated to the lines in
        proportion), then its conditional hold for the order. Returns each line's part."""
        from domain.promotions.coupons_model import allocate

        row = await conn.fetchrow(sql.COUPON, coupon_id)
        if row is None or row["member_id"] != member or row["status"] != "AVAILABLE":
            raise Refused("no such coupon of yours")
        if not row["valid_from"] <= now < row["valid_until"]:
            raise Refused("the coupon is not valid now")
        if row["kind"] == "PERCENT_OFF" or json.loads(row["scope"]) != SCOPE_EVERYTHING:
            raise Refused("the baseline prices whole-cart amount-off coupons only")
        if sum(totals) < row["threshold"]:
            raise Refused("below the coupon's threshold")
        discount = min(row["amount_off"], sum(totals))
        if await conn.execute(sql.HOLD_COUPON, coupon_id, order_id, member, now, discount) != (
            "UPDATE 1"
        ):
            raise Refused("the coupon was just used")
        return list(allocate(discount, totals))

    async def quote(self, c: Client, strict: bool, coupons: bool = False) -> None:
        rnd = c.rnd
        member, session = rnd.choice(self.quoting if coupons else self.members)
        lines = rnd.sample(self.variants, 2)

        async def work() -> int:
            async with self.pool.acquire() as conn:
                await self._session(conn, session)
                variants = await conn.fetch(sql.VARIANTS, [v["id"] for v in lines])
                found = {r["id"]: r for r in variants}
                products = await conn.fetch(
                    sql.PRODUCTS_BY_ID, list({r["product_id"] for r in variants})
                )
                if len(products) != len({r["product_id"] for r in variants}):
                    raise Refused("unknown product")
                paid = await self._member_prices(conn, member, found)
                offers = await conn.fetch(sql.COUPONS_OF, member, datetime.now(UTC))
                for offer in offers:  # what each takes off is judged by its rules and scope
                    json.loads(offer["scope"])
            total = sum(paid.values())
            cap = total * self.policy.max_redeem_bps // 10_000
            if self.policy.value_of(POINTS_AT_CHECKOUT) > cap:
                raise Refused("points above the cap")
            return total - self.policy.value_of(POINTS_AT_CHECKOUT)

        await self._timed(c, "checkoutQuote", work)

    async def _hold(
        self,
        conn: asyncpg.Connection,
        member: uuid.UUID,
        points: int,
        owner: str,
        actor: str,
        now: datetime,
    ) -> None:
        account = await conn.fetchrow(sql.LOCK_ACCOUNT, member)
        if await conn.fetchrow(sql.HOLD_BY_OWNER, owner) is not None:
            return
        if account["balance"] - account["held"] < points:
            raise Refused("insufficient points")
        taken: dict[str, int] = {}
        need = points
        for lot in await conn.fetch(sql.SPENDABLE, member):
            part = min(lot["remaining"], need)
            taken[str(lot["id"])] = part
            need -= part
            if need == 0:
                break
        for lot_id, part in taken.items():
            await conn.execute(sql.EARMARK, uuid.UUID(lot_id), part)
        hold_id, entry_id = _ids(2)
        await conn.execute(sql.NEW_HOLD, hold_id, member, owner, points, json.dumps(taken), now)
        held = account["held"] + points
        await conn.execute(
            sql.ENTRY,
            entry_id,
            member,
            "HOLD",
            0,
            points,
            account["balance"],
            held,
            owner,
            actor,
            "held for redemption",
            f"hold:{owner}",
            now,
        )
        await conn.execute(
            sql.ACCOUNT,
            member,
            account["balance"],
            held,
            account["debt"],
            account["growth_value"],
            account["tier"],
        )

    async def pay_and_notify(self, c: Client, order: dict[str, Any], strict: bool) -> None:
        member, session = order["member"]

        async def pay() -> str:
            payment_id = _ids(1)[0]
            ref = f"dp_{payment_id.hex}"
            async with self.pool.acquire() as conn:
                await self._session(conn, session)
                row = await conn.fetchrow(sql.ORDER_TO_PAY, order["id"])
                if row["member_id"] != member or row["status"] != "PENDING_PAYMENT":
                    raise Refused("nothing to pay")
                await conn.execute(
                    sql.NEW_PAYMENT,
                    payment_id,
                    order["id"],
                    ref,
                    row["due"],
                    datetime.now(UTC),
                    "devpay",
                )
            return ref

        ref = await self._timed(c, "payOrder", pay)
        await self._timed(c, "webhook", lambda: self._paid("devpay", ref, None))

    async def _paid(self, provider: str, ref: str, amount: int | None) -> None:
        """What a provider's notification that the payment `ref` succeeded (for `amount`, when
        it says) writes: the payment done once, the order paid, its timeline, its goods held
        on, its points spent, the member's message."""
        now = datetime.now(UTC)
        actor = f"PROVIDER:{provider}"
        async with self.pool.acquire() as conn, conn.transaction():
            payment = await conn.fetchrow(sql.PAYMENT_BY_REF, ref, provider)
            if payment is None or (amount is not None and amount != payment["amount"]):
                raise Refused("unknown payment, or another amount")
            if await conn.execute(sql.PAYMENT_DONE, payment["id"], now) != "UPDATE 1":
                raise Refused("duplicate notification")
            row = await conn.fetchrow(sql.LOCK_ORDER, payment["order_id"])
            await conn.execute(sql.PAID, payment["order_id"], now)
            event, outbox = _ids(2)
            await conn.execute(
                sql.EVENT,
                event,
                payment["order_id"],
                "PENDING_PAYMENT",
                "PAID",
                actor,
                "payment received",
                now,
            )
            owner = f"order:{payment['order_id']}"
            await conn.execute(sql.EXTEND, owner, now + PICKUP_WINDOW + PAID_HOLD)
            await self._post(conn, owner, actor, now)
            data = {"order_number": row["number"], "total": str(row["due"])}
            await conn.execute(
                sql.OUTBOX,
                outbox,
                "ORDER_PAID",
                row["member_id"],
                payment["order_id"],
                json.dumps(data),
                f"order:{payment['order_id']}:paid",
                now,
            )

    async def _post(self, conn: asyncpg.Connection, owner: str, actor: str, now: datetime) -> None:
        """The points held at checkout are spent (phase two), if the order held any."""
        hold = await conn.fetchrow(sql.HOLD_BY_OWNER, owner)
        if hold is None:
            return
        member = hold["member_id"]
        account = await conn.fetchrow(sql.LOCK_ACCOUNT, member)
        for lot_id, part in json.loads(hold["allocations"]).items():
            await conn.execute(sql.SPEND_HELD, uuid.UUID(lot_id), part)
        await conn.execute(sql.POST_HOLD, hold["id"])
        balance, held = account["balance"] - hold["amount"], account["held"] - hold["amount"]
        await conn.execute(
            sql.ENTRY,
            _ids(1)[0],
            member,
            "REDEEM",
            -hold["amount"],
            -hold["amount"],
            balance,
            held,
            owner,
            actor,
            "redeemed",
            f"redeem:{owner}",
            now,
        )
        await conn.execute(
            sql.ACCOUNT,
            member,
            balance,
            held,
            account["debt"],
            account["growth_value"],
            account["tier"],
        )

    # ------------------------------------------------------------ WeChat Pay

    @cached_property
    def _merchant(self) -> Any:
        """The bench merchant's WeChatPayConfig (its keys, WeChat's public key, the fake's URL)."""
        from pathlib import Path

        from bench.wechatpay import Keys, config

        assert self.wechatpay is not None, "the runner passes the fake WeChat Pay's keys"
        return config(Keys(Path(self.wechatpay["keys"])), self.wechatpay["api_base"])

    @cached_property
    def _http(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self._merchant.api_base, timeout=10)

    @cached_property
    def _vault(self) -> Any:
        import base64

        from infra.security.pii import AesGcmVault

        return AesGcmVault(
            base64.b64decode(self.secrets["pii_master"]), base64.b64decode(self.secrets["pii_hash"])
        )

    def _notice(self, headers: dict[str, str], body: str) -> tuple[str, int]:
        """A WeChat Pay notification checked by hand: serial, timestamp, signature, then the
        resource decrypted and the merchant's fields; (out_trade_no, amount)."""
        from infra.wechatpay import decrypt_resource, response_message, rsa_verify

        merchant = self._merchant
        stamp = headers["wechatpay-timestamp"]
        if (
            headers["wechatpay-serial"] != merchant.public_key_id
            or abs(time.time() - int(stamp)) > 300
        ):
            raise Refused("unknown serial, or a stale notification")
        message = response_message(stamp, headers["wechatpay-nonce"], body)
        if not rsa_verify(merchant.public_key, message, headers["wechatpay-signature"]):
            raise Refused("bad signature")
        resource = json.loads(body)["resource"]
        plain = json.loads(
            decrypt_resource(
                merchant.apiv3_key,
                resource["nonce"],
                resource["associated_data"],
                resource["ciphertext"],
            )
        )
        if plain["mchid"] != merchant.mchid or plain["appid"] != merchant.appid:
            raise Refused("not our merchant or app")
        if plain["trade_state"] != "SUCCESS":
            raise Refused("not paid")
        return plain["out_trade_no"], int(plain["amount"]["total"])

    async def wechatpay_notify(self, c: Client, strict: bool) -> None:
        order = self.prepared.take()
        headers = {k.lower(): v for k, v in order["headers"].items()}

        async def work() -> None:
            ref, amount = self._notice(headers, order["body"])
            await self._paid("wechatpay", ref, amount)

        await self._timed(c, "webhook", work)

    async def _prepay(self, body: dict[str, Any]) -> str:
        """The signed JSAPI request; the answer's signature checked; its prepay_id."""
        from infra.wechatpay import (
            authorization,
            nonce_str,
            response_message,
            rsa_verify,
        )

        merchant, path = self._merchant, "/v3/pay/transactions/jsapi"
        text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
        signed = authorization(
            merchant.private_key,
            mchid=merchant.mchid,
            serial_no=merchant.merchant_serial,
            method="POST",
            path_and_query=path,
            body=text,
            timestamp=str(int(time.time())),
            nonce=nonce_str(),
        )
        answer = await self._http.post(
            path,
            content=text.encode(),
            headers={"Authorization": signed, "Accept": "application/json",
                     "Content-Type": "application/json"},
        )  # fmt: skip
        h = answer.headers
        stamp = h.get("wechatpay-timestamp", "0")
        message = response_message(stamp, h.get("wechatpay-nonce", ""), answer.text)
        if abs(time.time() - int(stamp)) > 300 or not rsa_verify(
            merchant.public_key, message, h.get("wechatpay-signature", "")
        ):
            raise Refused("an answer WeChat Pay did not sign")
        if answer.status_code != 200:
            raise Refused(f"WeChat Pay refused: {answer.text[:200]}")
        return str(answer.json()["prepay_id"])

    async def wechatpay_pay_order(self, c: Client, strict: bool) -> None:
        from infra.wechatpay import nonce_str, pay_sign_message, rfc3339_beijing, rsa_sign

        order = self.prepared.take()
        member, session = self.members[order["member"]]
        order_id = uuid.UUID(order["id"])

        async def work() -> dict[str, str]:
            merchant = self._merchant
            async with self.pool.acquire() as conn:
                await self._session(conn, session)
                row = await conn.fetchrow(sql.ORDER_TO_PAY, order_id)
                if row is None or row["member_id"] != member or row["status"] != "PENDING_PAYMENT":
                    raise Refused("nothing to pay")
                if await conn.fetch(sql.PAYMENTS_OF, order_id):
                    raise Refused("a payment to resume")  # none: each order is paid once here
                who = await conn.fetchrow(sql.OPENID, member, merchant.appid)
            if who is None:
                raise Refused("no openid of the paying app")
            payment_id = _ids(1)[0]
            prepay_id = await self._prepay(
                {
                    "appid": merchant.appid,
                    "mchid": merchant.mchid,
                    "description": f"Order {row['number']}",
                    "out_trade_no": payment_id.hex,
                    "notify_url": merchant.notify_url,
                    "amount": {"total": row["due"], "currency": "CNY"},
                    "time_expire": rfc3339_beijing(row["payment_deadline"]),
                    "payer": {"openid": self._vault.decrypt(who["data_key"], who["ciphertext"])},
                }
            )
            stamp, nonce, package = str(int(time.time())), nonce_str(), f"prepay_id={prepay_id}"
            sign = rsa_sign(
                merchant.private_key, pay_sign_message(merchant.appid, stamp, nonce, package)
            )
            async with self.pool.acquire() as conn:
                await conn.execute(
                    sql.NEW_PAYMENT,
                    payment_id,
                    order_id,
                    payment_id.hex,
                    row["due"],
                    datetime.now(UTC),
                    "wechatpay",
                )
            return {"package": package, "paySign": sign}

        await self._timed(c, "payOrder", work)

    # ------------------------------------------------------------ the store's steps

    def _clerk(self, store: uuid.UUID) -> tuple[uuid.UUID, uuid.UUID]:
        clerk: tuple[uuid.UUID, uuid.UUID] = next(
            s["clerk"] for s in self.stores if s["id"] == store
        )
        return clerk

    async def prepare(self, c: Client, order: dict[str, Any], strict: bool) -> None:
        clerk, session = self._clerk(order["store"])

        async def work() -> None:
            now = datetime.now(UTC)
            async with self.pool.acquire() as conn:
                await self._session(conn, session)
                async with conn.transaction():
                    row = await conn.fetchrow(sql.LOCK_ORDER, order["id"])
                    if row["location_id"] != order["store"]:
                        raise Refused("not this store's order")
                    await conn.execute(sql.MOVE_ORDER, order["id"], "PAID", "PREPARING", now)
                    await conn.execute(
                        sql.EVENT,
                        _ids(1)[0],
                        order["id"],
                        "PAID",
                        "PREPARING",
                        f"STAFF:{clerk}",
                        "",
                        now,
                    )

        await self._timed(c, "startPreparing", work)

    async def ready(self, c: Client, order: dict[str, Any], strict: bool) -> None:
        clerk, session = self._clerk(order["store"])

        async def work() -> None:
            now = datetime.now(UTC)
            deadline = now + PICKUP_WINDOW
            async with self.pool.acquire() as conn:
                await self._session(conn, session)
                async with conn.transaction():
                    row = await conn.fetchrow(sql.LOCK_ORDER, order["id"])
                    await conn.execute(sql.READY, order["id"], now, deadline)
                    await conn.execute(
                        sql.EVENT,
                        _ids(1)[0],
                        order["id"],
                        "PREPARING",
                        "READY_FOR_PICKUP",
                        f"STAFF:{clerk}",
                        "packed",
                        now,
                    )
                    owner = f"order:{order['id']}"
                    await conn.execute(sql.EXTEND, owner, deadline + PAYMENT_TIMEOUT)
                    for _ in range(20):
                        code = f"{c.rnd.randrange(1_000_000):06d}"
                        if (
                            await conn.fetchval(
                                sql.NEW_CODE,
                                _ids(1)[0],
                                order["id"],
                                order["store"],
                                code,
                                deadline,
                            )
                            is not None
                        ):
                            break
                    where = await conn.fetchrow(sql.LOCATION, order["store"])
                    data = {"order_number": row["number"], "code": code, "store": where["name"]}
                    await conn.execute(
                        sql.OUTBOX,
                        _ids(1)[0],
                        "ORDER_READY_FOR_PICKUP",
                        row["member_id"],
                        order["id"],
                        json.dumps(data),
                        f"order:{order['id']}:ready",
                        now,
                    )

        await self._timed(c, "markReady", work)

    async def hand_over(self, c: Client, order: dict[str, Any], strict: bool) -> None:
        member, member_session = order["member"]

        async def read_code() -> str:
            async with self.pool.acquire() as conn:
                await self._session(conn, member_session)
                row = await conn.fetchrow(sql.ORDER_CODE, order["id"])
            if row["member_id"] != member or row["code"] is None:
                raise Refused("no pickup code")
            return str(row["code"])

        code = await self._timed(c, "pickupCode", read_code)
        clerk, session = self._clerk(order["store"])

        async def complete() -> None:
            now = datetime.now(UTC)
            async with self.pool.acquire() as conn:
                await self._session(conn, session)
                async with conn.transaction():
                    order_id = await conn.fetchval(sql.CODE_AT, order["store"], code)
                    if order_id is None:
                        raise Refused("wrong pickup code")
                    row = await conn.fetchrow(sql.LOCK_ORDER, order_id)
                    await conn.execute(
                        sql.MOVE_ORDER, order_id, "READY_FOR_PICKUP", "PICKED_UP", now
                    )
                    await conn.execute(
                        sql.EVENT,
                        _ids(1)[0],
                        order_id,
                        "READY_FOR_PICKUP",
                        "PICKED_UP",
                        f"STAFF:{clerk}",
                        "handed over",
                        now,
                    )
                    owner = f"order:{order_id}"
                    held = sorted(
                        await conn.fetch(sql.COMMIT_RESERVATIONS, owner),
                        key=lambda r: (r["location_id"], r["variant_id"]),
                    )
                    for r in held:
                        await conn.execute(
                            sql.TAKE_RESERVED, r["location_id"], r["variant_id"], r["quantity"]
                        )
                    await conn.execute(
                        sql.MOVEMENTS,
                        _ids(len(held)),
                        order["store"],
                        [r["variant_id"] for r in held],
                        "COMMIT",
                        [-r["quantity"] for r in held],
                        [-r["quantity"] for r in held],
                        "handed over",
                        owner,
                        f"STAFF:{clerk}",
                        now,
                    )
                    await conn.execute(sql.DROP_CODE, order_id)
                    await self._earn(conn, row["member_id"], row["due"], owner, now)
                    # the review invitation is marketing: only with the member's consent
                    if await conn.fetchval(sql.MARKETING_CONSENT, row["member_id"]):
                        await conn.execute(
                            sql.OUTBOX,
                            _ids(1)[0],
                            "REVIEW_INVITATION",
                            row["member_id"],
                            order_id,
                            json.dumps({"order_number": row["number"]}),
                            f"order:{order_id}:review",
                            now,
                        )

        await self._timed(c, "completePickup", complete)

    async def _earn(
        self, conn: asyncpg.Connection, member: uuid.UUID, paid: int, reference: str, now: datetime
    ) -> None:
        """Points for goods handed over: growth recorded, tier recomputed, a new lot."""
        account = await conn.fetchrow(sql.LOCK_ACCOUNT, member)
        key = f"earn:{reference}"
        if await conn.fetchval(sql.ENTRY_BY_KEY, member, key) is not None:
            return
        growth_id, lot_id, entry_id = _ids(3)
        await conn.execute(sql.GROWTH, growth_id, member, paid, now, reference)
        growth = await conn.fetchval(sql.GROWTH_SUM, member, now - self.policy.growth_window)
        tier = self.policy.tier_for(growth).name
        points = self.policy.earned_for(paid, tier)
        balance = account["balance"] + points
        if points > 0:
            await conn.execute(
                sql.LOT, lot_id, member, points, now, self.policy.expiry_for(now), reference
            )
            await conn.execute(
                sql.ENTRY,
                entry_id,
                member,
                "EARN",
                points,
                0,
                balance,
                account["held"],
                reference,
                "SYSTEM",
                f"purchase {reference}",
                key,
                now,
            )
        await conn.execute(
            sql.ACCOUNT, member, balance, account["held"], account["debt"], growth, tier
        )

    # ------------------------------------------------------------ reads

    async def availability(self, c: Client, strict: bool) -> None:
        rnd = c.rnd
        variant = rnd.choice(self.variants)["id"]
        lat = 31.2304 + rnd.uniform(-0.05, 0.05)
        lng = 121.4737 + rnd.uniform(-0.05, 0.05)
        _, session = rnd.choice(self.members)

        async def work() -> list[tuple[float, Any, int]]:
            async with self.pool.acquire() as conn:
                await self._session(conn, session)
                if await conn.fetchrow(sql.VARIANT, variant) is None:
                    raise Refused("unknown variant")
                levels = await conn.fetch(sql.LEVELS, variant)
                network = {r["id"]: r for r in await conn.fetch(sql.NETWORK)}
            rows = []
            for level in levels:
                where = network.get(level["location_id"])
                if where is None or not where["pickup_enabled"]:
                    continue
                rows.append((_metres(lat, lng, where), where, level["available"]))
            rows.sort(key=lambda r: (r[0], r[1]["code"]))
            return rows[:5]

        await self._timed(c, "availability", work)

    async def my_orders(self, c: Client, strict: bool) -> None:
        member, session = c.rnd.choice(self.history)

        async def work() -> int:
            async with self.pool.acquire() as conn:
                await self._session(conn, session)
                await conn.fetchrow(sql.MEMBER, member)
                orders = (await conn.fetch(sql.MY_ORDERS, member))[:20]
                lines = await conn.fetch(sql.LINES_OF, [o["id"] for o in orders])
                variants = await conn.fetch(sql.VARIANTS, list({r["variant_id"] for r in lines}))
                await conn.fetch(sql.PRODUCT_NAMES, list({r["product_id"] for r in variants}))
            return len(orders)

        found = await self._timed(c, "myOrders", work)
        if strict and found < 20:
            raise Refused(f"{found} orders, expected 20")

    async def products(self, c: Client, strict: bool) -> None:
        _, session = c.rnd.choice(self.members)

        async def work() -> None:
            async with self.pool.acquire() as conn:
                await self._session(conn, session)
                page = (await conn.fetch(sql.PRODUCT_PAGE))[:20]
                await conn.fetch(sql.VARIANTS_OF, [p["id"] for p in page])

        await self._timed(c, "products", work)

    async def products_stock(self, c: Client, strict: bool) -> None:
        _, session = c.rnd.choice(self.members)

        async def work() -> int:
            async with self.pool.acquire() as conn:
                await self._session(conn, session)
                page = (await conn.fetch(sql.PRODUCT_PAGE))[:20]
                variants = await conn.fetch(sql.VARIANTS_OF, [p["id"] for p in page])
                totals = await conn.fetch(sql.ONLINE_TOTALS, [v["id"] for v in variants])
            return len(totals)

        found = await self._timed(c, "productsStock", work)
        if strict and found < 100:
            raise Refused(f"{found} variants in stock online, expected 100")

    # ------------------------------------------------------------ till and points

    async def pos_sale(self, c: Client, strict: bool) -> None:
        rnd = c.rnd
        store = rnd.choice(self.stores)
        lines = sorted(rnd.sample(self.variants, 2), key=lambda v: v["id"])
        member = rnd.choice(self.members)[0] if with_member(c) else None
        tx = uuid.uuid4().hex

        async def work() -> None:
            now = datetime.now(UTC)
            where = store["id"]
            async with self.pool.acquire() as conn:
                device = await conn.fetchrow(sql.DEVICE, store["till"])
                if device is None or device["revoked_at"] is not None:
                    raise Refused("unknown till")
                async with conn.transaction():
                    if await conn.fetchrow(sql.LOCATION, where) is None:
                        raise Refused("unknown store")
                    ids = [v["id"] for v in lines]
                    prices = {
                        r["id"]: r["price_amount"] for r in await conn.fetch(sql.VARIANTS, ids)
                    }
                    summary = json.dumps({"lines": [[str(v), 1] for v in ids]})
                    if await conn.fetchval(sql.POS_TX, _ids(1)[0], where, tx, summary, now) is None:
                        return  # a replay
                    for v in ids:
                        if await conn.fetchrow(sql.TAKE_FOR_SALE, where, v, 1) is None:
                            raise Refused("no stock level")
                    actor = f"DEVICE:{device['id']}"
                    await conn.execute(
                        sql.MOVEMENTS,
                        _ids(2),
                        where,
                        ids,
                        "SALE_POS",
                        [-1, -1],
                        [0, 0],
                        "till sale",
                        tx,
                        actor,
                        now,
                    )
                    done = {"lines": [[str(v), 1, 1] for v in ids], "discrepancies": 0}
                    await conn.execute(sql.POS_DONE, where, tx, json.dumps(done))
                    if member is not None:
                        paid = sum(prices.values())
                        await self._earn(conn, member, paid, f"pos:{where}:{tx}", now)

        await self._timed(c, "recordPosSales", work)

    async def points_earn(self, c: Client, strict: bool) -> None:
        member, _ = c.rnd.choice(self.members)
        cs, session = self.cs
        key = f"adjust:{uuid.uuid4().hex}"

        async def work() -> None:
            now = datetime.now(UTC)
            async with self.pool.acquire() as conn:
                await self._session(conn, session)
                async with conn.transaction():
                    if await conn.fetchval(sql.MEMBER_EXISTS, member) is None:
                        raise Refused("unknown member")
                    account = await conn.fetchrow(sql.LOCK_ACCOUNT, member)
                    if await conn.fetchval(sql.ENTRY_BY_KEY, member, key) is not None:
                        return
                    lot_id, entry_id = _ids(2)
                    source = f"cs:{cs}"
                    await conn.execute(
                        sql.LOT, lot_id, member, 100, now, self.policy.expiry_for(now), source
                    )
                    balance = account["balance"] + 100
                    await conn.execute(
                        sql.ENTRY,
                        entry_id,
                        member,
                        "ADJUST",
                        100,
                        0,
                        balance,
                        account["held"],
                        source,
                        f"STAFF:{cs}",
                        "bench goodwill",
                        key,
                        now,
                    )
                    await conn.execute(
                        sql.ACCOUNT,
                        member,
                        balance,
                        account["held"],
                        account["debt"],
                        account["growth_value"],
                        account["tier"],
                    )

        await self._timed(c, "adjustPoints", work)


def _metres(lat: float, lng: float, where: Any) -> float:
    """Haversine, as domain.locations.model.GeoPoint does it."""
    p1, p2 = math.radians(lat), math.radians(where["latitude"])
    dp, dl = p2 - p1, math.radians(where["longitude"] - lng)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6_371_000 * math.asin(math.sqrt(a))
