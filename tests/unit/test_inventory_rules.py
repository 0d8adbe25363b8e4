"""Inventory rules as pure functions: quantities and lines, availability and status, what a
shopper sees near them, what the online channels can sell, and who may write stock."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID, uuid4

import pytest

from domain.errors import InventoryError, InventoryErrorCode
from domain.identity.model import ApiScope, DeviceKind, Principal, PrincipalKind, StaffRole
from domain.inventory.availability import availability_near, sells_online, totals_online
from domain.inventory.model import (
    LOW_STOCK_AT,
    MAX_LINES,
    MAX_QUANTITY,
    InsufficientStock,
    Shortage,
    StaleQuantity,
    StockLevel,
    StockLine,
    StockStatus,
    clean_lines,
    clean_quantity,
    clean_text,
    status_of,
)
from domain.inventory.stock import can_write_stock
from domain.locations.model import GeoPoint, Location, LocationStatus, LocationType
from tests.fakes.inventory import FakeInventory
from tests.fakes.tables import Tables

# ---------------------------------------------------------------- quantities and lines


def lines(*quantities: int) -> list[StockLine]:
    return [StockLine(uuid4(), q) for q in quantities]


def test_clean_lines_refuses_an_empty_request() -> None:
    with pytest.raises(InventoryError) as raised:
        clean_lines([])
    assert raised.value.code is InventoryErrorCode.INVALID_INPUT
    assert raised.value.field == ["lines"]


def test_clean_lines_takes_at_most_100_lines() -> None:
    assert len(clean_lines(lines(*[1] * MAX_LINES))) == MAX_LINES == 100
    with pytest.raises(InventoryError) as raised:
        clean_lines(lines(*[1] * (MAX_LINES + 1)))
    assert raised.value.code is InventoryErrorCode.TOO_MANY_ITEMS
    assert raised.value.field == ["lines"]


def test_clean_lines_refuses_a_variant_twice_naming_the_second() -> None:
    first, other = lines(2, 3)
    with pytest.raises(InventoryError) as raised:
        clean_lines([first, other, StockLine(first.variant_id, 1)])
    assert raised.value.code is InventoryErrorCode.DUPLICATE_VARIANT
    assert raised.value.field == ["lines", "2", "variantId"]


@pytest.mark.parametrize("quantity", [0, -1, -MAX_QUANTITY, MAX_QUANTITY + 1, 2**40])
def test_clean_lines_refuses_quantities_that_make_no_sense(quantity: int) -> None:
    with pytest.raises(InventoryError) as raised:
        clean_lines([*lines(1), StockLine(uuid4(), quantity)], path="items")
    assert raised.value.code is InventoryErrorCode.INVALID_QUANTITY
    assert raised.value.field == ["items", "1", "quantity"]


def test_clean_lines_accepts_the_bounds_and_sorts_by_variant_id() -> None:
    given = lines(1, MAX_QUANTITY, 7)
    cleaned = clean_lines(given)
    assert cleaned == sorted(given, key=lambda x: x.variant_id)
    assert {x.quantity for x in cleaned} == {1, MAX_QUANTITY, 7}


def test_clean_quantity_bounds() -> None:
    assert clean_quantity(0, ["onHand"], allow_zero=True) == 0
    assert clean_quantity(MAX_QUANTITY, ["onHand"]) == MAX_QUANTITY
    for value, allow_zero in ((0, False), (-1, True), (MAX_QUANTITY + 1, True)):
        with pytest.raises(InventoryError) as raised:
            clean_quantity(value, ["onHand"], allow_zero=allow_zero)
        assert raised.value.code is InventoryErrorCode.INVALID_QUANTITY
        assert raised.value.field == ["onHand"]


def test_clean_text_strips_and_limits() -> None:
    assert clean_text("  delivery  ", "reason") == "delivery"
    assert clean_text("x" * 200, "reason") == "x" * 200
    for bad in ("x" * 201, "nul\x00byte"):
        with pytest.raises(InventoryError) as raised:
            clean_text(bad, "reason")
        assert raised.value.code is InventoryErrorCode.INVALID_INPUT
        assert raised.value.field == ["reason"]


def test_errors_carry_what_the_client_needs() -> None:
    variant = uuid4()
    short = InsufficientStock([Shortage(variant, 5, 2)], uuid4())
    assert short.code is InventoryErrorCode.INSUFFICIENT_STOCK
    assert short.shortages == [Shortage(variant, 5, 2)]
    assert "5 wanted, 2 available" in short.message
    stale = StaleQuantity(current_on_hand=10, expected=9)
    assert stale.code is InventoryErrorCode.STALE_QUANTITY
    assert stale.current_on_hand == 10 and stale.field == ["expectedOnHand"]
    assert "expectedOnHand: 10" in stale.message


# ---------------------------------------------------------------- available and status


@pytest.mark.parametrize(
    ("on_hand", "reserved", "safety", "available"),
    [
        (10, 0, 0, 10),
        (10, 4, 0, 6),
        (10, 4, 2, 4),
        (10, 10, 0, 0),
        (2, 4, 0, 0),  # a till sale went below reserved: never negative
        (3, 0, 5, 0),  # safety stock above on hand
        (0, 0, 0, 0),
    ],
)
def test_available_is_on_hand_minus_reserved_and_safety_floored_at_zero(
    on_hand: int, reserved: int, safety: int, available: int
) -> None:
    assert StockLevel(uuid4(), uuid4(), on_hand, reserved, safety).available == available


@pytest.mark.parametrize(
    ("available", "status"),
    [
        (-3, StockStatus.OUT_OF_STOCK),
        (0, StockStatus.OUT_OF_STOCK),
        (1, StockStatus.LOW_STOCK),
        (LOW_STOCK_AT, StockStatus.LOW_STOCK),
        (LOW_STOCK_AT + 1, StockStatus.IN_STOCK),
        (MAX_QUANTITY, StockStatus.IN_STOCK),
    ],
)
def test_status_thresholds(available: int, status: StockStatus) -> None:
    assert LOW_STOCK_AT == 5
    assert status_of(available) is status


def test_status_threshold_can_be_given() -> None:
    assert status_of(10, low_at=10) is StockStatus.LOW_STOCK
    assert status_of(11, low_at=10) is StockStatus.IN_STOCK
    assert status_of(1, low_at=0) is StockStatus.IN_STOCK


# ---------------------------------------------------------------- availability near a shopper

NOW = datetime(2024, 5, 1, tzinfo=UTC)
SHOPPER = GeoPoint(31.19, 121.44)


def place(
    code: str,
    lat: float,
    lon: float,
    *,
    pickup: bool = True,
    ships: bool = False,
    status: LocationStatus = LocationStatus.ACTIVE,
) -> Location:
    return Location(
        id=uuid4(),
        code=code,
        name=code,
        type=LocationType.WAREHOUSE if ships else LocationType.STORE,
        address="1 Test Rd",
        city="Shanghai",
        point=GeoPoint(lat, lon),
        timezone="Asia/Shanghai",
        opening_hours={},
        pickup_enabled=pickup,
        ships_online=ships,
        status=status,
        created_at=NOW,
        updated_at=NOW,
    )


NEAR = place("SH-B", 31.1880, 121.4365)  # ~0.4 km from the shopper
MID = place("SH-A", 31.2304, 121.4737)  # ~5.6 km
FAR = place("WH-1", 31.3800, 120.9800, pickup=False, ships=True)  # ~48 km
CLOSED = place("SH-C", 31.1900, 121.4400, status=LocationStatus.CLOSED)  # next door, closed
NETWORK = {loc.id: loc for loc in (NEAR, MID, FAR, CLOSED)}
VARIANT = uuid4()


def stock(location: Location, on_hand: int, reserved: int = 0, safety: int = 0) -> StockLevel:
    return StockLevel(location.id, VARIANT, on_hand, reserved, safety)


LEVELS = [stock(FAR, 100), stock(MID, 5), stock(CLOSED, 50), stock(NEAR, 9, reserved=9)]


def test_availability_lists_nearest_first_with_status_and_distance() -> None:
    rows = availability_near(LEVELS, NETWORK, SHOPPER, pickup_only=False, first=10)
    assert [(r.location.code, r.status, r.available) for r in rows] == [
        ("SH-B", StockStatus.OUT_OF_STOCK, 0),  # all of it reserved: listed, but out
        ("SH-A", StockStatus.LOW_STOCK, 5),
        ("WH-1", StockStatus.IN_STOCK, 100),
    ]
    distances = [r.distance_m if r.distance_m is not None else -1.0 for r in rows]
    assert min(distances) > 0
    assert distances == sorted(distances)
    assert 200 < distances[0] < 1_000 and 4_000 < distances[1] < 7_000


def test_availability_pickup_only_drops_locations_without_pickup() -> None:
    rows = availability_near(LEVELS, NETWORK, SHOPPER, pickup_only=True, first=10)
    assert [r.location.code for r in rows] == ["SH-B", "SH-A"]


def test_availability_excludes_closed_and_unknown_locations() -> None:
    stranger = StockLevel(uuid4(), VARIANT, 30, 0, 0)  # a location not in the active network
    rows = availability_near([*LEVELS, stranger], NETWORK, SHOPPER, pickup_only=False, first=10)
    assert "SH-C" not in [r.location.code for r in rows]
    assert len(rows) == 3


def test_availability_without_a_point_is_by_code_and_first_cuts() -> None:
    rows = availability_near(LEVELS, NETWORK, None, pickup_only=False, first=10)
    assert [r.location.code for r in rows] == ["SH-A", "SH-B", "WH-1"]
    assert all(r.distance_m is None for r in rows)
    near_two = availability_near(LEVELS, NETWORK, SHOPPER, pickup_only=False, first=2)
    assert [r.location.code for r in near_two] == ["SH-B", "SH-A"]
    assert availability_near(LEVELS, NETWORK, SHOPPER, pickup_only=False, first=0) == []
    assert availability_near([], NETWORK, SHOPPER, pickup_only=False, first=10) == []


# ---------------------------------------------------------------- what online can sell


async def test_online_totals_count_active_locations_that_ship() -> None:
    second_wh = place("WH-2", 30.0, 120.0, pickup=False, ships=True)
    closed_wh = place("WH-3", 30.0, 120.0, pickup=False, ships=True, status=LocationStatus.CLOSED)
    network = {**NETWORK, second_wh.id: second_wh, closed_wh.id: closed_wh}
    levels = [
        stock(FAR, 20, reserved=3, safety=2),  # 15
        stock(second_wh, 4, reserved=6),  # oversubscribed: 0, not -2
        stock(closed_wh, 50),  # closed
        stock(NEAR, 30),  # a store: does not ship
        stock(MID, 30),
        StockLevel(uuid4(), VARIANT, 40, 0, 0),  # unknown location
    ]
    other = uuid4()
    tables = Tables(levels={(lv.location_id, lv.variant_id): lv for lv in levels})
    totals = await totals_online(FakeInventory(tables), [VARIANT, other], network)
    assert totals == {VARIANT: 15, other: 0}
    assert [loc.code for loc in network.values() if sells_online(loc)] == ["WH-1", "WH-2"]


# ---------------------------------------------------------------- who may write stock

STORE_A, STORE_B = uuid4(), uuid4()


def person(role: StaffRole, stores: frozenset[UUID] = frozenset()) -> Principal:
    return Principal(kind=PrincipalKind.STAFF, id=uuid4(), role=role, store_ids=stores)


@pytest.mark.parametrize(
    ("actor", "at_a", "at_b"),
    [
        (person(StaffRole.ADMIN), True, True),
        (person(StaffRole.STORE_MANAGER, frozenset({STORE_A})), True, False),
        (person(StaffRole.STORE_CLERK, frozenset({STORE_A})), True, False),
        (person(StaffRole.CS_AGENT), False, False),
        (
            Principal(
                kind=PrincipalKind.API_KEY, id=uuid4(), scopes=frozenset({ApiScope.STOCK_WRITE})
            ),
            True,
            True,
        ),
        (
            Principal(
                kind=PrincipalKind.API_KEY, id=uuid4(), scopes=frozenset({ApiScope.STOCK_READ})
            ),
            False,
            False,
        ),
        (
            Principal(
                kind=PrincipalKind.DEVICE,
                id=uuid4(),
                store_ids=frozenset({STORE_A}),
                device_kind=DeviceKind.POS,
            ),
            False,
            False,
        ),
        (Principal(kind=PrincipalKind.MEMBER, id=uuid4()), False, False),
    ],
    ids=["admin", "manager", "clerk", "cs-agent", "stock-write", "stock-read", "pos", "member"],
)
def test_who_may_write_stock(actor: Principal, at_a: bool, at_b: bool) -> None:
    assert (can_write_stock(actor, STORE_A), can_write_stock(actor, STORE_B)) == (at_a, at_b)
