"""How failures reach clients.

- Expected failures of a mutation: the payload's `errors`, typed per context (`CatalogError`
  with a `CatalogErrorCode`, ...), all implementing the `UserError` interface.
- Failures before a resolver runs (no or bad token, missing permission, malformed query,
  limits): top-level errors with `extensions.code`.
- Anything unexpected: masked as "Internal error" with the request id; the trace is logged.
"""

from __future__ import annotations

import logging
from enum import Enum
from typing import Any

import strawberry
from graphql import GraphQLError

from domain import errors as d

log = logging.getLogger("omnishelf.api")


for _codes in (
    d.AuthErrorCode,
    d.CatalogErrorCode,
    d.LocationErrorCode,
    d.MemberErrorCode,
    d.InventoryErrorCode,
    d.OrderErrorCode,
    d.PointsErrorCode,
    d.SubscriptionErrorCode,
):
    strawberry.enum(_codes)


@strawberry.interface(description="An expected failure: what went wrong, where, and a code.")
class UserError:
    field: list[str] | None = strawberry.field(
        description="Path to the input field at fault (e.g. ['variants', '0', 'code'])."
    )
    message: str


@strawberry.type
class AuthError(UserError):
    code: d.AuthErrorCode


@strawberry.type
class CatalogError(UserError):
    code: d.CatalogErrorCode


@strawberry.type
class LocationError(UserError):
    code: d.LocationErrorCode


@strawberry.type
class MemberError(UserError):
    code: d.MemberErrorCode


@strawberry.type
class InventoryError(UserError):
    code: d.InventoryErrorCode
    variant_id: strawberry.ID | None = strawberry.field(
        default=None, description="INSUFFICIENT_STOCK: the short variant."
    )
    available: int | None = strawberry.field(
        default=None, description="INSUFFICIENT_STOCK: what is available of it."
    )
    current_on_hand: int | None = strawberry.field(
        default=None, description="STALE_QUANTITY: on hand now."
    )


@strawberry.type(description="A pickup location that could cover the whole order instead.")
class PickupAlternative:
    location_id: strawberry.ID
    distance: float = strawberry.field(description="Metres from the store that was chosen.")


@strawberry.type
class OrderError(UserError):
    code: d.OrderErrorCode
    variant_id: strawberry.ID | None = strawberry.field(
        default=None, description="INSUFFICIENT_STOCK: the short variant."
    )
    available: int | None = strawberry.field(
        default=None, description="INSUFFICIENT_STOCK: what the store has of it."
    )
    alternatives: list[PickupAlternative] | None = strawberry.field(
        default=None, description="INSUFFICIENT_STOCK: nearby pickup locations that can cover it."
    )


@strawberry.type
class PointsError(UserError):
    code: d.PointsErrorCode


@strawberry.type
class SubscriptionError(UserError):
    code: d.SubscriptionErrorCode


CODES: dict[type, type[Enum]] = {
    SubscriptionError: d.SubscriptionErrorCode,
    PointsError: d.PointsErrorCode,
    OrderError: d.OrderErrorCode,
    InventoryError: d.InventoryErrorCode,
    MemberError: d.MemberErrorCode,
    AuthError: d.AuthErrorCode,
    CatalogError: d.CatalogErrorCode,
    LocationError: d.LocationErrorCode,
}


def user_error(error_type: type, error: d.DomainError) -> Any:
    """Convert a domain error (of the context or a common one) into the payload's error type."""
    codes = CODES[error_type]
    try:
        code = codes(error.code.value)
    except ValueError:  # a code of another context: report it as bad input, keep the message
        code = codes("INVALID_INPUT")
    return error_type(field=error.field, message=error.message, code=code)


class ApiError(GraphQLError):
    """A top-level error with a code, for failures outside any payload."""

    def __init__(self, code: str, message: str, **extensions: Any):
        super().__init__(message, extensions={"code": code, **extensions})
