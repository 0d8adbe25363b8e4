"""Bad input to the inventory API is a typed InventoryError and writes nothing.

Unknown locations and variants, malformed ids, zero/negative/huge quantities, duplicate
variants, transfers to the same location, receiving twice or before shipping, stale counts,
over-long lists and texts: every mutation answers with `errors` (code, field path into the
input, message; INSUFFICIENT_STOCK also names the variant and what is available), and the
stock tables, the ledger and the idempotency records are exactly as before. Queries, which
have no payload, answer with a top-level error and a code.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest

from api.relay import encode_id
from domain.catalog.services import ProductDraft, VariantDraft, create_product
from domain.errors import DomainError, InventoryErrorCode
from domain.ids import new_id
from domain.inventory import reservations
from domain.inventory.model import InsufficientStock, StockLine
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
from tests.support.api import Api

ERRORS = "errors { code field message variantId available currentOnHand }"

DOCUMENTS = {
    "inventoryAdjust": ("InventoryAdjustInput", "stockLevel { onHand }"),
    "inventorySet": ("InventorySetInput", "stockLevel { onHand }"),
    "setSafetyStock": ("SetSafetyStockInput", "stockLevel { onHand }"),
    "inventoryTransfer": ("InventoryTransferInput", "transfer { id }"),
    "shipTransfer": ("TransferIdInput", "transfer { id }"),
    "receiveTransfer": ("ReceiveTransferInput", "transfer { id }"),
    "recordPosSales": ("RecordPosSalesInput", "lines { quantity }"),
}


def document(name: str) -> str:
    input_type, result = DOCUMENTS[name]
    return (
        f"""mutation($input: {input_type}!) {{ {name}(input: $input) {{ {result} {ERRORS} }} }}"""
    )


def gid(type_name: str, value: UUID) -> str:
    return str(encode_id(type_name, value))


@dataclass
class World:
    """SH-A holds 8 milk (10 received, 2 sent to SH-B); bread exists but is stocked nowhere."""

    a: str
    b: str
    w: str
    milk: str
    bread: str
    milk_id: UUID
    unknown_location: str
    unknown_variant: str
    created: str  # a transfer SH-A -> SH-B, not shipped
    shipped: str  # shipped, not received
    received: str


async def _transfer(admin: Api, world_ids: dict[str, str], steps: int) -> str:
    created = await admin.data(
        document("inventoryTransfer"),
        {
            "input": {
                "fromLocationId": world_ids["a"],
                "toLocationId": world_ids["b"],
                "lines": [{"variantId": world_ids["milk"], "quantity": 1}],
            }
        },
    )
    transfer_id: str = created["inventoryTransfer"]["transfer"]["id"]
    if steps >= 1:
        shipped = await admin.data(document("shipTransfer"), {"input": {"transferId": transfer_id}})
        assert shipped["shipTransfer"]["errors"] == []
    if steps >= 2:
        received = await admin.data(
            document("receiveTransfer"), {"input": {"transferId": transfer_id}}
        )
        assert received["receiveTransfer"]["errors"] == []
    return transfer_id


@pytest.fixture
async def world(admin: Api, runtime: Runtime, stores: dict[str, Any]) -> World:
    product = await create_product(
        runtime.catalog,
        ProductDraft(
            name="Dairy",
            variants=[
                VariantDraft(code="MILK", name="Milk", price=1290),
                VariantDraft(code="BREAD", name="Bread", price=890),
            ],
        ),
    )
    variants = {v.code: v for v in await runtime.repos.catalog.variants_of([product.id])}
    ids = {
        "a": gid("Location", stores["SH-A"].id),
        "b": gid("Location", stores["SH-B"].id),
        "w": gid("Location", stores["WH-1"].id),
        "milk": gid("Variant", variants["MILK"].id),
        "bread": gid("Variant", variants["BREAD"].id),
    }
    received = await admin.data(
        document("inventoryAdjust"),
        {
            "input": {
                "locationId": ids["a"],
                "variantId": ids["milk"],
                "delta": 10,
                "kind": "RECEIPT",
            }
        },
    )
    assert received["inventoryAdjust"]["errors"] == []
    return World(
        **ids,
        milk_id=variants["MILK"].id,
        unknown_location=gid("Location", new_id()),
        unknown_variant=gid("Variant", new_id()),
        created=await _transfer(admin, ids, 0),
        shipped=await _transfer(admin, ids, 1),
        received=await _transfer(admin, ids, 2),
    )


async def snapshot() -> dict[str, Any]:
    """Everything a stock mutation could write."""
    return {
        "levels": sorted(
            (str(r.location_id), str(r.variant_id), r.on_hand, r.reserved, r.safety_stock)
            for r in await StockLevelRow.all()
        ),
        "movements": await MovementRow.all().count(),
        "reservations": sorted((str(r.id), r.state.value) for r in await ReservationRow.all()),
        "transfers": sorted(
            (str(r.id), r.state.value, str(r.lines)) for r in await TransferRow.all()
        ),
        "pos": await PosTransactionRow.all().count(),
        "discrepancies": await DiscrepancyRow.all().count(),
        "idempotency": await IdempotencyRow.all().count(),
    }


def line(variant: str, quantity: int) -> dict[str, Any]:
    return {"variantId": variant, "quantity": quantity}


def till(variant: str, quantity: int, total: int = 0) -> dict[str, Any]:
    return {"variantId": variant, "quantity": quantity, "lineTotal": total}


Variables = Callable[[World], dict[str, Any]]


@dataclass(frozen=True)
class Case:
    name: str
    mutation: str
    variables: Variables
    code: str
    field: list[str] | None


def adjust(**overrides: Any) -> Variables:
    def build(w: World) -> dict[str, Any]:
        base = {"locationId": w.a, "variantId": w.milk, "delta": 1, "kind": "RECEIPT"}
        return {"input": {**base, **{k: v(w) if callable(v) else v for k, v in overrides.items()}}}

    return build


def count(**overrides: Any) -> Variables:
    def build(w: World) -> dict[str, Any]:
        base = {"locationId": w.a, "variantId": w.milk, "onHand": 5, "expectedOnHand": 8}
        return {"input": {**base, **{k: v(w) if callable(v) else v for k, v in overrides.items()}}}

    return build


def safety(**overrides: Any) -> Variables:
    def build(w: World) -> dict[str, Any]:
        base = {"locationId": w.a, "variantId": w.milk, "safetyStock": 1}
        return {"input": {**base, **{k: v(w) if callable(v) else v for k, v in overrides.items()}}}

    return build


def transfer(**overrides: Any) -> Variables:
    def build(w: World) -> dict[str, Any]:
        base = {"fromLocationId": w.a, "toLocationId": w.b, "lines": [line(w.milk, 1)]}
        return {"input": {**base, **{k: v(w) if callable(v) else v for k, v in overrides.items()}}}

    return build


def sale(**overrides: Any) -> Variables:
    def build(w: World) -> dict[str, Any]:
        base = {"locationId": w.a, "posTransactionId": "TX-1", "lines": [till(w.milk, 1)]}
        return {"input": {**base, **{k: v(w) if callable(v) else v for k, v in overrides.items()}}}

    return build


def by_transfer(pick: Callable[[World], str], lines: Any = None) -> Variables:
    def build(w: World) -> dict[str, Any]:
        counted = lines(w) if callable(lines) else lines
        return {"input": {"transferId": pick(w), **({"lines": counted} if counted else {})}}

    return build


MALFORMED = "not-an-id"
TOO_MANY = 1_000_001

CASES = [
    # ------------------------------------------------------------ inventoryAdjust
    Case("adjust zero", "inventoryAdjust", adjust(delta=0), "INVALID_QUANTITY", ["delta"]),
    Case("adjust huge", "inventoryAdjust", adjust(delta=TOO_MANY), "INVALID_QUANTITY", ["delta"]),
    Case(
        "adjust huge negative",
        "inventoryAdjust",
        adjust(delta=-TOO_MANY, kind="ADJUSTMENT"),
        "INVALID_QUANTITY",
        ["delta"],
    ),
    Case("negative receipt", "inventoryAdjust", adjust(delta=-1), "INVALID_QUANTITY", ["delta"]),
    Case(
        "negative return",
        "inventoryAdjust",
        adjust(delta=-1, kind="RETURN"),
        "INVALID_QUANTITY",
        ["delta"],
    ),
    *(
        Case(f"adjust as {kind}", "inventoryAdjust", adjust(kind=kind), "INVALID_INPUT", ["kind"])
        for kind in ("COUNT", "SALE_POS", "RESERVE", "COMMIT", "TRANSFER_IN")
    ),
    Case(
        "adjust unknown location",
        "inventoryAdjust",
        adjust(locationId=lambda w: w.unknown_location),
        "NOT_FOUND",
        ["locationId"],
    ),
    Case(
        "adjust unknown variant",
        "inventoryAdjust",
        adjust(variantId=lambda w: w.unknown_variant),
        "NOT_FOUND",
        ["variantId"],
    ),
    Case(
        "adjust malformed location",
        "inventoryAdjust",
        adjust(locationId=MALFORMED),
        "INVALID_ID",
        ["locationId"],
    ),
    Case(
        "adjust variant id of a location",
        "inventoryAdjust",
        adjust(variantId=lambda w: w.a),
        "INVALID_ID",
        ["variantId"],
    ),
    Case(
        "adjust reason too long",
        "inventoryAdjust",
        adjust(reason="x" * 201),
        "INVALID_INPUT",
        ["reason"],
    ),
    Case(
        "adjust reason with NUL",
        "inventoryAdjust",
        adjust(reason="bad\x00reason"),
        "INVALID_INPUT",
        ["reason"],
    ),
    Case(
        "adjust reference too long",
        "inventoryAdjust",
        adjust(reference="r" * 101),
        "INVALID_INPUT",
        ["reference"],
    ),
    *(
        Case(
            f"adjust idempotency key {label}",
            "inventoryAdjust",
            adjust(idempotencyKey=key),
            "INVALID_INPUT",
            ["idempotencyKey"],
        )
        for label, key in (("empty", ""), ("blank", "   "), ("too long", "k" * 101))
    ),
    # ------------------------------------------------------------ inventorySet
    Case("count negative", "inventorySet", count(onHand=-1), "INVALID_QUANTITY", ["onHand"]),
    Case("count huge", "inventorySet", count(onHand=TOO_MANY), "INVALID_QUANTITY", ["onHand"]),
    Case(
        "count negative expected",
        "inventorySet",
        count(expectedOnHand=-1),
        "INVALID_QUANTITY",
        ["expectedOnHand"],
    ),
    Case(
        "count stale",
        "inventorySet",
        count(expectedOnHand=7),
        "STALE_QUANTITY",
        ["expectedOnHand"],
    ),
    Case(
        "count stale where nothing is stocked",
        "inventorySet",
        count(variantId=lambda w: w.bread, expectedOnHand=3),
        "STALE_QUANTITY",
        ["expectedOnHand"],
    ),
    Case(
        "count unknown variant",
        "inventorySet",
        count(variantId=lambda w: w.unknown_variant),
        "NOT_FOUND",
        ["variantId"],
    ),
    Case(
        "count unknown location",
        "inventorySet",
        count(locationId=lambda w: w.unknown_location),
        "NOT_FOUND",
        ["locationId"],
    ),
    Case(
        "count reason too long",
        "inventorySet",
        count(reason="y" * 201),
        "INVALID_INPUT",
        ["reason"],
    ),
    # ------------------------------------------------------------ setSafetyStock
    Case(
        "safety negative",
        "setSafetyStock",
        safety(safetyStock=-1),
        "INVALID_QUANTITY",
        ["safetyStock"],
    ),
    Case(
        "safety huge",
        "setSafetyStock",
        safety(safetyStock=TOO_MANY),
        "INVALID_QUANTITY",
        ["safetyStock"],
    ),
    Case(
        "safety unknown variant",
        "setSafetyStock",
        safety(variantId=lambda w: w.unknown_variant),
        "NOT_FOUND",
        ["variantId"],
    ),
    Case(
        "safety unknown location",
        "setSafetyStock",
        safety(locationId=lambda w: w.unknown_location),
        "NOT_FOUND",
        ["locationId"],
    ),
    # ------------------------------------------------------------ inventoryTransfer
    Case(
        "transfer to the same location",
        "inventoryTransfer",
        transfer(toLocationId=lambda w: w.a),
        "SAME_LOCATION",
        ["toLocationId"],
    ),
    Case("transfer no lines", "inventoryTransfer", transfer(lines=[]), "INVALID_INPUT", ["lines"]),
    Case(
        "transfer 101 lines",
        "inventoryTransfer",
        transfer(lines=lambda w: [line(w.milk, 1)] * 101),
        "TOO_MANY_ITEMS",
        ["lines"],
    ),
    Case(
        "transfer duplicate variant",
        "inventoryTransfer",
        transfer(lines=lambda w: [line(w.milk, 1), line(w.bread, 1), line(w.milk, 2)]),
        "DUPLICATE_VARIANT",
        ["lines", "2", "variantId"],
    ),
    *(
        Case(
            f"transfer quantity {quantity}",
            "inventoryTransfer",
            transfer(lines=lambda w, q=quantity: [line(w.bread, 1), line(w.milk, q)]),
            "INVALID_QUANTITY",
            ["lines", "1", "quantity"],
        )
        for quantity in (0, -2, TOO_MANY)
    ),
    Case(
        "transfer to unknown location",
        "inventoryTransfer",
        transfer(toLocationId=lambda w: w.unknown_location),
        "NOT_FOUND",
        ["toLocationId"],
    ),
    Case(
        "transfer from unknown location",
        "inventoryTransfer",
        transfer(fromLocationId=lambda w: w.unknown_location),
        "NOT_FOUND",
        ["fromLocationId"],
    ),
    Case(
        "transfer unknown variant, one line",
        "inventoryTransfer",
        transfer(lines=lambda w: [line(w.unknown_variant, 1)]),
        "NOT_FOUND",
        ["lines", "0", "variantId"],
    ),
    Case(
        "transfer unknown variant, second line",
        "inventoryTransfer",
        transfer(lines=lambda w: [line(w.milk, 1), line(w.unknown_variant, 1)]),
        "NOT_FOUND",
        ["lines", "1", "variantId"],
    ),
    Case(
        "transfer malformed variant",
        "inventoryTransfer",
        transfer(lines=lambda w: [line(w.milk, 1), line(MALFORMED, 1)]),
        "INVALID_ID",
        ["lines", "1", "variantId"],
    ),
    Case(
        "transfer idempotency key too long",
        "inventoryTransfer",
        transfer(idempotencyKey="k" * 101),
        "INVALID_INPUT",
        ["idempotencyKey"],
    ),
    # ------------------------------------------------------------ shipTransfer
    Case(
        "ship unknown transfer",
        "shipTransfer",
        by_transfer(lambda w: gid("StockTransfer", new_id())),
        "NOT_FOUND",
        ["transferId"],
    ),
    Case(
        "ship id of a location",
        "shipTransfer",
        by_transfer(lambda w: w.a),
        "INVALID_ID",
        ["transferId"],
    ),
    Case(
        "ship twice",
        "shipTransfer",
        by_transfer(lambda w: w.shipped),
        "TRANSFER_ALREADY_SHIPPED",
        ["transferId"],
    ),
    Case(
        "ship a received transfer",
        "shipTransfer",
        by_transfer(lambda w: w.received),
        "TRANSFER_ALREADY_SHIPPED",
        ["transferId"],
    ),
    # ------------------------------------------------------------ receiveTransfer
    Case(
        "receive before shipping",
        "receiveTransfer",
        by_transfer(lambda w: w.created),
        "TRANSFER_NOT_SHIPPED",
        ["transferId"],
    ),
    Case(
        "receive twice",
        "receiveTransfer",
        by_transfer(lambda w: w.received),
        "TRANSFER_ALREADY_RECEIVED",
        ["transferId"],
    ),
    Case(
        "receive unknown transfer",
        "receiveTransfer",
        by_transfer(lambda w: gid("StockTransfer", new_id())),
        "NOT_FOUND",
        ["transferId"],
    ),
    Case(
        "receive a line not on the transfer",
        "receiveTransfer",
        by_transfer(lambda w: w.shipped, lambda w: [line(w.bread, 1)]),
        "INVALID_INPUT",
        ["lines"],
    ),
    Case(
        "receive duplicate lines",
        "receiveTransfer",
        by_transfer(lambda w: w.shipped, lambda w: [line(w.milk, 1), line(w.milk, 0)]),
        "DUPLICATE_VARIANT",
        ["lines", "1", "variantId"],
    ),
    Case(
        "receive negative",
        "receiveTransfer",
        by_transfer(lambda w: w.shipped, lambda w: [line(w.milk, -1)]),
        "INVALID_QUANTITY",
        ["lines", "0", "quantity"],
    ),
    Case(
        "receive huge",
        "receiveTransfer",
        by_transfer(lambda w: w.shipped, lambda w: [line(w.milk, TOO_MANY)]),
        "INVALID_QUANTITY",
        ["lines", "0", "quantity"],
    ),
    # ------------------------------------------------------------ recordPosSales
    Case("sale no lines", "recordPosSales", sale(lines=[]), "INVALID_INPUT", ["lines"]),
    *(
        Case(
            f"sale quantity {quantity}",
            "recordPosSales",
            sale(lines=lambda w, q=quantity: [till(w.milk, q)]),
            "INVALID_QUANTITY",
            ["lines", "0", "quantity"],
        )
        for quantity in (0, -1, 10_000, TOO_MANY)
    ),
    Case(
        "sale duplicate variant",
        "recordPosSales",
        sale(lines=lambda w: [till(w.milk, 1), till(w.milk, 1)]),
        "DUPLICATE_VARIANT",
        ["lines", "1", "variantId"],
    ),
    Case(
        "sale 101 lines",
        "recordPosSales",
        sale(lines=lambda w: [till(w.milk, 1)] * 101),
        "TOO_MANY_ITEMS",
        ["lines"],
    ),
    Case(
        "sale unknown variant",
        "recordPosSales",
        sale(lines=lambda w: [till(w.unknown_variant, 1)]),
        "NOT_FOUND",
        ["lines", "0", "variantId"],
    ),
    Case(
        "sale unknown location",
        "recordPosSales",
        sale(locationId=lambda w: w.unknown_location),
        "NOT_FOUND",
        ["locationId"],
    ),
    *(
        Case(
            f"sale transaction id {label}",
            "recordPosSales",
            sale(posTransactionId=tx),
            "INVALID_INPUT",
            ["posTransactionId"],
        )
        for label, tx in (("empty", ""), ("blank", "  "), ("too long", "T" * 65))
    ),
    Case(
        "sale malformed member",
        "recordPosSales",
        sale(memberId=MALFORMED),
        "INVALID_ID",
        ["memberId"],
    ),
    *(
        Case(
            f"sale line total {total}",
            "recordPosSales",
            sale(lines=lambda w, t=total: [till(w.milk, 2, t)]),
            "INVALID_INPUT",
            ["lines", "0", "lineTotal"],
        )
        # Milk is 1290 fen: two are charged 0 to 5160 (200 %).
        for total in (-1, 5161, 2**31 - 1)
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
async def test_bad_mutation_input_is_a_typed_error_and_writes_nothing(
    case: Case, admin: Api, world: World
) -> None:
    before = await snapshot()
    data = await admin.data(document(case.mutation), case.variables(world))
    payload = data[case.mutation]
    result_key = next(k for k in payload if k != "errors")
    assert payload[result_key] is None, payload
    assert len(payload["errors"]) == 1, payload
    [error] = payload["errors"]
    assert (error["code"], error["field"]) == (case.code, case.field), error
    assert error["message"]
    assert error["variantId"] is None and error["available"] is None
    if case.code == "STALE_QUANTITY":
        assert error["currentOnHand"] == (8 if case.name == "count stale" else 0)
    else:
        assert error["currentOnHand"] is None
    assert await snapshot() == before


async def test_adjusting_below_zero_names_the_variant_and_what_is_there(
    admin: Api, world: World
) -> None:
    before = await snapshot()
    variables = adjust(delta=-9, kind="ADJUSTMENT")(world)
    payload = (await admin.data(document("inventoryAdjust"), variables))["inventoryAdjust"]
    assert payload["stockLevel"] is None
    [error] = payload["errors"]
    assert error["code"] == "INSUFFICIENT_STOCK"
    assert (error["variantId"], error["available"]) == (world.milk, 8)
    assert error["message"]
    assert await snapshot() == before


async def test_shipping_more_than_available_names_every_short_line(
    admin: Api, world: World
) -> None:
    created = await admin.data(
        document("inventoryTransfer"),
        transfer(lines=lambda w: [line(w.milk, 9), line(w.bread, 1)])(world),
    )
    transfer_id = created["inventoryTransfer"]["transfer"]["id"]
    before = await snapshot()
    payload = (await admin.data(document("shipTransfer"), {"input": {"transferId": transfer_id}}))[
        "shipTransfer"
    ]
    assert payload["transfer"] is None
    assert sorted((e["code"], e["variantId"], e["available"]) for e in payload["errors"]) == sorted(
        [("INSUFFICIENT_STOCK", world.milk, 8), ("INSUFFICIENT_STOCK", world.bread, 0)]
    )
    assert await snapshot() == before


async def test_graphql_level_bad_input_is_rejected_before_anything_runs(
    admin: Api, world: World
) -> None:
    before = await snapshot()
    for variables in (
        adjust(delta=2**31)(world),  # not a GraphQL Int
        adjust(delta="3")(world),
        adjust(kind="STEAL")(world),
        {"input": {"locationId": world.a, "variantId": world.milk}},  # delta missing
    ):
        body = await admin(document("inventoryAdjust"), variables)
        assert body.get("data") is None and body["errors"], body
    assert await snapshot() == before


async def test_bulk_set_refuses_more_than_500_rows_and_writes_nothing(
    admin: Api, world: World
) -> None:
    query = f"""mutation($rows: [StockRowInput!]!) {{ inventoryBulkSet(input: {{rows: $rows}}) {{
      results {{ status }} {ERRORS} }} }}"""
    before = await snapshot()
    rows = [{"locationCode": "SH-A", "variantCode": "MILK", "onHand": n} for n in range(501)]
    payload = (await admin.data(query, {"rows": rows}))["inventoryBulkSet"]
    assert payload["results"] is None
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [("TOO_MANY_ITEMS", ["rows"])]
    assert await snapshot() == before
    empty = (await admin.data(query, {"rows": []}))["inventoryBulkSet"]
    assert empty == {"results": [], "errors": []}


async def test_idempotency_conflicts_write_nothing_for_every_keyed_mutation(
    admin: Api, world: World
) -> None:
    first = adjust(delta=2, idempotencyKey="same-key")(world)
    assert (await admin.data(document("inventoryAdjust"), first))["inventoryAdjust"]["errors"] == []
    moved = transfer(idempotencyKey="t-key")(world)
    assert (await admin.data(document("inventoryTransfer"), moved))["inventoryTransfer"][
        "errors"
    ] == []
    counted = count(onHand=9, expectedOnHand=10, idempotencyKey="c-key")(world)
    assert (await admin.data(document("inventorySet"), counted))["inventorySet"]["errors"] == []

    before = await snapshot()
    for name, variables in (
        ("inventoryAdjust", adjust(delta=3, idempotencyKey="same-key")(world)),
        ("inventoryAdjust", adjust(delta=2, reason="other", idempotencyKey="same-key")(world)),
        (
            "inventoryTransfer",
            transfer(lines=lambda w: [line(w.milk, 2)], idempotencyKey="t-key")(world),
        ),
        ("inventoryTransfer", transfer(toLocationId=lambda w: w.w, idempotencyKey="t-key")(world)),
        ("inventorySet", count(onHand=8, expectedOnHand=10, idempotencyKey="c-key")(world)),
    ):
        payload = (await admin.data(document(name), variables))[name]
        assert [(e["code"], e["field"]) for e in payload["errors"]] == [
            ("IDEMPOTENCY_CONFLICT", ["idempotencyKey"])
        ], (name, payload)
    assert await snapshot() == before


# ---------------------------------------------------------------- queries

LEVELS = """query($l: ID!, $v: [ID!], $n: Int, $after: String) {
  stockLevels(locationId: $l, variantIds: $v, first: $n, after: $after) { nodes { onHand } } }"""
MOVEMENTS = """query($f: StockMovementFilter, $n: Int, $after: String) {
  stockMovements(filter: $f, first: $n, after: $after) { nodes { kind } } }"""
DISCREPANCIES = """query($l: ID, $n: Int, $after: String) {
  stockDiscrepancies(locationId: $l, first: $n, after: $after) { nodes { kind } } }"""
TRANSFER = "query($id: ID!) { stockTransfer(id: $id) { state } }"
AVAILABILITY = """query($v: ID!, $near: NearInput, $first: Int! = 10) { variant(id: $v) {
  availability(near: $near, first: $first) { status } } }"""


def top_level(body: dict[str, Any]) -> list[tuple[str, Any]]:
    return [(e["extensions"]["code"], e["extensions"].get("field")) for e in body["errors"]]


async def test_bad_query_arguments_are_top_level_errors_with_codes(
    admin: Api, world: World
) -> None:
    cases: list[tuple[str, dict[str, Any], str]] = [
        (LEVELS, {"l": MALFORMED}, "INVALID_ID"),
        (LEVELS, {"l": world.milk}, "INVALID_ID"),
        (LEVELS, {"l": world.a, "v": [MALFORMED]}, "INVALID_ID"),
        (LEVELS, {"l": world.a, "v": [world.milk] * 101}, "TOO_MANY_ITEMS"),
        (LEVELS, {"l": world.a, "n": 101}, "INVALID_INPUT"),
        (LEVELS, {"l": world.a, "n": -1}, "INVALID_INPUT"),
        (LEVELS, {"l": world.a, "after": "garbage"}, "INVALID_INPUT"),
        (MOVEMENTS, {"f": {"locationId": MALFORMED}}, "INVALID_ID"),
        (MOVEMENTS, {"f": {"variantId": world.a}}, "INVALID_ID"),
        (MOVEMENTS, {"n": 1000}, "INVALID_INPUT"),
        (MOVEMENTS, {"after": "garbage"}, "INVALID_INPUT"),
        (DISCREPANCIES, {"l": MALFORMED}, "INVALID_ID"),
        (DISCREPANCIES, {"after": "garbage"}, "INVALID_INPUT"),
        (TRANSFER, {"id": MALFORMED}, "INVALID_ID"),
        (TRANSFER, {"id": world.a}, "INVALID_ID"),
        (AVAILABILITY, {"v": world.milk, "first": 51}, "INVALID_INPUT"),
        (AVAILABILITY, {"v": world.milk, "first": -1}, "INVALID_INPUT"),
        (
            AVAILABILITY,
            {"v": world.milk, "near": {"latitude": 91, "longitude": 0}},
            "INVALID_COORDINATES",
        ),
        (
            AVAILABILITY,
            {"v": world.milk, "near": {"latitude": 0, "longitude": -180.5}},
            "INVALID_COORDINATES",
        ),
    ]
    for query, variables, code in cases:
        body = await admin(query, variables)
        assert [c for c, _ in top_level(body)] == [code], (variables, body)


async def test_unknown_things_read_as_empty_or_null(admin: Api, world: World) -> None:
    unknown_transfer = gid("StockTransfer", new_id())
    assert (await admin.data(TRANSFER, {"id": unknown_transfer}))["stockTransfer"] is None
    levels = await admin.data(LEVELS, {"l": world.a, "v": [world.unknown_variant, world.milk]})
    assert levels["stockLevels"]["nodes"] == [{"onHand": 8}]
    empty = await admin.data(LEVELS, {"l": world.unknown_location})
    assert empty["stockLevels"]["nodes"] == []


async def test_stock_reads_need_a_caller_who_may_see_quantities(
    api: Api, world: World, runtime: Runtime
) -> None:
    for query, variables in (
        (LEVELS, {"l": world.a}),
        (MOVEMENTS, {}),
        (DISCREPANCIES, {}),
        (TRANSFER, {"id": world.created}),
    ):
        assert [c for c, _ in top_level(await api(query, variables))] == ["UNAUTHENTICATED"]
    login = """mutation { loginWithWechat(input: {appId: "wx-demo", code: "test:openid-bad-1"}) {
      tokens { accessToken } } }"""
    token = (await api.data(login))["loginWithWechat"]["tokens"]["accessToken"]
    member = api.as_(token)
    for query, variables in (
        (LEVELS, {"l": world.a}),
        (MOVEMENTS, {}),
        (DISCREPANCIES, {}),
        (TRANSFER, {"id": world.created}),
    ):
        assert [c for c, _ in top_level(await member(query, variables))] == ["FORBIDDEN"]


# ---------------------------------------------------------------- reservations (domain)


async def test_bad_reservations_raise_typed_errors_and_write_nothing(
    runtime: Runtime, stores: dict[str, Any], world: World
) -> None:
    deps, store, milk = runtime.inventory, stores["SH-A"].id, world.milk_id
    ttl = timedelta(minutes=15)
    before = await snapshot()
    bad: list[tuple[Any, InventoryErrorCode]] = [
        (
            lambda: reservations.reserve(deps, [], store, "o:1", ttl),
            InventoryErrorCode.INVALID_INPUT,
        ),
        (
            lambda: reservations.reserve(deps, [StockLine(milk, 0)], store, "o:1", ttl),
            InventoryErrorCode.INVALID_QUANTITY,
        ),
        (
            lambda: reservations.reserve(deps, [StockLine(milk, -1)], store, "o:1", ttl),
            InventoryErrorCode.INVALID_QUANTITY,
        ),
        (
            lambda: reservations.reserve(
                deps, [StockLine(milk, 1), StockLine(milk, 1)], store, "o:1", ttl
            ),
            InventoryErrorCode.DUPLICATE_VARIANT,
        ),
        (
            lambda: reservations.reserve(deps, [StockLine(milk, 1)], store, "", ttl),
            InventoryErrorCode.INVALID_INPUT,
        ),
        (
            lambda: reservations.reserve(deps, [StockLine(milk, 1)], store, "o:1", timedelta(0)),
            InventoryErrorCode.INVALID_INPUT,
        ),
        (
            lambda: reservations.reserve(
                deps, [StockLine(milk, 1)], store, "o:1", timedelta(days=61)
            ),
            InventoryErrorCode.INVALID_INPUT,
        ),
        (
            lambda: reservations.reserve(deps, [StockLine(milk, 9)], store, "o:1", ttl),
            InventoryErrorCode.INSUFFICIENT_STOCK,
        ),
        (
            lambda: reservations.extend(deps, "no-such-owner", ttl),
            InventoryErrorCode.RESERVATION_NOT_FOUND,
        ),
        (
            lambda: reservations.extend(deps, "o:1", timedelta(days=61)),
            InventoryErrorCode.INVALID_INPUT,
        ),
    ]
    for action, code in bad:
        with pytest.raises(DomainError) as raised:
            await action()
        assert raised.value.code is code, (code, raised.value)
    assert await snapshot() == before

    with pytest.raises(InsufficientStock) as short:
        await reservations.reserve(deps, [StockLine(milk, 9)], store, "o:1", ttl)
    assert [(s.requested, s.available) for s in short.value.shortages] == [(9, 8)]
    assert await reservations.release(deps, "no-such-owner") == []
    assert await reservations.commit(deps, "no-such-owner") == []
    assert await snapshot() == before
