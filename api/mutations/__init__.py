"""Mutations, one module per context; each resolver decodes its input, calls one use case and
maps the result, in one shape (docs/architecture.md, "Mutations"):

    return await mutate(
        OrderPayload,
        OrderUserError,
        lambda: lifecycle.ship_order(deps, actor, _order_id(input.order_id)),
        lambda order: OrderPayload(order=Order.from_domain(order)),
    )

Decode ids inside the use case's lambda: a bad id is a domain error too (INVALID_ID) and lands
in the payload like the others. `TextInputs` (api/mutation_guards.py) refuses bad text with the
same `refuse` before the resolver runs; `RetryTransient` runs the whole resolver again after a
lost deadlock."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

from strawberry.types import Info

from api.context import Context
from api.errors import UserError
from domain.errors import DomainError
from domain.identity.model import Principal

T = TypeVar("T")
P = TypeVar("P")
P_co = TypeVar("P_co", covariant=True)
E = TypeVar("E", bound=UserError)


class Payload(Protocol[P_co, E]):
    """A payload type: every field but `errors` has a default (empty on failure)."""

    def __call__(self, *, errors: list[E]) -> P_co: ...


def refuse(payload: Payload[P, E], error_type: type[E], error: DomainError) -> P:
    """The payload of a refused mutation: its typed errors (`error_type.from_domain`), nothing
    else."""
    return payload(errors=error_type.from_domain(error))


async def mutate(
    payload: Payload[P, E],
    error_type: type[E],
    use_case: Callable[[], Awaitable[T]],
    present: Callable[[T], P],
) -> P:
    """Run one use case; its result becomes the payload (`present`), an expected failure the
    payload's typed errors. Anything else is unexpected and propagates (masked, logged)."""
    try:
        result = await use_case()
    except DomainError as error:
        return refuse(payload, error_type, error)
    return present(result)


def actor(info: Info[Context, object]) -> Principal:
    """The caller of a mutation whose permission class demanded one."""
    principal = info.context.principal
    assert principal is not None  # the permission class ran first
    return principal
