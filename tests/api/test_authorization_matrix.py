"""The authorisation matrix (issue 8): every root operation of schema.graphql against every kind
of caller, compared with the checked-in table tests/api/authorization_matrix.csv.

Each operation gets a minimal document generated from the schema: required arguments filled
with placeholders of the right type (a random global id of the type the argument names, one
element per list, the first enum value...), selecting `__typename` (and `errors { code }` of a
mutation payload). Rows of the table with a `target` run on real objects instead (TARGETS
below), so that object-level checks in the domain are reached too. Subscriptions run over a
real WebSocket (graphql-transport-ws), where permissions are checked at subscribe time.

A difference from the table, an operation missing from it or a row for an operation that is
gone fails the test with the whole list at once.
"""

from __future__ import annotations

import asyncio
import csv
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
from graphql import (
    GraphQLArgument,
    GraphQLEnumType,
    GraphQLField,
    GraphQLInputField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    GraphQLUnionType,
    Undefined,
    build_schema,
    get_named_type,
)

from api.relay import decode_any_id, encode_id
from domain.identity.model import ApiScope
from domain.identity.services import create_api_key
from domain.live import order_topic, pickup_board_topic
from domain.locations.model import Location
from infra.runtime import Runtime
from tests.support.api import Api
from tests.support.world import World, build_world
from tests.support.ws import session, until

ROOT_DIR = Path(__file__).resolve().parents[2]
TABLE = Path(__file__).with_name("authorization_matrix.csv")
SCHEMA_FILE = ROOT_DIR / "schema.graphql"

PRINCIPALS = (
    "anonymous",
    "member_a",
    "member_b",
    "clerk_a",
    "clerk_b",
    "manager_a",
    "kiosk_a",
    "pos_a",
    "cs_agent",
    "admin",
    "key_scoped",
    "key_unscoped",
)
VERDICTS = ("allow", "deny")
DENIED = frozenset({"UNAUTHENTICATED", "FORBIDDEN"})
BROKEN = frozenset({"INTERNAL_SERVER_ERROR", "GRAPHQL_VALIDATION_FAILED", "GRAPHQL_PARSE_FAILED"})


# ---------------------------------------------------------------- the table


@dataclass(frozen=True)
class Row:
    operation: str
    cells: dict[str, str]
    scopes: tuple[ApiScope, ...]
    target: str


def read_table(path: Path = TABLE) -> dict[str, Row]:
    lines = [x for x in path.read_text().splitlines() if x.strip() and not x.startswith("#")]
    header, *body = [[cell.strip() for cell in r] for r in csv.reader(lines)]
    assert header == ["operation", *PRINCIPALS, "scope", "target"], header
    rows: dict[str, Row] = {}
    for record in body:
        assert len(record) == len(header), f"{record[0]}: {len(record)} cells"
        operation, *cells, scope, target = record
        assert operation not in rows, f"{operation} is listed twice"
        bad = [c for c in cells if c not in VERDICTS]
        assert not bad, f"{operation}: cells are allow or deny, not {bad}"
        scopes = tuple(ApiScope(s) for s in scope.split("|") if s)
        rows[operation] = Row(operation, dict(zip(PRINCIPALS, cells, strict=True)), scopes, target)
    return rows


def load_schema() -> GraphQLSchema:
    return build_schema(SCHEMA_FILE.read_text())


def root_operations(schema: GraphQLSchema) -> dict[str, tuple[str, str, GraphQLField]]:
    """`Query.x` -> (operation keyword, field name, field), in schema order."""
    found: dict[str, tuple[str, str, GraphQLField]] = {}
    for keyword, root in (
        ("query", schema.query_type),
        ("mutation", schema.mutation_type),
        ("subscription", schema.subscription_type),
    ):
        if root is not None:
            for name, definition in root.fields.items():
                found[f"{root.name}.{name}"] = (keyword, name, definition)
    return found


# ---------------------------------------------------------------- documents from the schema

# Which type an ID argument names: `orderId` -> Order, except for these.
ID_ARGUMENTS = {
    "transferId": "StockTransfer",
    "planId": "SubscriptionPlan",
    "sourceMemberId": "Member",
    "targetMemberId": "Member",
    "fromLocationId": "Location",
    "toLocationId": "Location",
    "storeIds": "Location",
    "parentId": "Category",
}
# A bare `id` names the operation's own object: `productArchive(input: {id})` -> Product.
OWN_ID = (
    ("stockTransfer", "StockTransfer"),
    ("product", "Product"),
    ("variant", "Variant"),
    ("location", "Location"),
    ("device", "Device"),
    ("apiKey", "ApiKey"),
    ("member", "Member"),
    ("order", "Order"),
)
SCALARS: dict[str, Any] = {
    "String": "placeholder",
    "Int": 1,
    "Float": 0.0,
    "Boolean": False,  # deleteMyAccount(confirm: false) must not erase the caller
    "Date": "2030-01-01",
    "DateTime": "2030-01-01T00:00:00+00:00",
    "JSON": {},
}


def id_type(field_name: str, argument: str) -> str:
    if argument in ID_ARGUMENTS:
        return ID_ARGUMENTS[argument]
    if argument != "id":
        stem = argument.removesuffix("Ids").removesuffix("Id")
        return stem[:1].upper() + stem[1:]
    if "Subscription" in field_name or "Delivery" in field_name:
        return "Subscription"
    return next((t for prefix, t in OWN_ID if field_name.startswith(prefix)), "Product")


def required(value: GraphQLArgument | GraphQLInputField) -> bool:
    """Non-null without a default (an SDL default stays on the AST node)."""
    default = value.ast_node.default_value if value.ast_node else None
    return (
        isinstance(value.type, GraphQLNonNull)
        and value.default_value is Undefined
        and default is None
    )


def placeholder(field_name: str, name: str, type_: GraphQLInputType) -> Any:
    """A value of the type that passes GraphQL validation; the resolver may still refuse it."""
    if isinstance(type_, GraphQLNonNull):
        return placeholder(field_name, name, type_.of_type)
    if isinstance(type_, GraphQLList):
        return [placeholder(field_name, name, type_.of_type)]
    if isinstance(type_, GraphQLInputObjectType):
        return {
            key: placeholder(field_name, key, f.type)
            for key, f in type_.fields.items()
            if required(f)
        }
    if isinstance(type_, GraphQLEnumType):
        return next(iter(type_.values))
    if type_.name == "ID":
        return encode_id(id_type(field_name, name), uuid4())
    return SCALARS[type_.name]


def selection(type_: GraphQLOutputType) -> str:
    """`__typename` of objects, plus the typed errors' codes of a mutation payload."""
    named = get_named_type(type_)
    if not isinstance(named, GraphQLObjectType | GraphQLInterfaceType | GraphQLUnionType):
        return ""
    errors = named.fields.get("errors") if isinstance(named, GraphQLObjectType) else None
    if errors is None:
        return " { __typename }"
    item = get_named_type(errors.type)
    wanted = "code" if isinstance(item, GraphQLObjectType) and "code" in item.fields else "message"
    return f" {{ __typename errors {{ {wanted} }} }}"


@dataclass(frozen=True)
class Call:
    operation: str
    keyword: str
    field: str
    document: str
    variables: dict[str, Any]


def build_call(
    operation: str, keyword: str, name: str, definition: GraphQLField, given: dict[str, Any]
) -> Call:
    """The document and its variables: required arguments as placeholders, then `given`."""
    variables = {
        arg: placeholder(name, arg, a.type) for arg, a in definition.args.items() if required(a)
    }
    for arg, value in given.items():
        base = variables.get(arg)
        variables[arg] = {**base, **value} if isinstance(base, dict) else value
    declared = ", ".join(f"${a}: {definition.args[a].type}" for a in variables)
    passed = ", ".join(f"{a}: ${a}" for a in variables)
    head = f"{keyword} Matrix({declared})" if declared else keyword
    call = f"{name}({passed})" if passed else name
    return Call(
        operation, keyword, name, f"{head} {{ {call}{selection(definition.type)} }}", variables
    )


# ---------------------------------------------------------------- the world the calls run in


# Arguments of the rows with a `target`: real objects, so that the domain's object-level
# checks run (a random id would stop at NOT_FOUND for everyone). Keep in step with the table.
Given = Callable[[World], dict[str, Any]]


def _order(w: World) -> dict[str, Any]:
    return {"input": {"orderId": w.order}}


def _subscription(w: World) -> dict[str, Any]:
    return {"input": {"id": w.subscription}}


def _stock(w: World) -> dict[str, Any]:
    return {"input": {"locationId": w.store("SH-A"), "variantId": w.variant}}


TARGETS: dict[str, Given] = {
    "Query.node": lambda w: {"id": w.order},
    "Query.order": lambda w: {"id": w.order},
    "Query.member": lambda w: {"id": w.member_a.id},
    "Query.guidePerformance": lambda w: {"storeId": w.store("SH-A"), "month": "2026-12"},
    "Query.cohorts": lambda w: {"storeId": w.store("SH-A"), "from": "2026-11", "to": "2026-12"},
    "Query.metrics": lambda w: {
        "storeId": w.store("SH-A"),
        "from": "2026-12-01",
        "to": "2026-12-01",
    },
    "Query.stockLevels": lambda w: {"locationId": w.store("SH-A")},
    "Query.stockMovements": lambda w: {"filter": {"locationId": w.store("SH-A")}},
    "Query.stockDiscrepancies": lambda w: {"locationId": w.store("SH-A")},
    "Query.stockTransfer": lambda w: {"id": w.transfer_out},
    "Query.pickupQueue": lambda w: {"locationId": w.store("SH-A")},
    "Mutation.locationUpdate": lambda w: {"input": {"id": w.store("SH-A")}},
    "Mutation.inventoryAdjust": _stock,
    "Mutation.inventorySet": _stock,
    "Mutation.setSafetyStock": _stock,
    "Mutation.inventoryTransfer": lambda w: {
        "input": {
            "fromLocationId": w.store("SH-A"),
            "toLocationId": w.store("WH-1"),
            "lines": [{"variantId": w.variant, "quantity": 1}],
        }
    },
    "Mutation.shipTransfer": lambda w: {"input": {"transferId": w.transfer_out}},
    "Mutation.receiveTransfer": lambda w: {"input": {"transferId": w.transfer_in}},
    "Mutation.recordPosSales": lambda w: {
        "input": {
            "locationId": w.store("SH-A"),
            "lines": [{"variantId": w.variant, "quantity": 1, "lineTotal": 1990}],
        }
    },
    # A one-letter reason: who may take returns at SH-A gets past the store check to
    # INVALID_INPUT (tests/api/test_pos_returns.py returns real sales).
    "Mutation.recordPosReturn": lambda w: {
        "input": {
            "locationId": w.store("SH-A"),
            "posTransactionId": "T-1",
            "lines": [{"variantId": w.variant, "quantity": 1, "condition": "RESALEABLE"}],
            "refundMethod": "CASH",
            "reason": "x",
        }
    },
    "Query.posReturns": lambda w: {"locationId": w.store("SH-A")},
    # A walk-in (or the member's own) pickup at SH-A: only SH-A's staff and devices, and members.
    "Mutation.placeOrder": lambda w: {
        "input": {
            "channel": "POS",
            "lines": [{"variantId": w.variant, "quantity": 1}],
            "fulfilment": {"pickup": {"locationId": w.store("SH-A")}},
        }
    },
    # The same cart priced, reserving nothing: anonymous shoppers get list prices too.
    "Query.checkoutQuote": lambda w: {
        "input": {
            "channel": "POS",
            "lines": [{"variantId": w.variant, "quantity": 1}],
            "fulfilment": {"pickup": {"locationId": w.store("SH-A")}},
        }
    },
    "Mutation.payOrder": _order,
    # A valid method, so the request reaches the store check; the amount is wrong on purpose.
    "Mutation.recordInStorePayment": lambda w: {
        "input": {"orderId": w.order, "method": "CASH", "amount": 1}
    },
    "Mutation.startPreparingOrder": _order,
    "Mutation.markOrderReadyForPickup": _order,
    "Mutation.completePickup": lambda w: {
        "input": {"locationId": w.store("SH-A"), "pickupCode": "000000"}
    },
    "Mutation.liftPickupCodeLock": lambda w: {
        "input": {"locationId": w.store("SH-A"), "reason": "checked the counter"}
    },
    # A paid order (not ready): the manager gets past the checks to ILLEGAL_TRANSITION.
    "Mutation.handOverWithoutCode": lambda w: {
        "input": {"orderId": w.order, "memberId": w.member_a.id, "reason": "lost the code"}
    },
    "Mutation.cancelOrder": _order,
    # A paid order (not handed over): who may ask gets past the checks to ORDER_NOT_HANDED_OVER.
    "Mutation.requestAfterSale": lambda w: {
        "input": {
            "orderId": w.order,
            "kind": "REFUND_ONLY",
            "lines": [{"orderLineId": encode_id("OrderLine", uuid4()), "quantity": 1}],
            "reason": "arrived broken",
        }
    },
    "Mutation.shipOrder": _order,
    "Mutation.markOrderDelivered": _order,
    "Mutation.pauseSubscription": _subscription,
    "Mutation.resumeSubscription": _subscription,
    "Mutation.skipNextDelivery": _subscription,
    "Mutation.rescheduleNextDelivery": _subscription,
    "Mutation.changeSubscriptionInterval": _subscription,
    # A valid fulfilment, so the request reaches the ownership check.
    "Mutation.changeSubscriptionFulfilment": lambda w: {
        "input": {"id": w.subscription, "fulfilment": {"pickup": {"locationId": w.store("SH-A")}}}
    },
    "Mutation.cancelSubscription": _subscription,
    # The CS desk: a note on member A's order (its store's staff and CS), an invoice for it (its
    # member only: member B's NOT_FOUND).
    "Mutation.addNote": lambda w: {"input": {"subjectId": w.order, "text": "called the member"}},
    "Mutation.requestInvoice": lambda w: {
        "input": {"orderId": w.order, "title": "Wang Fang", "email": "fang@example.com"}
    },
    "Subscription.pickupBoard": lambda w: {"locationId": w.store("SH-A")},
    "Subscription.orderUpdated": lambda w: {"orderId": w.order},
}


# ---------------------------------------------------------------- judging an answer


@dataclass(frozen=True)
class Answer:
    verdict: str  # allow, deny, or error (the call itself is broken)
    detail: str  # the codes seen, for the report


def judge(errors: list[dict[str, Any]], value: Any, targeted: bool) -> Answer:
    """`errors`: top-level errors; `value`: the root field's data (a payload for mutations)."""
    top = [str((e.get("extensions") or {}).get("code", "NO_CODE")) for e in errors]
    payload = (
        [str(e.get("code")) for e in value.get("errors") or []] if isinstance(value, dict) else []
    )
    codes = top + payload
    detail = ",".join(codes) or "ok"
    if any(c in BROKEN or c == "NO_CODE" for c in top):
        return Answer("error", detail + " " + "; ".join(str(e.get("message")) for e in errors))
    if DENIED.intersection(codes):
        return Answer("deny", detail)
    if targeted and ("NOT_FOUND" in codes or value is None):
        return Answer("deny", detail if codes else "null")
    return Answer("allow", detail)


def key_scopes(row: Row, column: str) -> frozenset[ApiScope]:
    every = frozenset(ApiScope)
    if not row.scopes:
        return every
    if column == "key_scoped":
        return frozenset(row.scopes[:1])
    return every - set(row.scopes)


async def token_of(runtime: Runtime, world: World, row: Row, column: str) -> str | None:
    if column not in ("key_scoped", "key_unscoped"):
        return world.tokens[column]
    scopes = key_scopes(row, column)
    if scopes not in world.keys:
        ordered = sorted(scopes, key=lambda s: s.value)
        _, world.keys[scopes] = await create_api_key(runtime.auth, "matrix", ordered)
    return world.keys[scopes]


async def over_http(api: Api, token: str | None, call: Call, targeted: bool) -> Answer:
    body = await api.as_(token)(call.document, call.variables)
    return judge(body.get("errors") or [], (body.get("data") or {}).get(call.field), targeted)


def topic_of(call: Call) -> str:
    _, key = decode_any_id(next(iter(call.variables.values())))
    return pickup_board_topic(key) if call.field == "pickupBoard" else order_topic(key)


async def over_websocket(
    url: str, runtime: Runtime, token: str | None, call: Call, targeted: bool
) -> Answer:
    """Subscribe and wait for whichever comes first: the protocol's `error` message, or the
    live bus counting one more subscriber of the topic (graphql-transport-ws sends nothing
    when a subscription starts)."""
    topic = topic_of(call)
    before = runtime.live.subscriber_count(topic)
    async with session(url, token) as s:
        await s.subscribe(call.document, call.variables)
        message = asyncio.create_task(s.receive())
        started = asyncio.create_task(until(lambda: runtime.live.subscriber_count(topic) > before))
        done, pending = await asyncio.wait({message, started}, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        if started in done and started.exception() is None:
            answer = Answer("allow", "subscribed")
        elif message in done and message.exception() is None:
            sent = message.result()
            errors = sent["payload"] if sent["type"] == "error" else []
            value = None if errors else (sent.get("payload") or {}).get("data")
            answer = judge(errors, value, targeted)
        else:
            answer = Answer("error", "neither an error nor a subscription")
    await until(lambda: runtime.live.subscriber_count(topic) == before)
    return answer


def in_order(operations: dict[str, Any]) -> Iterator[str]:
    """Reads first, then subscriptions, then mutations; logout last (it ends the sessions)."""
    rank = {"Query": 0, "Subscription": 1, "Mutation": 2}
    return iter(
        sorted(operations, key=lambda op: (rank[op.split(".")[0]], op == "Mutation.logout"))
    )


# ---------------------------------------------------------------- the tests


def test_the_table_lists_every_root_operation_and_no_other() -> None:
    table, schema = read_table(), root_operations(load_schema())
    missing = [op for op in schema if op not in table]
    gone = [op for op in table if op not in schema]
    assert not missing and not gone, (
        f"Classify these operations in {TABLE.name}: {missing}; "
        f"remove these rows, the operations are gone: {gone}"
    )


def test_every_row_with_a_target_has_its_arguments_and_no_other() -> None:
    table = read_table()
    described = {op for op, row in table.items() if row.target}
    assert described == set(TARGETS), (
        f"a target in the table but no arguments in TARGETS: {sorted(described - set(TARGETS))}; "
        f"arguments but no target in the table: {sorted(set(TARGETS) - described)}"
    )


def test_placeholder_documents_are_valid_for_every_operation() -> None:
    from graphql import parse, validate

    schema = load_schema()
    invalid = {}
    for op, (keyword, name, definition) in root_operations(schema).items():
        call = build_call(op, keyword, name, definition, {})
        errors = validate(schema, parse(call.document))
        if errors:
            invalid[op] = [e.message for e in errors]
    assert not invalid, invalid


async def test_every_operation_as_every_principal_matches_the_table(
    api: Api,
    client: httpx.AsyncClient,
    runtime: Runtime,
    stores: dict[str, Location],
    server: str,
) -> None:
    table, operations = read_table(), root_operations(load_schema())
    assert set(table) == set(operations), "see test_the_table_lists_every_root_operation"
    world = await build_world(api, client, runtime, stores)

    mismatches, calls = [], 0
    for op in in_order(operations):
        keyword, name, definition = operations[op]
        row = table[op]
        given = TARGETS[op](world) if op in TARGETS else {}
        call = build_call(op, keyword, name, definition, given)
        targeted = bool(row.target)
        for column in PRINCIPALS:
            token = await token_of(runtime, world, row, column)
            if keyword == "subscription":
                answer = await over_websocket(server, runtime, token, call, targeted)
            else:
                answer = await over_http(api, token, call, targeted)
            calls += 1
            expected = row.cells[column]
            if answer.verdict != expected:
                mismatches.append(
                    f"{op:<40} {column:<13} expected {expected:<5} got {answer.verdict:<5}"
                    f" ({answer.detail})"
                )
    assert calls == len(operations) * len(PRINCIPALS)
    assert not mismatches, f"{len(mismatches)} of {calls} calls differ from {TABLE.name}:\n" + (
        "\n".join(mismatches)
    )
