"""Ordering rules as pure functions (no database): the state machine of pickup and delivery
orders, the status groups, reservation owners, who may read or work an order, and the
checkout input rules."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from uuid import UUID, uuid4

import pytest

from domain.errors import OrderError, OrderErrorCode
from domain.identity.model import ApiScope, DeviceKind, Principal, PrincipalKind, StaffRole
from domain.inventory.model import StockLine
from domain.ordering.checkout import Checkout, DeliveryTo, _validate, order_number
from domain.ordering.model import (
    HOLDS_STOCK,
    MAX_LINE_NAME,
    MEMBER_MAY_CANCEL,
    OPEN,
    PAID_STATES,
    TRANSITIONS,
    Fulfilment,
    Order,
    OrderLine,
    OrderStatus,
    SalesChannel,
    check_transition,
    line_name,
    order_id_of,
    pickup_number,
    reservation_owner,
)
from domain.ordering.services import is_cs, is_store_staff, may_read, sees_store_orders

S = OrderStatus
PICKUP, DELIVERY = Fulfilment.PICKUP, Fulfilment.DELIVERY

# The specification, written out independently of domain.ordering.model.
LEGAL: set[tuple[Fulfilment, OrderStatus, OrderStatus]] = {
    (PICKUP, S.PENDING_PAYMENT, S.PAID),
    (PICKUP, S.PENDING_PAYMENT, S.CANCELLED),
    (PICKUP, S.PAID, S.PREPARING),
    (PICKUP, S.PAID, S.CANCELLED),
    (PICKUP, S.PREPARING, S.READY_FOR_PICKUP),
    (PICKUP, S.PREPARING, S.CANCELLED),
    (PICKUP, S.READY_FOR_PICKUP, S.PICKED_UP),
    (PICKUP, S.READY_FOR_PICKUP, S.UNCLAIMED),
    (PICKUP, S.READY_FOR_PICKUP, S.CANCELLED),
    (DELIVERY, S.PENDING_PAYMENT, S.PAID),
    (DELIVERY, S.PENDING_PAYMENT, S.CANCELLED),
    (DELIVERY, S.PAID, S.PREPARING),
    (DELIVERY, S.PAID, S.SHIPPED),
    (DELIVERY, S.PAID, S.CANCELLED),
    (DELIVERY, S.PREPARING, S.SHIPPED),
    (DELIVERY, S.PREPARING, S.CANCELLED),
    (DELIVERY, S.SHIPPED, S.DELIVERED),
}
EVERY_STEP = list(itertools.product(Fulfilment, OrderStatus, OrderStatus))


# ---------------------------------------------------------------- the state machine


def test_the_transition_table_is_exactly_the_specification() -> None:
    table = {
        (fulfilment, frm, to)
        for fulfilment, steps in TRANSITIONS.items()
        for frm, targets in steps.items()
        for to in targets
    }
    assert table == LEGAL


@pytest.mark.parametrize(
    ("fulfilment", "frm", "to"), sorted(LEGAL), ids=lambda x: getattr(x, "value", str(x))
)
def test_legal_steps_pass(fulfilment: Fulfilment, frm: OrderStatus, to: OrderStatus) -> None:
    check_transition(fulfilment, frm, to)


@pytest.mark.parametrize(
    ("fulfilment", "frm", "to"),
    [step for step in EVERY_STEP if step not in LEGAL],
    ids=lambda x: getattr(x, "value", str(x)),
)
def test_every_other_step_is_an_illegal_transition(
    fulfilment: Fulfilment, frm: OrderStatus, to: OrderStatus
) -> None:
    with pytest.raises(OrderError) as raised:
        check_transition(fulfilment, frm, to)
    assert raised.value.code is OrderErrorCode.ILLEGAL_TRANSITION
    assert raised.value.field == ["orderId"]
    assert frm.value in raised.value.message and to.value in raised.value.message


@pytest.mark.parametrize(
    "final", [S.PICKED_UP, S.DELIVERED, S.CANCELLED, S.UNCLAIMED], ids=lambda s: s.value
)
def test_final_states_go_nowhere(final: OrderStatus) -> None:
    for fulfilment, target in itertools.product(Fulfilment, OrderStatus):
        with pytest.raises(OrderError):
            check_transition(fulfilment, final, target)


def test_the_kinds_of_order_have_their_own_steps() -> None:
    # Only pickup orders are ever ready, picked up or unclaimed; only delivery orders ship.
    pickup_targets = {to for f, _, to in LEGAL if f is PICKUP}
    delivery_targets = {to for f, _, to in LEGAL if f is DELIVERY}
    assert {S.READY_FOR_PICKUP, S.PICKED_UP, S.UNCLAIMED}.isdisjoint(delivery_targets)
    assert {S.SHIPPED, S.DELIVERED}.isdisjoint(pickup_targets)
    # A shipped order is no longer cancelled: the goods are on their way.
    with pytest.raises(OrderError):
        check_transition(DELIVERY, S.SHIPPED, S.CANCELLED)


def test_the_status_groups() -> None:
    assert {S.PENDING_PAYMENT, S.PAID, S.PREPARING, S.READY_FOR_PICKUP, S.SHIPPED} == OPEN
    assert {S.PENDING_PAYMENT, S.PAID, S.PREPARING, S.READY_FOR_PICKUP} == HOLDS_STOCK
    assert {S.PAID, S.PREPARING, S.READY_FOR_PICKUP, S.SHIPPED} == PAID_STATES
    assert {S.PENDING_PAYMENT, S.PAID, S.PREPARING} == MEMBER_MAY_CANCEL
    # Whatever the member may cancel, the state machine allows cancelling.
    for fulfilment, status in itertools.product(Fulfilment, MEMBER_MAY_CANCEL):
        check_transition(fulfilment, status, S.CANCELLED)
    # Every open state but SHIPPED still holds stock (a shipped order's stock is committed).
    assert {S.SHIPPED} == OPEN - HOLDS_STOCK


# ---------------------------------------------------------------- reservation owners


def test_a_reservation_owner_names_its_order_and_back() -> None:
    order_id = uuid4()
    owner = reservation_owner(order_id)
    assert owner == f"order:{order_id}"
    assert order_id_of(owner) == order_id
    assert _order(order_id=order_id).reservation_owner == owner


@pytest.mark.parametrize(
    "owner",
    ["", "order", "order:", "order:not-a-uuid", f"cart:{uuid4()}", f"ORDER:{uuid4()}x", ":"],
)
def test_other_owners_name_no_order(owner: str) -> None:
    assert order_id_of(owner) is None


def test_an_owner_of_another_context_is_not_an_order() -> None:
    assert order_id_of(f"transfer:{uuid4()}") is None


# ---------------------------------------------------------------- who may read or work an order

STORE_A, STORE_B = uuid4(), uuid4()


def _staff(role: StaffRole, *stores: UUID) -> Principal:
    return Principal(PrincipalKind.STAFF, uuid4(), role=role, store_ids=frozenset(stores))


def _device(kind: DeviceKind, store: UUID) -> Principal:
    return Principal(PrincipalKind.DEVICE, uuid4(), store_ids=frozenset({store}), device_kind=kind)


def _member(member_id: UUID | None = None) -> Principal:
    return Principal(PrincipalKind.MEMBER, member_id or uuid4())


def _order(
    *, order_id: UUID | None = None, member_id: UUID | None = None, location_id: UUID = STORE_A
) -> Order:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    return Order(
        id=order_id or uuid4(),
        number="ABC1230001",
        member_id=member_id,
        channel=SalesChannel.MINI_PROGRAM,
        fulfilment=PICKUP,
        location_id=location_id,
        status=S.PAID,
        currency="CNY",
        total=3980,
        note="",
        created_at=now,
        updated_at=now,
        payment_deadline=None,
    )


def test_store_staff_work_their_own_stores_only() -> None:
    assert is_store_staff(_staff(StaffRole.STORE_MANAGER, STORE_A), STORE_A)
    assert is_store_staff(_staff(StaffRole.STORE_CLERK, STORE_A, STORE_B), STORE_B)
    assert not is_store_staff(_staff(StaffRole.STORE_MANAGER, STORE_B), STORE_A)
    assert not is_store_staff(_staff(StaffRole.STORE_CLERK), STORE_A)
    assert is_store_staff(_device(DeviceKind.POS, STORE_A), STORE_A)
    assert not is_store_staff(_device(DeviceKind.POS, STORE_B), STORE_A)
    # ADMIN works every store; CS reads orders but does not work a store's counter.
    assert is_store_staff(_staff(StaffRole.ADMIN), STORE_A)
    assert not is_store_staff(_staff(StaffRole.CS_AGENT), STORE_A)
    assert not is_store_staff(_staff(StaffRole.CS_AGENT, STORE_A), STORE_A)
    assert not is_store_staff(_member(), STORE_A)
    key = Principal(PrincipalKind.API_KEY, uuid4(), scopes=frozenset(ApiScope))
    assert not is_store_staff(key, STORE_A)


def test_who_sees_a_stores_board_and_queue() -> None:
    """The board and the queue: the store's staff and all its devices, the kiosk included
    (it shows orders; it does not work them, so `is_store_staff` stays False for it)."""
    kiosk = _device(DeviceKind.KIOSK, STORE_A)
    assert sees_store_orders(kiosk, STORE_A) and not is_store_staff(kiosk, STORE_A)
    for insider in (
        _staff(StaffRole.STORE_MANAGER, STORE_A),
        _staff(StaffRole.STORE_CLERK, STORE_A),
        _device(DeviceKind.POS, STORE_A),
        _staff(StaffRole.ADMIN),
    ):
        assert sees_store_orders(insider, STORE_A), insider
    for outsider in (
        _device(DeviceKind.KIOSK, STORE_B),
        _staff(StaffRole.STORE_CLERK, STORE_B),
        _staff(StaffRole.CS_AGENT, STORE_A),
        _member(),
        Principal(PrincipalKind.API_KEY, uuid4(), scopes=frozenset(ApiScope)),
    ):
        assert not sees_store_orders(outsider, STORE_A), outsider


def test_is_cs() -> None:
    assert is_cs(_staff(StaffRole.CS_AGENT))
    assert is_cs(_staff(StaffRole.ADMIN))
    assert not is_cs(_staff(StaffRole.STORE_MANAGER, STORE_A))
    assert not is_cs(_member())
    assert not is_cs(Principal(PrincipalKind.API_KEY, uuid4(), scopes=frozenset(ApiScope)))


def test_who_may_read_an_order() -> None:
    owner = uuid4()
    order = _order(member_id=owner)
    readers = [
        _member(owner),
        _staff(StaffRole.STORE_MANAGER, STORE_A),
        _staff(StaffRole.STORE_CLERK, STORE_A),
        _staff(StaffRole.CS_AGENT),
        _staff(StaffRole.ADMIN),
        _device(DeviceKind.POS, STORE_A),
        Principal(PrincipalKind.API_KEY, uuid4(), scopes=frozenset({ApiScope.ORDERS_READ})),
    ]
    outsiders = [
        None,
        _member(),
        _staff(StaffRole.STORE_MANAGER, STORE_B),
        _device(DeviceKind.POS, STORE_B),
        Principal(
            PrincipalKind.API_KEY, uuid4(), scopes=frozenset(ApiScope) - {ApiScope.ORDERS_READ}
        ),
    ]
    assert [may_read(p, order) for p in readers] == [True] * len(readers)
    assert [may_read(p, order) for p in outsiders] == [False] * len(outsiders)


def test_a_walk_in_order_is_read_by_no_member() -> None:
    walk_in = _order(member_id=None)
    assert not may_read(_member(), walk_in)
    assert may_read(_staff(StaffRole.STORE_CLERK, STORE_A), walk_in)


def test_a_member_id_never_opens_an_order_by_store() -> None:
    """A member principal whose id happens to equal the store id gets nothing from it."""
    order = _order(member_id=uuid4(), location_id=STORE_A)
    assert not may_read(Principal(PrincipalKind.MEMBER, STORE_A), order)
    assert not may_read(
        Principal(PrincipalKind.MEMBER, uuid4(), store_ids=frozenset({STORE_A})), order
    )


# ---------------------------------------------------------------- lines, totals, numbers


def test_line_totals_and_the_order_number() -> None:
    line = OrderLine(uuid4(), uuid4(), uuid4(), "M-1", "Mango 1kg", 1990, 3)
    assert line.total == 5970
    # Read out at the counter: upper-case letters and digits, and it fits its column (20).
    for _ in range(50):
        number = order_number(uuid4())
        assert number.isalnum() and number == number.upper() and len(number) <= 20, number


def test_a_line_is_named_without_repeating_the_product() -> None:
    assert line_name("Mango Juice", "500ml") == "Mango Juice 500ml"
    assert line_name("Mango Juice", "Mango Juice 500ml") == "Mango Juice 500ml"
    assert line_name("Mango Juice", "mango juice 500ml") == "mango juice 500ml"
    assert line_name("Mango Juice", "Iced Mango Juice (L)") == "Iced Mango Juice (L)"
    assert line_name("芒果汁", "芒果汁 500ml") == "芒果汁 500ml"
    assert line_name("芒果汁", "大杯") == "芒果汁 大杯"
    assert line_name("Mango Juice", "Mango Juice") == "Mango Juice"
    assert line_name("Mango Juice", "  ") == "Mango Juice"
    assert len(line_name("x" * 200, "y" * 200)) == MAX_LINE_NAME


def test_pickup_numbers_are_short_and_count_through_the_series() -> None:
    assert [pickup_number(n) for n in (1, 23, 999, 1000, 1998, 1999)] == [
        "A001",
        "A023",
        "A999",
        "B001",
        "B999",
        "C001",
    ]
    last = 24 * 999
    assert pickup_number(last) == "Z999"
    assert pickup_number(last + 1) == f"#{last + 1}"  # a day no store has; still unique
    numbers = [pickup_number(n) for n in range(1, last + 50)]
    assert len(set(numbers)) == len(numbers)
    assert all(len(n) <= 8 and "I" not in n and "O" not in n for n in numbers)  # its column
    with pytest.raises(ValueError):
        pickup_number(0)


# ---------------------------------------------------------------- checkout input


def _checkout(**changes: object) -> Checkout:
    values: dict[str, object] = {
        "channel": SalesChannel.MINI_PROGRAM,
        "lines": [StockLine(uuid4(), 1)],
        "member_id": uuid4(),
        "pickup_location_id": STORE_A,
    }
    values.update(changes)
    return Checkout(**values)  # type: ignore[arg-type]


def _refused(checkout: Checkout) -> tuple[OrderErrorCode, list[str] | None]:
    with pytest.raises(OrderError) as raised:
        _validate(checkout)
    return raised.value.code, raised.value.field


DELIVER = DeliveryTo("88 Nanjing Road", 31.23, 121.47)


def test_checkout_needs_exactly_one_fulfilment() -> None:
    both = _checkout(delivery=DELIVER)
    neither = _checkout(pickup_location_id=None)
    for checkout in (both, neither):
        assert _refused(checkout) == (OrderErrorCode.INVALID_INPUT, ["fulfilment"])
    _validate(_checkout())
    _validate(_checkout(pickup_location_id=None, delivery=DELIVER))


@pytest.mark.parametrize("quantity", [0, -5, 100, 10_000])
def test_checkout_quantities_are_1_to_99(quantity: int) -> None:
    lines = [StockLine(uuid4(), 1), StockLine(uuid4(), quantity)]
    assert _refused(_checkout(lines=lines)) == (
        OrderErrorCode.INVALID_INPUT,
        ["lines", "1", "quantity"],
    )


def test_checkout_lines_are_sorted_each_variant_once() -> None:
    ids = sorted(uuid4() for _ in range(3))
    lines = [StockLine(ids[2], 1), StockLine(ids[0], 2), StockLine(ids[1], 3)]
    assert [x.variant_id for x in _validate(_checkout(lines=lines))] == ids
    twice = [StockLine(ids[0], 1), StockLine(ids[1], 1), StockLine(ids[0], 2)]
    code, field = _refused(_checkout(lines=twice))
    assert code is OrderErrorCode.INVALID_INPUT and field == ["lines", "2", "variantId"]
    assert _refused(_checkout(lines=[]))[0] is OrderErrorCode.INVALID_INPUT
    many = [StockLine(uuid4(), 1) for _ in range(51)]
    assert _refused(_checkout(lines=many)) == (OrderErrorCode.TOO_MANY_ITEMS, ["lines"])


def test_checkout_note_and_delivery_rules() -> None:
    assert _refused(_checkout(note="x" * 501)) == (OrderErrorCode.INVALID_INPUT, ["note"])
    _validate(_checkout(note="x" * 500))
    for address in ("", "  ab  ", "x" * 301):
        short = _checkout(pickup_location_id=None, delivery=DeliveryTo(address, 31.2, 121.4))
        assert _refused(short) == (
            OrderErrorCode.INVALID_INPUT,
            ["fulfilment", "delivery", "address"],
        )
    walk_in = _checkout(pickup_location_id=None, delivery=DELIVER, member_id=None)
    assert _refused(walk_in) == (OrderErrorCode.INVALID_INPUT, ["memberId"])
    # A walk-in may pick up in store.
    _validate(_checkout(member_id=None))
