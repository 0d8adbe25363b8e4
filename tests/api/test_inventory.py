"""Cross-channel inventory through the API: levels, the ledger, counts, transfers, till sales,
bulk sync, reservations at risk, shopper availability, store scoping and SQL statement counts.

After every scenario the ledger must explain the levels: per (location, variant) the sums of
`onHandDelta` / `reservedDelta` equal `onHand` / `reserved`, and `reserved` equals what the
holding reservations hold."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest
from tortoise.exceptions import IntegrityError, OperationalError
from tortoise.transactions import in_transaction

from api.relay import encode_id
from domain.catalog.model import Variant
from domain.catalog.services import ProductDraft, VariantDraft, create_product
from domain.errors import InventoryErrorCode
from domain.events import ReservationExpired, ReservationsAtRisk
from domain.identity.model import ApiScope, DeviceKind, Principal, PrincipalKind, StaffRole
from domain.identity.services import create_api_key, create_device, create_staff
from domain.ids import new_id
from domain.inventory import reservations
from domain.inventory.model import HOLDING, InsufficientStock, ReservationState, StockLine
from domain.locations.model import LocationStatus
from domain.locations.services import LocationPatch, update_location
from infra.db import sql
from infra.db.models.inventory import (
    DiscrepancyRow,
    IdempotencyRow,
    MovementRow,
    PosTransactionRow,
    ReservationRow,
    StockLevelRow,
    TransferRow,
)
from infra.runtime import Runtime
from tests.support import count_sql
from tests.support.api import Api, login
from tests.support.payloads import top_level_codes

ERRORS = "errors { code field message variantId available currentOnHand }"
LEVEL = "onHand reserved safetyStock available location { code } variant { code }"
TRANSFER = """id state fromLocation { code } toLocation { code } createdAt shippedAt receivedAt
  lines { quantity received variant { code } }"""

ADJUST = f"""mutation($input: InventoryAdjustInput!) {{ inventoryAdjust(input: $input) {{
  stockLevel {{ {LEVEL} }} {ERRORS} }} }}"""
SET = f"""mutation($input: InventorySetInput!) {{ inventorySet(input: $input) {{
  stockLevel {{ {LEVEL} }} {ERRORS} }} }}"""
SAFETY = f"""mutation($input: SetSafetyStockInput!) {{ setSafetyStock(input: $input) {{
  stockLevel {{ {LEVEL} }} {ERRORS} }} }}"""
CREATE_TRANSFER = f"""mutation($input: InventoryTransferInput!) {{
  inventoryTransfer(input: $input) {{ transfer {{ {TRANSFER} }} {ERRORS} }} }}"""
SHIP = f"""mutation($id: ID!) {{ shipTransfer(input: {{transferId: $id}}) {{
  transfer {{ {TRANSFER} }} {ERRORS} }} }}"""
RECEIVE = f"""mutation($input: ReceiveTransferInput!) {{ receiveTransfer(input: $input) {{
  transfer {{ {TRANSFER} }} {ERRORS} }} }}"""
POS_SALES = f"""mutation($input: RecordPosSalesInput!) {{ recordPosSales(input: $input) {{
  lines {{ variantId quantity takenFromStock }} discrepancies reservationsAtRisk replayed
  {ERRORS} }} }}"""
BULK = f"""mutation($rows: [StockRowInput!]!) {{ inventoryBulkSet(input: {{rows: $rows}}) {{
  results {{ index status onHand }} {ERRORS} }} }}"""

LEVELS = f"""query($l: ID!, $v: [ID!], $n: Int, $after: String) {{
  stockLevels(locationId: $l, variantIds: $v, first: $n, after: $after) {{
    edges {{ cursor node {{ {LEVEL} }} }} pageInfo {{ hasNextPage endCursor }} }} }}"""
MOVEMENTS = """query($f: StockMovementFilter, $n: Int, $after: String) {
  stockMovements(filter: $f, first: $n, after: $after) {
    edges { node { id kind onHandDelta reservedDelta reason reference actor
      location { code } variant { code } } }
    pageInfo { hasNextPage endCursor } } }"""
DISCREPANCIES = """query($l: ID) { stockDiscrepancies(locationId: $l) {
  nodes { kind quantity reference location { code } variant { code } } } }"""
TRANSFER_QUERY = f"query($id: ID!) {{ stockTransfer(id: $id) {{ {TRANSFER} }} }}"
AVAILABILITY = """query($v: ID!, $near: NearInput, $pickup: Boolean! = false, $first: Int! = 10)
  { variant(id: $v) {
  totalAvailable
  availability(near: $near, pickupOnly: $pickup, first: $first) {
    location { code } status distance quantity } } }"""

NEAR_SH_B = {"latitude": 31.19, "longitude": 121.44}  # SH-B ~0.4 km, SH-A ~5 km, WH-1 ~47 km
NEAR_WH_1 = {"latitude": 31.38, "longitude": 120.98}


# ---------------------------------------------------------------- helpers


def gid(type_name: str, value: UUID) -> str:
    return str(encode_id(type_name, value))


def loc(stores: dict[str, Any], code: str) -> str:
    return gid("Location", stores[code].id)


def vid(variant: Variant) -> str:
    return gid("Variant", variant.id)


async def make_variants(runtime: Runtime, code: str, count: int = 1) -> list[Variant]:
    product = await create_product(
        runtime.catalog,
        ProductDraft(
            name=f"Product {code}",
            variants=[
                VariantDraft(code=f"{code}-{n}", name=f"Size {n}", price=990 + n)
                for n in range(count)
            ],
        ),
    )
    found = await runtime.repos.catalog.variants_of([product.id])
    return sorted(found, key=lambda v: v.code)


@pytest.fixture
async def milk(runtime: Runtime) -> Variant:
    return (await make_variants(runtime, "MILK"))[0]


@pytest.fixture
async def bread(runtime: Runtime) -> Variant:
    return (await make_variants(runtime, "BREAD"))[0]


@pytest.fixture
async def till_a(api: Api, runtime: Runtime, stores: dict[str, Any]) -> Api:
    _, token = await create_device(runtime.auth, stores["SH-A"].id, DeviceKind.POS)
    return api.as_(token)


@pytest.fixture
async def erp(api: Api, runtime: Runtime) -> Api:
    _, secret = await create_api_key(runtime.auth, "erp", [ApiScope.STOCK_WRITE])
    return api.as_(secret)


@pytest.fixture
async def stock_reader(api: Api, runtime: Runtime) -> Api:
    _, secret = await create_api_key(runtime.auth, "bi", [ApiScope.STOCK_READ])
    return api.as_(secret)


async def staff(
    api: Api, runtime: Runtime, name: str, role: StaffRole, store_ids: list[UUID]
) -> Api:
    await create_staff(runtime.auth, name, "correct-horse-battery", role, store_ids)
    result = await login(api, name, "correct-horse-battery")
    assert result["errors"] == [], result
    return api.as_(result["tokens"]["accessToken"])


@pytest.fixture
def at_risk_events(runtime: Runtime) -> Iterator[list[ReservationsAtRisk]]:
    seen: list[ReservationsAtRisk] = []

    async def handler(uow: Any, event: ReservationsAtRisk) -> None:
        seen.append(event)

    runtime.events.register(ReservationsAtRisk, handler)
    yield seen
    runtime.events.unregister(ReservationsAtRisk, handler)


async def adjust(
    api: Api,
    location: str,
    variant: str,
    delta: int,
    kind: str = "RECEIPT",
    key: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    data = await api.data(
        ADJUST,
        {
            "input": {
                "locationId": location,
                "variantId": variant,
                "delta": delta,
                "kind": kind,
                "reason": "delivery",
                "idempotencyKey": key,
                **extra,
            }
        },
    )
    payload: dict[str, Any] = data["inventoryAdjust"]
    return payload


async def receive_stock(api: Api, location: str, variant: str, quantity: int) -> None:
    payload = await adjust(api, location, variant, quantity)
    assert payload["errors"] == [], payload


async def count_set(
    api: Api, location: str, variant: str, on_hand: int, expected: int, key: str | None = None
) -> dict[str, Any]:
    data = await api.data(
        SET,
        {
            "input": {
                "locationId": location,
                "variantId": variant,
                "onHand": on_hand,
                "expectedOnHand": expected,
                "idempotencyKey": key,
            }
        },
    )
    payload: dict[str, Any] = data["inventorySet"]
    return payload


async def sell(
    api: Api, location: str, tx: str, lines: list[tuple[str, int]], **extra: Any
) -> dict[str, Any]:
    data = await api.data(
        POS_SALES,
        {
            "input": {
                "locationId": location,
                "posTransactionId": tx,
                "lines": [{"variantId": v, "quantity": q, "lineTotal": 0} for v, q in lines],
                **extra,
            }
        },
    )
    payload: dict[str, Any] = data["recordPosSales"]
    return payload


async def level(runtime: Runtime, location_id: UUID, variant: Variant) -> tuple[int, int, int]:
    found = await runtime.repos.inventory.level(location_id, variant.id)
    assert found is not None
    return found.on_hand, found.reserved, found.safety_stock


async def movements(api: Api, **filter_: Any) -> list[dict[str, Any]]:
    data = await api.data(MOVEMENTS, {"f": filter_, "n": 100})
    return [e["node"] for e in data["stockMovements"]["edges"]]


async def assert_ledger_balanced(runtime: Runtime) -> None:
    """Sum of the ledger per level == the level; reserved == what holding reservations hold."""
    sums = await runtime.repos.inventory.ledger_sums()
    rows = await StockLevelRow.all()
    levels = {(r.location_id, r.variant_id): (r.on_hand, r.reserved) for r in rows}
    assert set(sums) <= set(levels), "movements for a level that does not exist"
    for key, (on_hand, reserved) in levels.items():
        assert sums.get(key, (0, 0)) == (on_hand, reserved), (key, sums.get(key), on_hand)
    held: dict[tuple[UUID, UUID], int] = defaultdict(int)
    for r in await ReservationRow.filter(state__in=list(HOLDING)):
        held[(r.location_id, r.variant_id)] += r.quantity
    for key, (_, reserved) in levels.items():
        assert held.get(key, 0) == reserved, (key, held.get(key), reserved)
    for row in rows:
        assert row.on_hand >= 0 and row.reserved >= 0 and row.safety_stock >= 0


async def table_counts() -> dict[str, int]:
    return {
        model.__name__: await model.all().count()
        for model in (
            StockLevelRow,
            MovementRow,
            ReservationRow,
            TransferRow,
            PosTransactionRow,
            DiscrepancyRow,
            IdempotencyRow,
        )
    }


# ---------------------------------------------------------------- inventoryAdjust


async def test_adjust_receipt_return_and_correction_write_the_ledger(
    admin: Api, runtime: Runtime, stores: dict[str, Any], milk: Variant
) -> None:
    a, v = loc(stores, "SH-A"), vid(milk)
    first = await adjust(admin, a, v, 10, reference="PO-1")
    assert first["errors"] == []
    assert first["stockLevel"] == {
        "onHand": 10,
        "reserved": 0,
        "safetyStock": 0,
        "available": 10,
        "location": {"code": "SH-A"},
        "variant": {"code": "MILK-0"},
    }
    assert (await adjust(admin, a, v, -3, "ADJUSTMENT"))["stockLevel"]["onHand"] == 7
    assert (await adjust(admin, a, v, 1, "RETURN"))["stockLevel"]["onHand"] == 8

    ledger = await movements(admin, locationId=a, variantId=v)
    assert [(m["kind"], m["onHandDelta"], m["reservedDelta"]) for m in ledger] == [
        ("RETURN", 1, 0),
        ("ADJUSTMENT", -3, 0),
        ("RECEIPT", 10, 0),
    ]  # newest first
    assert ledger[-1]["reference"] == "PO-1" and ledger[-1]["reason"] == "delivery"
    assert all(m["actor"].startswith("STAFF:") for m in ledger)
    assert {m["location"]["code"] for m in ledger} == {"SH-A"}
    assert await level(runtime, stores["SH-A"].id, milk) == (8, 0, 0)
    await assert_ledger_balanced(runtime)


async def test_adjust_replay_with_same_key_returns_the_same_result_and_writes_once(
    admin: Api, manager_a: Api, runtime: Runtime, stores: dict[str, Any], milk: Variant
) -> None:
    a, v = loc(stores, "SH-A"), vid(milk)
    first = await adjust(admin, a, v, 12, key="delivery-77")
    again = await adjust(admin, a, v, 12, key="delivery-77")
    assert first == again
    assert first["stockLevel"]["onHand"] == 12
    assert len(await movements(admin, locationId=a)) == 1
    assert await IdempotencyRow.all().count() == 1

    # The same key with another request: refused, nothing written.
    before = await table_counts()
    conflict = await adjust(admin, a, v, 13, key="delivery-77")
    assert conflict["stockLevel"] is None
    assert [e["code"] for e in conflict["errors"]] == ["IDEMPOTENCY_CONFLICT"]
    assert conflict["errors"][0]["field"] == ["idempotencyKey"]
    assert await table_counts() == before

    # Keys belong to the caller: another principal's key of the same name is its own.
    other = await adjust(manager_a, a, v, 12, key="delivery-77")
    assert other["errors"] == [] and other["stockLevel"]["onHand"] == 24
    assert await level(runtime, stores["SH-A"].id, milk) == (24, 0, 0)
    await assert_ledger_balanced(runtime)


async def test_store_staff_write_and_read_only_their_own_stores(
    clerk_a: Api,
    manager_a: Api,
    admin: Api,
    runtime: Runtime,
    stores: dict[str, Any],
    milk: Variant,
) -> None:
    a, b, v = loc(stores, "SH-A"), loc(stores, "SH-B"), vid(milk)
    assert (await adjust(clerk_a, a, v, 5))["stockLevel"]["onHand"] == 5
    oversold = await sell(admin, b, "TX-B1", [(v, 2)])  # a discrepancy at SH-B
    assert oversold["discrepancies"] == 1
    await receive_stock(admin, b, v, 7)

    before = await table_counts()
    for who in (clerk_a, manager_a):
        refused = await adjust(who, b, v, 5)
        assert refused["stockLevel"] is None
        assert [(e["code"], e["field"]) for e in refused["errors"]] == [
            ("FORBIDDEN", ["locationId"])
        ]
        stale = await count_set(who, b, v, 1, 7)
        assert [e["code"] for e in stale["errors"]] == ["FORBIDDEN"]
        safety = await who.data(
            SAFETY, {"input": {"locationId": b, "variantId": v, "safetyStock": 2}}
        )
        assert [e["code"] for e in safety["setSafetyStock"]["errors"]] == ["FORBIDDEN"]
    assert await table_counts() == before
    assert await level(runtime, stores["SH-B"].id, milk) == (7, 0, 0)

    # Reads: their store yes, the other store is a top-level FORBIDDEN.
    own = await clerk_a.data(LEVELS, {"l": a, "v": [v]})
    assert [e["node"]["onHand"] for e in own["stockLevels"]["edges"]] == [5]
    for query, variables in (
        (LEVELS, {"l": b}),
        (LEVELS, {"l": b, "v": [v]}),
        (MOVEMENTS, {"f": {"locationId": b}}),
        (MOVEMENTS, {"f": {}}),  # the whole ledger of every store: filter by your store
        (DISCREPANCIES, {"l": b}),
        (DISCREPANCIES, {}),  # every store's discrepancies: filter by your store
    ):
        body = await clerk_a(query, variables)
        assert top_level_codes(body) == ["FORBIDDEN"], (query, body)
        assert body["data"] is None
    assert len(await movements(clerk_a, locationId=a)) == 1
    own = await clerk_a.data(DISCREPANCIES, {"l": a})
    assert own["stockDiscrepancies"]["nodes"] == []
    # ADMIN reads everything.
    assert len(await movements(admin)) == 4  # receipt at SH-A; sale, count, receipt at SH-B
    everywhere = await admin.data(DISCREPANCIES, {})
    assert [d["location"]["code"] for d in everywhere["stockDiscrepancies"]["nodes"]] == ["SH-B"]
    await assert_ledger_balanced(runtime)


async def test_cs_agent_reads_every_store_but_changes_no_stock(
    api: Api, admin: Api, runtime: Runtime, stores: dict[str, Any], milk: Variant
) -> None:
    b, v = loc(stores, "SH-B"), vid(milk)
    await receive_stock(admin, b, v, 3)
    cs = await staff(api, runtime, "cs-1", StaffRole.CS_AGENT, [])
    data = await cs.data(LEVELS, {"l": b})
    assert [e["node"]["onHand"] for e in data["stockLevels"]["edges"]] == [3]
    assert len(await movements(cs)) == 1

    # Stock is written by ADMIN, stock:write keys and the store's own staff only.
    before = await table_counts()
    assert [e["code"] for e in (await adjust(cs, b, v, 100))["errors"]] == ["FORBIDDEN"]
    assert [e["code"] for e in (await count_set(cs, b, v, 0, 3))["errors"]] == ["FORBIDDEN"]
    safety = await cs.data(SAFETY, {"input": {"locationId": b, "variantId": v, "safetyStock": 1}})
    assert [e["code"] for e in safety["setSafetyStock"]["errors"]] == ["FORBIDDEN"]
    moved = await create_transfer(cs, b, loc(stores, "SH-A"), [(v, 1)])
    assert [e["code"] for e in moved["errors"]] == ["FORBIDDEN"]
    assert top_level_codes(
        await cs(
            POS_SALES,
            {
                "input": {
                    "locationId": b,
                    "posTransactionId": "T",
                    "lines": [{"variantId": v, "quantity": 1, "lineTotal": 0}],
                }
            },
        )
    ) == ["FORBIDDEN"]
    assert await table_counts() == before
    assert await level(runtime, stores["SH-B"].id, milk) == (3, 0, 0)


# ---------------------------------------------------------------- inventorySet


async def test_set_is_a_compare_and_swap_count(
    clerk_a: Api, runtime: Runtime, stores: dict[str, Any], milk: Variant
) -> None:
    a, v = loc(stores, "SH-A"), vid(milk)
    first = await count_set(clerk_a, a, v, 9, 0)  # no level yet: on hand is 0
    assert first["errors"] == [] and first["stockLevel"]["onHand"] == 9

    # A delivery arrived while the clerk counted: the count based on 9 is stale.
    await receive_stock(clerk_a, a, v, 1)  # now 10
    before = await table_counts()
    stale = await count_set(clerk_a, a, v, 4, 9)
    assert stale["stockLevel"] is None
    assert stale["errors"] == [
        {
            "code": "STALE_QUANTITY",
            "field": ["expectedOnHand"],
            "message": stale["errors"][0]["message"],
            "variantId": None,
            "available": None,
            "currentOnHand": 10,
        }
    ]
    assert "10" in stale["errors"][0]["message"]
    assert await table_counts() == before

    counted = await count_set(clerk_a, a, v, 4, 10)
    assert counted["errors"] == [] and counted["stockLevel"]["onHand"] == 4
    # Counting what is there writes no movement.
    same = await count_set(clerk_a, a, v, 4, 4)
    assert same["errors"] == [] and same["stockLevel"]["onHand"] == 4
    ledger = await movements(clerk_a, locationId=a)
    assert [(m["kind"], m["onHandDelta"]) for m in ledger] == [
        ("COUNT", -6),
        ("RECEIPT", 1),
        ("COUNT", 9),
    ]
    assert ledger[0]["reason"] == "count"
    await assert_ledger_balanced(runtime)


async def test_set_with_idempotency_key_replays_and_detects_conflicts(
    admin: Api, runtime: Runtime, stores: dict[str, Any], milk: Variant
) -> None:
    a, v = loc(stores, "SH-A"), vid(milk)
    await receive_stock(admin, a, v, 5)
    first = await count_set(admin, a, v, 3, 5, key="count-1")
    # The retry would be stale (on hand is 3 now) but is recognised as the same request.
    again = await count_set(admin, a, v, 3, 5, key="count-1")
    assert first == again and first["errors"] == []
    assert len(await movements(admin, locationId=a, kinds=["COUNT"])) == 1

    before = await table_counts()
    conflict = await count_set(admin, a, v, 2, 5, key="count-1")
    assert [e["code"] for e in conflict["errors"]] == ["IDEMPOTENCY_CONFLICT"]
    assert await table_counts() == before
    assert await level(runtime, stores["SH-A"].id, milk) == (3, 0, 0)
    await assert_ledger_balanced(runtime)


# ---------------------------------------------------------------- setSafetyStock


async def test_safety_stock_reduces_available_but_not_on_hand(
    admin: Api, api: Api, runtime: Runtime, stores: dict[str, Any], milk: Variant
) -> None:
    w, v = loc(stores, "WH-1"), vid(milk)
    await receive_stock(admin, w, v, 10)
    data = await admin.data(SAFETY, {"input": {"locationId": w, "variantId": v, "safetyStock": 7}})
    payload = data["setSafetyStock"]
    assert payload["errors"] == []
    assert payload["stockLevel"] == {
        "onHand": 10,
        "reserved": 0,
        "safetyStock": 7,
        "available": 3,
        "location": {"code": "WH-1"},
        "variant": {"code": "MILK-0"},
    }
    shopper = (await api.data(AVAILABILITY, {"v": v}))["variant"]
    assert shopper["totalAvailable"] == 3
    assert [(r["location"]["code"], r["status"]) for r in shopper["availability"]] == [
        ("WH-1", "LOW_STOCK")
    ]
    # Safety stock above on hand: nothing available, never negative.
    data = await admin.data(SAFETY, {"input": {"locationId": w, "variantId": v, "safetyStock": 12}})
    assert data["setSafetyStock"]["stockLevel"]["available"] == 0
    shopper = (await api.data(AVAILABILITY, {"v": v}))["variant"]
    assert shopper["totalAvailable"] == 0
    assert shopper["availability"][0]["status"] == "OUT_OF_STOCK"
    # Reservations cannot take the safety stock.
    with pytest.raises(InsufficientStock) as raised:
        await reservations.reserve(
            runtime.inventory,
            [StockLine(milk.id, 1)],
            stores["WH-1"].id,
            "order:1",
            timedelta(minutes=15),
        )
    assert raised.value.shortages[0].available == 0
    # Safety stock is not a movement of goods: the ledger has only the receipt.
    assert [m["kind"] for m in await movements(admin, locationId=w)] == ["RECEIPT"]
    assert await level(runtime, stores["WH-1"].id, milk) == (10, 0, 12)
    await assert_ledger_balanced(runtime)


# ---------------------------------------------------------------- transfers


async def create_transfer(
    api: Api, frm: str, to: str, lines: list[tuple[str, int]], key: str | None = None
) -> dict[str, Any]:
    data = await api.data(
        CREATE_TRANSFER,
        {
            "input": {
                "fromLocationId": frm,
                "toLocationId": to,
                "lines": [{"variantId": v, "quantity": q} for v, q in lines],
                "idempotencyKey": key,
            }
        },
    )
    payload: dict[str, Any] = data["inventoryTransfer"]
    return payload


async def ship(api: Api, transfer_id: str) -> dict[str, Any]:
    payload: dict[str, Any] = (await api.data(SHIP, {"id": transfer_id}))["shipTransfer"]
    return payload


async def receive(
    api: Api, transfer_id: str, lines: list[tuple[str, int]] | None = None
) -> dict[str, Any]:
    counted = None if lines is None else [{"variantId": v, "quantity": q} for v, q in lines]
    data = await api.data(RECEIVE, {"input": {"transferId": transfer_id, "lines": counted}})
    payload: dict[str, Any] = data["receiveTransfer"]
    return payload


async def test_transfer_create_ship_receive_short_and_over(
    admin: Api, runtime: Runtime, stores: dict[str, Any], milk: Variant, bread: Variant
) -> None:
    w, a = loc(stores, "WH-1"), loc(stores, "SH-A")
    await receive_stock(admin, w, vid(milk), 20)
    await receive_stock(admin, w, vid(bread), 10)

    created = await create_transfer(admin, w, a, [(vid(milk), 8), (vid(bread), 4)], key="t-1")
    assert created["errors"] == []
    transfer = created["transfer"]
    assert transfer["state"] == "CREATED"
    assert transfer["fromLocation"] == {"code": "WH-1"}
    assert transfer["toLocation"] == {"code": "SH-A"}
    assert transfer["shippedAt"] is None and transfer["receivedAt"] is None
    assert sorted(
        (x["variant"]["code"], x["quantity"], x["received"]) for x in transfer["lines"]
    ) == [
        ("BREAD-0", 4, None),
        ("MILK-0", 8, None),
    ]
    # Creating moves nothing; the retry returns the same transfer.
    assert await level(runtime, stores["WH-1"].id, milk) == (20, 0, 0)
    again = await create_transfer(admin, w, a, [(vid(milk), 8), (vid(bread), 4)], key="t-1")
    assert again["transfer"]["id"] == transfer["id"]
    assert await TransferRow.all().count() == 1

    early = await receive(admin, transfer["id"])
    assert [e["code"] for e in early["errors"]] == ["TRANSFER_NOT_SHIPPED"]

    shipped = await ship(admin, transfer["id"])
    assert shipped["errors"] == [] and shipped["transfer"]["state"] == "SHIPPED"
    assert shipped["transfer"]["shippedAt"] is not None
    assert await level(runtime, stores["WH-1"].id, milk) == (12, 0, 0)
    assert await level(runtime, stores["WH-1"].id, bread) == (6, 0, 0)
    twice = await ship(admin, transfer["id"])
    assert [e["code"] for e in twice["errors"]] == ["TRANSFER_ALREADY_SHIPPED"]
    assert await level(runtime, stores["WH-1"].id, milk) == (12, 0, 0)

    # Milk arrives 2 short, bread 1 over.
    received = await receive(admin, transfer["id"], [(vid(milk), 6), (vid(bread), 5)])
    assert received["errors"] == []
    done = received["transfer"]
    assert done["state"] == "RECEIVED" and done["receivedAt"] is not None
    assert sorted((x["variant"]["code"], x["quantity"], x["received"]) for x in done["lines"]) == [
        ("BREAD-0", 4, 5),
        ("MILK-0", 8, 6),
    ]
    assert await level(runtime, stores["SH-A"].id, milk) == (6, 0, 0)
    assert await level(runtime, stores["SH-A"].id, bread) == (5, 0, 0)

    before = await table_counts()
    again_received = await receive(admin, transfer["id"])
    assert [e["code"] for e in again_received["errors"]] == ["TRANSFER_ALREADY_RECEIVED"]
    assert again_received["transfer"] is None
    assert await table_counts() == before

    found = (await admin.data(TRANSFER_QUERY, {"id": transfer["id"]}))["stockTransfer"]
    assert found == done
    discrepancies = (await admin.data(DISCREPANCIES, {"l": a}))["stockDiscrepancies"]["nodes"]
    assert sorted((d["kind"], d["quantity"], d["variant"]["code"]) for d in discrepancies) == [
        ("TRANSFER_OVER", 1, "BREAD-0"),
        ("TRANSFER_SHORT", 2, "MILK-0"),
    ]
    assert {d["reference"] for d in discrepancies} == {f"transfer:{_uuid_of(transfer['id'])}"}
    ledger = await movements(admin, reference=f"transfer:{_uuid_of(transfer['id'])}")
    assert sorted((m["kind"], m["location"]["code"], m["onHandDelta"]) for m in ledger) == [
        ("TRANSFER_IN", "SH-A", 5),
        ("TRANSFER_IN", "SH-A", 6),
        ("TRANSFER_OUT", "WH-1", -8),
        ("TRANSFER_OUT", "WH-1", -4),
    ]
    await assert_ledger_balanced(runtime)


def _uuid_of(global_id: str) -> str:
    import base64

    return base64.b64decode(global_id).decode().split(":", 1)[1]


async def test_transfer_received_in_full_by_default_and_nothing_received_is_short(
    admin: Api, runtime: Runtime, stores: dict[str, Any], milk: Variant, bread: Variant
) -> None:
    a, b = loc(stores, "SH-A"), loc(stores, "SH-B")
    await receive_stock(admin, a, vid(milk), 5)
    await receive_stock(admin, a, vid(bread), 5)
    transfer = (await create_transfer(admin, a, b, [(vid(milk), 5), (vid(bread), 2)]))["transfer"]
    assert (await ship(admin, transfer["id"]))["errors"] == []
    # Milk (left out) arrived in full, bread not at all.
    done = await receive(admin, transfer["id"], [(vid(bread), 0)])
    assert done["errors"] == []
    assert await level(runtime, stores["SH-B"].id, milk) == (5, 0, 0)
    assert await runtime.repos.inventory.level(stores["SH-B"].id, bread.id) is None
    assert await level(runtime, stores["SH-A"].id, milk) == (0, 0, 0)
    assert await level(runtime, stores["SH-A"].id, bread) == (3, 0, 0)
    discrepancies = (await admin.data(DISCREPANCIES, {"l": b}))["stockDiscrepancies"]["nodes"]
    assert [(d["kind"], d["quantity"]) for d in discrepancies] == [("TRANSFER_SHORT", 2)]
    await assert_ledger_balanced(runtime)


async def test_only_available_stock_ships(
    admin: Api, runtime: Runtime, stores: dict[str, Any], milk: Variant
) -> None:
    w, a = loc(stores, "WH-1"), loc(stores, "SH-A")
    await receive_stock(admin, w, vid(milk), 10)
    await admin.data(SAFETY, {"input": {"locationId": w, "variantId": vid(milk), "safetyStock": 2}})
    await reservations.reserve(
        runtime.inventory, [StockLine(milk.id, 3)], stores["WH-1"].id, "order:9", timedelta(hours=1)
    )
    transfer = (await create_transfer(admin, w, a, [(vid(milk), 6)]))["transfer"]
    before = await table_counts()
    short = await ship(admin, transfer["id"])
    assert short["transfer"] is None
    assert short["errors"] == [
        {
            "code": "INSUFFICIENT_STOCK",
            "field": short["errors"][0]["field"],
            "message": short["errors"][0]["message"],
            "variantId": vid(milk),
            "available": 5,
            "currentOnHand": None,
        }
    ]
    assert await table_counts() == before
    assert await level(runtime, stores["WH-1"].id, milk) == (10, 3, 2)
    state = (await admin.data(TRANSFER_QUERY, {"id": transfer["id"]}))["stockTransfer"]["state"]
    assert state == "CREATED"
    await assert_ledger_balanced(runtime)


async def test_transfer_permissions_follow_each_end(
    api: Api,
    clerk_a: Api,
    admin: Api,
    runtime: Runtime,
    stores: dict[str, Any],
    milk: Variant,
) -> None:
    a, b, w = loc(stores, "SH-A"), loc(stores, "SH-B"), loc(stores, "WH-1")
    await receive_stock(admin, a, vid(milk), 5)
    await receive_stock(admin, b, vid(milk), 5)
    clerk_b = await staff(api, runtime, "clerk-b", StaffRole.STORE_CLERK, [stores["SH-B"].id])

    # The clerk of SH-A cannot send SH-B's stock.
    refused = await create_transfer(clerk_a, b, a, [(vid(milk), 1)])
    assert [(e["code"], e["field"]) for e in refused["errors"]] == [
        ("FORBIDDEN", ["fromLocationId"])
    ]
    transfer = (await create_transfer(clerk_a, a, b, [(vid(milk), 2)]))["transfer"]
    assert [e["code"] for e in (await ship(clerk_b, transfer["id"]))["errors"]] == ["FORBIDDEN"]
    assert (await ship(clerk_a, transfer["id"]))["errors"] == []
    # Only the destination receives.
    assert [e["code"] for e in (await receive(clerk_a, transfer["id"]))["errors"]] == ["FORBIDDEN"]
    # Both ends read the transfer.
    for who in (clerk_a, clerk_b):
        found = (await who.data(TRANSFER_QUERY, {"id": transfer["id"]}))["stockTransfer"]
        assert found["state"] == "SHIPPED"
    assert (await receive(clerk_b, transfer["id"]))["errors"] == []
    assert await level(runtime, stores["SH-B"].id, milk) == (7, 0, 0)

    # A transfer between two other locations is not the clerk's to read.
    other = (await create_transfer(admin, b, w, [(vid(milk), 1)]))["transfer"]
    body = await clerk_a(TRANSFER_QUERY, {"id": other["id"]})
    assert top_level_codes(body) == ["FORBIDDEN"], body
    await assert_ledger_balanced(runtime)


# ---------------------------------------------------------------- recordPosSales


async def test_pos_sale_takes_stock_once_per_till_transaction(
    till_a: Api, admin: Api, runtime: Runtime, stores: dict[str, Any], milk: Variant, bread: Variant
) -> None:
    a = loc(stores, "SH-A")
    await receive_stock(admin, a, vid(milk), 10)
    await receive_stock(admin, a, vid(bread), 10)
    first = await sell(till_a, a, "TX-1001", [(vid(milk), 3), (vid(bread), 1)])
    assert first["errors"] == [] and first["replayed"] is False
    assert first["discrepancies"] == 0 and first["reservationsAtRisk"] == 0
    assert sorted((x["variantId"], x["quantity"], x["takenFromStock"]) for x in first["lines"]) == (
        sorted([(vid(milk), 3, 3), (vid(bread), 1, 1)])
    )
    assert await level(runtime, stores["SH-A"].id, milk) == (7, 0, 0)
    before = await table_counts()

    again = await sell(till_a, a, "TX-1001", [(vid(milk), 3), (vid(bread), 1)])
    assert again["replayed"] is True and again["errors"] == []
    assert sorted(again["lines"], key=str) == sorted(first["lines"], key=str)
    assert await table_counts() == before
    assert await level(runtime, stores["SH-A"].id, milk) == (7, 0, 0)

    ledger = await movements(till_a, locationId=a, reference="TX-1001")
    assert sorted((m["kind"], m["variant"]["code"], m["onHandDelta"]) for m in ledger) == [
        ("SALE_POS", "BREAD-0", -1),
        ("SALE_POS", "MILK-0", -3),
    ]
    assert all(m["actor"].startswith("DEVICE:") for m in ledger)
    # The till reads its own store's levels.
    data = await till_a.data(LEVELS, {"l": a})
    assert sorted(e["node"]["onHand"] for e in data["stockLevels"]["edges"]) == [7, 9]
    await assert_ledger_balanced(runtime)


async def test_pos_device_records_sales_only_for_its_store(
    till_a: Api,
    api: Api,
    erp: Api,
    admin: Api,
    clerk_a: Api,
    runtime: Runtime,
    stores: dict[str, Any],
    milk: Variant,
) -> None:
    a, b, v = loc(stores, "SH-A"), loc(stores, "SH-B"), vid(milk)
    await receive_stock(admin, b, v, 5)
    before = await table_counts()
    refused = await sell(till_a, b, "TX-1", [(v, 1)])
    assert refused["lines"] is None
    assert [(e["code"], e["field"]) for e in refused["errors"]] == [("FORBIDDEN", ["locationId"])]
    # Reading another store's stock, adjusting stock: not for a till.
    assert top_level_codes(await till_a(LEVELS, {"l": b})) == ["FORBIDDEN"]
    assert [e["code"] for e in (await adjust(till_a, a, v, 1))["errors"]] == ["FORBIDDEN"]
    # Kiosks, API keys and shoppers do not record till sales at all.
    _, kiosk_token = await create_device(runtime.auth, stores["SH-B"].id, DeviceKind.KIOSK)
    variables = {
        "input": {
            "locationId": b,
            "posTransactionId": "TX-2",
            "lines": [{"variantId": v, "quantity": 1, "lineTotal": 0}],
        }
    }
    assert top_level_codes(await api.as_(kiosk_token)(POS_SALES, variables)) == ["FORBIDDEN"]
    assert top_level_codes(await erp(POS_SALES, variables)) == ["FORBIDDEN"]
    assert top_level_codes(await api(POS_SALES, variables)) == ["UNAUTHENTICATED"]
    assert await table_counts() == before
    # Store staff of the store may record (a till fallback).
    assert (await sell(clerk_a, a, "TX-3", [(v, 1)]))["lines"][0]["takenFromStock"] == 0
    await assert_ledger_balanced(runtime)


async def test_till_sale_below_reserved_puts_reservations_at_risk(
    till_a: Api,
    admin: Api,
    runtime: Runtime,
    stores: dict[str, Any],
    milk: Variant,
    at_risk_events: list[ReservationsAtRisk],
) -> None:
    a, store = loc(stores, "SH-A"), stores["SH-A"].id
    await receive_stock(admin, a, vid(milk), 10)
    held = await reservations.reserve(
        runtime.inventory, [StockLine(milk.id, 4)], store, "order:1", timedelta(minutes=15)
    )
    assert await level(runtime, store, milk) == (10, 4, 0)

    sale = await sell(till_a, a, "TX-7", [(vid(milk), 8)])
    assert sale["errors"] == [] and sale["reservationsAtRisk"] == 1
    assert sale["lines"][0]["takenFromStock"] == 8 and sale["discrepancies"] == 0
    assert await level(runtime, store, milk) == (2, 4, 0)
    [reservation] = await runtime.repos.inventory.reservations_of("order:1", list(ReservationState))
    assert reservation.state is ReservationState.AT_RISK
    assert at_risk_events == [ReservationsAtRisk(store, milk.id, ("order:1",), (held[0].id,))]

    # The goods for the order are gone: committing fails and changes nothing.
    with pytest.raises(InsufficientStock) as raised:
        await reservations.commit(runtime.inventory, "order:1")
    assert raised.value.code is InventoryErrorCode.INSUFFICIENT_STOCK
    [shortage] = raised.value.shortages
    assert (shortage.variant_id, shortage.requested, shortage.available) == (milk.id, 4, 2)
    assert await level(runtime, store, milk) == (2, 4, 0)
    [reservation] = await runtime.repos.inventory.reservations_of("order:1", list(ReservationState))
    assert reservation.state is ReservationState.AT_RISK
    await assert_ledger_balanced(runtime)

    # Releasing works and gives the reserved units back; a second release does nothing.
    released = await reservations.release(runtime.inventory, "order:1")
    assert [r.id for r in released] == [held[0].id]
    assert await reservations.release(runtime.inventory, "order:1") == []
    assert await level(runtime, store, milk) == (2, 0, 0)
    [reservation] = await runtime.repos.inventory.reservations_of("order:1", list(ReservationState))
    assert reservation.state is ReservationState.RELEASED
    ledger = await movements(admin, locationId=a)
    assert [(m["kind"], m["onHandDelta"], m["reservedDelta"]) for m in ledger] == [
        ("RELEASE", 0, -4),
        ("SALE_POS", -8, 0),
        ("RESERVE", 0, 4),
        ("RECEIPT", 10, 0),
    ]
    await assert_ledger_balanced(runtime)


async def test_only_the_newest_reservations_needed_go_at_risk(
    till_a: Api,
    admin: Api,
    runtime: Runtime,
    clock: Any,
    stores: dict[str, Any],
    milk: Variant,
    at_risk_events: list[ReservationsAtRisk],
) -> None:
    a, store = loc(stores, "SH-A"), stores["SH-A"].id
    await receive_stock(admin, a, vid(milk), 10)
    ttl = timedelta(minutes=15)
    await reservations.reserve(runtime.inventory, [StockLine(milk.id, 3)], store, "order:old", ttl)
    clock.advance(timedelta(seconds=1))
    newer = await reservations.reserve(
        runtime.inventory, [StockLine(milk.id, 3)], store, "order:new", ttl
    )
    sale = await sell(till_a, a, "TX-8", [(vid(milk), 5)])  # on hand 5 < reserved 6
    assert sale["reservationsAtRisk"] == 1
    states = {
        r.owner: r.state
        for owner in ("order:old", "order:new")
        for r in await runtime.repos.inventory.reservations_of(owner, list(ReservationState))
    }
    assert states == {"order:old": ReservationState.ACTIVE, "order:new": ReservationState.AT_RISK}
    assert [e.reservation_ids for e in at_risk_events] == [(newer[0].id,)]
    # The older order still fits on the shelf and can be handed over.
    committed = await reservations.commit(runtime.inventory, "order:old")
    assert [r.owner for r in committed] == ["order:old"]
    assert await level(runtime, store, milk) == (2, 3, 0)
    await assert_ledger_balanced(runtime)


async def test_till_oversold_stops_at_zero_and_records_a_discrepancy(
    till_a: Api, admin: Api, runtime: Runtime, stores: dict[str, Any], milk: Variant
) -> None:
    a, store = loc(stores, "SH-A"), stores["SH-A"].id
    await receive_stock(admin, a, vid(milk), 2)
    sale = await sell(till_a, a, "TX-9", [(vid(milk), 5)])
    assert sale["errors"] == [] and sale["replayed"] is False
    assert sale["lines"] == [{"variantId": vid(milk), "quantity": 5, "takenFromStock": 2}]
    assert sale["discrepancies"] == 1
    assert await level(runtime, store, milk) == (0, 0, 0)

    ledger = await movements(admin, locationId=a, reference="TX-9")
    assert sorted((m["kind"], m["onHandDelta"]) for m in ledger) == [("COUNT", 0), ("SALE_POS", -2)]
    count = next(m for m in ledger if m["kind"] == "COUNT")
    assert "3" in count["reason"]
    discrepancies = (await admin.data(DISCREPANCIES, {"l": a}))["stockDiscrepancies"]["nodes"]
    assert discrepancies == [
        {
            "kind": "POS_OVERSOLD",
            "quantity": 3,
            "reference": "TX-9",
            "location": {"code": "SH-A"},
            "variant": {"code": "MILK-0"},
        }
    ]
    # The till itself sees its store's discrepancies.
    mine = (await till_a.data(DISCREPANCIES, {"l": a}))["stockDiscrepancies"]["nodes"]
    assert len(mine) == 1

    # The till retries (timeout): same answer, flagged as a replay, nothing written.
    before = await table_counts()
    again = await sell(till_a, a, "TX-9", [(vid(milk), 5)])
    assert again["replayed"] is True
    assert again["lines"] == sale["lines"]
    assert again["discrepancies"] == sale["discrepancies"]
    assert again["reservationsAtRisk"] == sale["reservationsAtRisk"]
    assert await table_counts() == before
    assert await level(runtime, store, milk) == (0, 0, 0)
    await assert_ledger_balanced(runtime)


async def test_pos_replay_of_an_at_risk_sale_reports_the_first_outcome(
    till_a: Api, admin: Api, runtime: Runtime, stores: dict[str, Any], milk: Variant
) -> None:
    a, store = loc(stores, "SH-A"), stores["SH-A"].id
    await receive_stock(admin, a, vid(milk), 3)
    await reservations.reserve(
        runtime.inventory, [StockLine(milk.id, 2)], store, "order:5", timedelta(minutes=15)
    )
    first = await sell(till_a, a, "TX-11", [(vid(milk), 4)])
    assert first["reservationsAtRisk"] == 1 and first["discrepancies"] == 1
    again = await sell(till_a, a, "TX-11", [(vid(milk), 4)])
    assert again["replayed"] is True
    assert {k: v for k, v in again.items() if k != "replayed"} == {
        k: v for k, v in first.items() if k != "replayed"
    }
    # Another till transaction id is a new sale: nothing left, all of it a discrepancy.
    other = await sell(till_a, a, "TX-12", [(vid(milk), 1)])
    assert other["lines"][0]["takenFromStock"] == 0 and other["discrepancies"] == 1
    assert await level(runtime, store, milk) == (0, 2, 0)
    await assert_ledger_balanced(runtime)


# ---------------------------------------------------------------- reservations (domain)


async def test_reservation_expiry_releases_stock(
    admin: Api, runtime: Runtime, clock: Any, stores: dict[str, Any], milk: Variant
) -> None:
    store = stores["WH-1"].id
    await receive_stock(admin, loc(stores, "WH-1"), vid(milk), 5)
    expired_events: list[ReservationExpired] = []

    async def handler(uow: Any, event: ReservationExpired) -> None:
        expired_events.append(event)

    runtime.events.register(ReservationExpired, handler)
    try:
        held = await reservations.reserve(
            runtime.inventory, [StockLine(milk.id, 4)], store, "order:2", timedelta(minutes=15)
        )
        assert await reservations.sweep_expired(runtime.inventory) == 0
        clock.advance(timedelta(minutes=16))
        assert await reservations.sweep_expired(runtime.inventory) == 1
        assert await reservations.sweep_expired(runtime.inventory) == 0
    finally:
        runtime.events.unregister(ReservationExpired, handler)
    assert expired_events == [ReservationExpired("order:2", (held[0].id,))]
    assert await level(runtime, store, milk) == (5, 0, 0)
    [reservation] = await runtime.repos.inventory.reservations_of("order:2", list(ReservationState))
    assert reservation.state is ReservationState.EXPIRED
    await assert_ledger_balanced(runtime)


async def test_reservations_are_all_or_nothing_and_commit_ships_the_goods(
    admin: Api, runtime: Runtime, stores: dict[str, Any], milk: Variant, bread: Variant
) -> None:
    store, w = stores["WH-1"].id, loc(stores, "WH-1")
    await receive_stock(admin, w, vid(milk), 5)
    await receive_stock(admin, w, vid(bread), 1)
    ttl = timedelta(minutes=15)
    with pytest.raises(InsufficientStock) as raised:
        await reservations.reserve(
            runtime.inventory, [StockLine(milk.id, 2), StockLine(bread.id, 2)], store, "o:1", ttl
        )
    assert [(s.variant_id, s.requested, s.available) for s in raised.value.shortages] == [
        (bread.id, 2, 1)
    ]
    assert await level(runtime, store, milk) == (5, 0, 0)  # the milk line was not kept
    assert await ReservationRow.all().count() == 0

    await reservations.reserve(
        runtime.inventory, [StockLine(milk.id, 2), StockLine(bread.id, 1)], store, "o:2", ttl
    )
    assert (await level(runtime, store, milk), await level(runtime, store, bread)) == (
        (5, 2, 0),
        (1, 1, 0),
    )
    committed = await reservations.commit(runtime.inventory, "o:2")
    assert len(committed) == 2
    assert (await level(runtime, store, milk), await level(runtime, store, bread)) == (
        (3, 0, 0),
        (0, 0, 0),
    )
    assert await reservations.commit(runtime.inventory, "o:2") == []  # nothing left to commit
    await assert_ledger_balanced(runtime)


# ---------------------------------------------------------------- inventoryBulkSet


async def test_bulk_set_reports_each_row_and_is_repeatable(
    erp: Api, admin: Api, runtime: Runtime, stores: dict[str, Any], milk: Variant, bread: Variant
) -> None:
    await receive_stock(admin, loc(stores, "SH-A"), vid(bread), 4)
    rows = [
        {"locationCode": "WH-1", "variantCode": "MILK-0", "onHand": 40},
        {"locationCode": "sh-a", "variantCode": "BREAD-0", "onHand": 4},  # already 4
        {"locationCode": "NOPE-1", "variantCode": "MILK-0", "onHand": 1},
        {"locationCode": "SH-B", "variantCode": "NO-SUCH-SKU", "onHand": 1},
        {"locationCode": "SH-B", "variantCode": "MILK-0", "onHand": -1},
        {"locationCode": "SH-B", "variantCode": "MILK-0", "onHand": 1_000_001},
        {"locationCode": " sh-b ", "variantCode": "MILK-0", "onHand": 0},  # no level yet
        {"locationCode": "SH-B", "variantCode": "BREAD-0", "onHand": 1},
    ]
    data = await erp.data(BULK, {"rows": rows})
    payload = data["inventoryBulkSet"]
    assert payload["errors"] == []
    assert payload["results"] == [
        {"index": 0, "status": "SET", "onHand": 40},
        {"index": 1, "status": "UNCHANGED", "onHand": 4},
        {"index": 2, "status": "UNKNOWN_LOCATION", "onHand": None},
        {"index": 3, "status": "UNKNOWN_VARIANT", "onHand": None},
        {"index": 4, "status": "INVALID_QUANTITY", "onHand": None},
        {"index": 5, "status": "INVALID_QUANTITY", "onHand": None},
        {"index": 6, "status": "UNCHANGED", "onHand": 0},
        {"index": 7, "status": "SET", "onHand": 1},
    ]
    assert await level(runtime, stores["WH-1"].id, milk) == (40, 0, 0)
    assert await level(runtime, stores["SH-A"].id, bread) == (4, 0, 0)
    assert await level(runtime, stores["SH-B"].id, bread) == (1, 0, 0)
    assert await level(runtime, stores["SH-B"].id, milk) == (0, 0, 0)
    counts = await table_counts()
    assert counts["MovementRow"] == 3  # receipt + two counts

    # Running the same file again changes nothing.
    data = await erp.data(BULK, {"rows": rows})
    statuses = [r["status"] for r in data["inventoryBulkSet"]["results"]]
    assert statuses == [
        "UNCHANGED",
        "UNCHANGED",
        "UNKNOWN_LOCATION",
        "UNKNOWN_VARIANT",
        "INVALID_QUANTITY",
        "INVALID_QUANTITY",
        "UNCHANGED",
        "UNCHANGED",
    ]
    assert (await table_counts())["MovementRow"] == 3
    ledger = await movements(admin, kinds=["COUNT"])
    assert sorted((m["location"]["code"], m["onHandDelta"]) for m in ledger) == [
        ("SH-B", 1),
        ("WH-1", 40),
    ]
    assert all(
        m["actor"].startswith("API_KEY:") and m["reason"] == "ERP stock sync" for m in ledger
    )
    # ADMIN may sync too.
    data = await admin.data(BULK, {"rows": [rows[0] | {"onHand": 41}]})
    assert data["inventoryBulkSet"]["results"] == [{"index": 0, "status": "SET", "onHand": 41}]
    await assert_ledger_balanced(runtime)


async def test_bulk_set_is_for_admin_and_stock_write_keys_only(
    clerk_a: Api, manager_a: Api, stock_reader: Api, till_a: Api, api: Api, milk: Variant
) -> None:
    rows = [{"locationCode": "SH-A", "variantCode": "MILK-0", "onHand": 3}]
    for who in (clerk_a, manager_a, stock_reader, till_a):
        body = await who(BULK, {"rows": rows})
        assert top_level_codes(body) == ["FORBIDDEN"], body
    assert top_level_codes(await api(BULK, {"rows": rows})) == ["UNAUTHENTICATED"]
    assert await StockLevelRow.all().count() == 0


async def test_stock_keys_read_levels_but_cannot_write_without_the_scope(
    stock_reader: Api, erp: Api, admin: Api, stores: dict[str, Any], milk: Variant
) -> None:
    a, v = loc(stores, "SH-A"), vid(milk)
    assert (await adjust(erp, a, v, 2))["errors"] == []  # stock:write writes anywhere
    refused = await adjust(stock_reader, a, v, 2)
    assert [e["code"] for e in refused["errors"]] == ["FORBIDDEN"]
    data = await stock_reader.data(LEVELS, {"l": a})
    assert [e["node"]["onHand"] for e in data["stockLevels"]["edges"]] == [2]
    assert len(await movements(stock_reader)) == 1


# ---------------------------------------------------------------- availability


async def test_availability_is_nearest_first_with_statuses_and_quantities_for_staff_only(
    api: Api,
    admin: Api,
    till_a: Api,
    stock_reader: Api,
    runtime: Runtime,
    stores: dict[str, Any],
    milk: Variant,
) -> None:
    v = vid(milk)
    await receive_stock(admin, loc(stores, "SH-A"), v, 6)  # 6: IN_STOCK
    await receive_stock(admin, loc(stores, "SH-B"), v, 5)  # 5: LOW_STOCK
    await receive_stock(admin, loc(stores, "WH-1"), v, 1)
    await adjust(admin, loc(stores, "WH-1"), v, -1, "ADJUSTMENT")  # 0: OUT_OF_STOCK, listed

    shopper = (await api.data(AVAILABILITY, {"v": v, "near": NEAR_SH_B}))["variant"]
    rows = shopper["availability"]
    assert [(r["location"]["code"], r["status"]) for r in rows] == [
        ("SH-B", "LOW_STOCK"),
        ("SH-A", "IN_STOCK"),
        ("WH-1", "OUT_OF_STOCK"),
    ]
    distances = [r["distance"] for r in rows]
    assert distances == sorted(distances) and distances[0] < 1000 < distances[1] < 10_000
    assert all(r["quantity"] is None for r in rows)

    # A logged-in member is a shopper too.
    login_wechat = """mutation { loginWithWechat(input: {
      appId: "wx-demo", code: "test:openid-inv-1"}) { tokens { accessToken } } }"""
    token = (await api.data(login_wechat))["loginWithWechat"]["tokens"]["accessToken"]
    member_rows = (await api.as_(token).data(AVAILABILITY, {"v": v, "near": NEAR_SH_B}))["variant"]
    assert all(r["quantity"] is None for r in member_rows["availability"])

    for who in (admin, till_a, stock_reader):
        staff_rows = (await who.data(AVAILABILITY, {"v": v, "near": NEAR_SH_B}))["variant"]
        assert [r["quantity"] for r in staff_rows["availability"]] == [5, 6, 0]

    # Without `near`: by location code, no distances.
    plain = (await api.data(AVAILABILITY, {"v": v}))["variant"]["availability"]
    assert [r["location"]["code"] for r in plain] == ["SH-A", "SH-B", "WH-1"]
    assert all(r["distance"] is None for r in plain)
    # Near the warehouse it comes first; `first` cuts the list.
    near_wh = (await api.data(AVAILABILITY, {"v": v, "near": NEAR_WH_1, "first": 2}))["variant"]
    assert [r["location"]["code"] for r in near_wh["availability"]] == ["WH-1", "SH-B"]
    none = (await api.data(AVAILABILITY, {"v": v, "first": 0}))["variant"]["availability"]
    assert none == []


async def test_pickup_only_excludes_the_warehouse_and_closed_locations_are_hidden(
    api: Api, admin: Api, runtime: Runtime, stores: dict[str, Any], milk: Variant
) -> None:
    v = vid(milk)
    for code in ("SH-A", "SH-B", "WH-1"):
        await receive_stock(admin, loc(stores, code), v, 20)
    pickup = await api.data(AVAILABILITY, {"v": v, "near": NEAR_SH_B, "pickup": True})
    assert [r["location"]["code"] for r in pickup["variant"]["availability"]] == ["SH-B", "SH-A"]

    admin_principal = Principal(kind=PrincipalKind.STAFF, id=new_id(), role=StaffRole.ADMIN)
    await update_location(
        runtime.locations,
        admin_principal,
        stores["SH-B"].id,
        LocationPatch(status=LocationStatus.CLOSED),
    )
    rows = (await api.data(AVAILABILITY, {"v": v, "near": NEAR_SH_B}))["variant"]["availability"]
    assert [r["location"]["code"] for r in rows] == ["SH-A", "WH-1"]


async def test_total_available_counts_only_locations_that_ship_online(
    api: Api, admin: Api, runtime: Runtime, stores: dict[str, Any], milk: Variant
) -> None:
    v = vid(milk)
    assert (await api.data(AVAILABILITY, {"v": v}))["variant"]["totalAvailable"] == 0
    await receive_stock(admin, loc(stores, "SH-A"), v, 50)
    await receive_stock(admin, loc(stores, "SH-B"), v, 30)
    await receive_stock(admin, loc(stores, "WH-1"), v, 20)
    assert (await api.data(AVAILABILITY, {"v": v}))["variant"]["totalAvailable"] == 20

    await reservations.reserve(
        runtime.inventory,
        [StockLine(milk.id, 3)],
        stores["WH-1"].id,
        "order:online",
        timedelta(minutes=30),
    )
    await admin.data(
        SAFETY, {"input": {"locationId": loc(stores, "WH-1"), "variantId": v, "safetyStock": 2}}
    )
    data = await api.data(AVAILABILITY, {"v": v})
    assert data["variant"]["totalAvailable"] == 15  # 20 - 3 reserved - 2 safety
    await admin.data(
        SAFETY, {"input": {"locationId": loc(stores, "WH-1"), "variantId": v, "safetyStock": 30}}
    )  # oversubscribed: 0, not 20 - 3 - 30 (the database sums `StockLevel.available`)
    assert (await api.data(AVAILABILITY, {"v": v}))["variant"]["totalAvailable"] == 0
    # One pool for every online channel: the argument that pretended otherwise is gone.
    refused = await api('{ variant(id: "x") { totalAvailable(channel: H5) } }')
    assert "Unknown argument 'channel'" in refused["errors"][0]["message"], refused
    await assert_ledger_balanced(runtime)


# ---------------------------------------------------------------- lists


async def test_stock_levels_page_through_a_location_and_pick_variants(
    admin: Api, runtime: Runtime, stores: dict[str, Any]
) -> None:
    variants = await make_variants(runtime, "TEA", 5)
    a = loc(stores, "SH-A")
    for n, variant in enumerate(variants):
        await receive_stock(admin, a, vid(variant), n + 1)
    await receive_stock(admin, loc(stores, "SH-B"), vid(variants[0]), 9)

    seen: list[int] = []
    after = None
    for _ in range(3):
        page = (await admin.data(LEVELS, {"l": a, "n": 2, "after": after}))["stockLevels"]
        seen += [e["node"]["onHand"] for e in page["edges"]]
        after = page["pageInfo"]["endCursor"]
        if not page["pageInfo"]["hasNextPage"]:
            break
    by_id = sorted(variants, key=lambda x: x.id)
    assert seen == [variants.index(x) + 1 for x in by_id]
    assert page["pageInfo"]["hasNextPage"] is False

    picked = await admin.data(LEVELS, {"l": a, "v": [vid(variants[4]), vid(variants[1])]})
    nodes = [e["node"] for e in picked["stockLevels"]["edges"]]
    assert sorted((n["variant"]["code"], n["onHand"]) for n in nodes) == [
        ("TEA-1", 2),
        ("TEA-4", 5),
    ]
    assert {n["location"]["code"] for n in nodes} == {"SH-A"}


async def test_stock_movements_filter_and_page_newest_first(
    admin: Api, till_a: Api, stores: dict[str, Any], milk: Variant, bread: Variant
) -> None:
    a, w = loc(stores, "SH-A"), loc(stores, "WH-1")
    await receive_stock(admin, a, vid(milk), 5)
    await receive_stock(admin, a, vid(bread), 5)
    await receive_stock(admin, w, vid(milk), 5)
    await sell(till_a, a, "TX-50", [(vid(milk), 1)])

    assert [m["kind"] for m in await movements(admin, locationId=a)] == [
        "SALE_POS",
        "RECEIPT",
        "RECEIPT",
    ]
    assert len(await movements(admin, variantId=vid(milk))) == 3
    assert [m["kind"] for m in await movements(admin, kinds=["SALE_POS", "COUNT"])] == ["SALE_POS"]
    assert len(await movements(admin, reference="TX-50")) == 1
    first = (await admin.data(MOVEMENTS, {"n": 3}))["stockMovements"]
    assert first["pageInfo"]["hasNextPage"] is True
    rest = (await admin.data(MOVEMENTS, {"n": 3, "after": first["pageInfo"]["endCursor"]}))[
        "stockMovements"
    ]
    assert rest["pageInfo"]["hasNextPage"] is False
    ids = [e["node"]["id"] for e in first["edges"] + rest["edges"]]
    assert len(ids) == len(set(ids)) == 4


# ---------------------------------------------------------------- database guarantees


async def test_database_refuses_negative_on_hand_and_reserved(
    admin: Api, runtime: Runtime, stores: dict[str, Any], milk: Variant
) -> None:
    await receive_stock(admin, loc(stores, "SH-A"), vid(milk), 1)
    for column in ("on_hand", "reserved", "safety_stock"):
        with pytest.raises((IntegrityError, OperationalError)):
            async with in_transaction():
                await sql.execute(
                    f"UPDATE stock_level SET {column} = -1 WHERE variant_id = $1", milk.id
                )
    assert await level(runtime, stores["SH-A"].id, milk) == (1, 0, 0)


# ---------------------------------------------------------------- SQL statement counts


async def _statements(api: Api, query: str, variables: dict[str, Any]) -> tuple[int, Any]:
    with count_sql() as statements:
        data = await api.data(query, variables)
    return len(statements), data


async def test_stock_levels_page_issues_a_constant_number_of_statements(
    admin: Api, runtime: Runtime, stores: dict[str, Any]
) -> None:
    variants = [v for n in range(10) for v in await make_variants(runtime, f"SKU{n}", 3)]
    rows = [{"locationCode": "SH-A", "variantCode": v.code, "onHand": 7} for v in variants]
    assert (await admin.data(BULK, {"rows": rows}))["inventoryBulkSet"]["errors"] == []
    query = """query($l: ID!, $n: Int) { stockLevels(locationId: $l, first: $n) {
      edges { node { onHand available location { code name } variant { code product { name } } } }
      pageInfo { hasNextPage } } }"""
    a = loc(stores, "SH-A")
    small, data_small = await _statements(admin, query, {"l": a, "n": 5})
    large, data_large = await _statements(admin, query, {"l": a, "n": 30})
    assert len(data_small["stockLevels"]["edges"]) == 5
    assert len(data_large["stockLevels"]["edges"]) == 30
    assert {e["node"]["location"]["code"] for e in data_large["stockLevels"]["edges"]} == {"SH-A"}
    assert small == large, (small, large)


async def test_product_list_with_availability_issues_a_constant_number_of_statements(
    api: Api, admin: Api, runtime: Runtime, stores: dict[str, Any]
) -> None:
    variants = [(await make_variants(runtime, f"P{n:02d}", 1))[0] for n in range(20)]
    rows = [
        {"locationCode": code, "variantCode": v.code, "onHand": n % 7}
        for n, v in enumerate(variants)
        for code in ("SH-A", "SH-B", "WH-1")
    ]
    assert (await admin.data(BULK, {"rows": rows}))["inventoryBulkSet"]["errors"] == []
    query = """query($n: Int!) { products(first: $n) { edges { node {
      variants { code totalAvailable availability { status quantity } } } } } }"""
    small, data_small = await _statements(api, query, {"n": 2})
    large, data_large = await _statements(api, query, {"n": 20})
    assert len(data_small["products"]["edges"]) == 2
    assert len(data_large["products"]["edges"]) == 20
    for edge in data_large["products"]["edges"]:
        [variant] = edge["node"]["variants"]
        assert len(variant["availability"]) == 3
        assert all(r["quantity"] is None for r in variant["availability"])
    assert small == large, (small, large)
    assert large <= 5  # products, variants, their levels, their online totals, the network


async def test_stock_totals_are_the_same_however_the_query_reaches_the_variants(
    api: Api, admin: Api, runtime: Runtime, stores: dict[str, Any]
) -> None:
    """The product page loads the totals of all its variants at once (resolved without a
    task each); a fragment, `nodes`, one product or one variant take the other paths."""
    variants = [v for n in range(4) for v in await make_variants(runtime, f"T{n}", 2)]
    rows = [
        {"locationCode": "WH-1", "variantCode": v.code, "onHand": 3 * n + 1}
        for n, v in enumerate(variants)
    ]
    assert (await admin.data(BULK, {"rows": rows}))["inventoryBulkSet"]["errors"] == []
    expected = {v.code: 3 * n + 1 for n, v in enumerate(variants)}

    def totals(products: list[dict[str, Any]]) -> dict[str, int]:
        return {v["code"]: v["totalAvailable"] for p in products for v in p["variants"]}

    listed = await _statements(
        api, "{ products(first: 10) { edges { node { variants { code totalAvailable } } } } }", {}
    )
    by_fragment = await _statements(
        api,
        """{ products(first: 10) { edges { node { ...Stock } } } }
        fragment Stock on Product { variants { code totalAvailable } }""",
        {},
    )
    by_nodes = await _statements(
        api, "{ products(first: 10) { nodes { variants { code totalAvailable } } } }", {}
    )
    for count, data in (listed, by_fragment):
        assert totals([e["node"] for e in data["products"]["edges"]]) == expected
        assert count == listed[0]
    assert totals(by_nodes[1]["products"]["nodes"]) == expected
    one = await api.data(
        "query($id: ID!) { product(id: $id) { variants { code totalAvailable } } }",
        {"id": encode_id("Product", variants[0].product_id)},
    )
    assert totals([one["product"]]) == {v.code: expected[v.code] for v in variants[:2]}
    alone = await api.data(
        "query($id: ID!) { variant(id: $id) { totalAvailable } }", {"id": vid(variants[5])}
    )
    assert alone["variant"]["totalAvailable"] == 16
