"""How failures reach clients.

- Expected failures of a mutation: the payload's `errors`, typed per context
  (`CatalogUserError` with a `CatalogErrorCode`, ...), all implementing the `UserError`
  interface. `from_domain` turns a domain error into the list a payload carries; a context whose
  errors carry more than code, field and message (a shortage names its variants) overrides it.
- Failures before a resolver runs (no or bad token, missing permission, malformed query,
  limits): top-level errors with `extensions.code`.
- Anything unexpected: masked as "Internal error" with the request id; the trace is logged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from enum import Enum
from typing import Self, TypeVar

import strawberry
from graphql import GraphQLError

from api.relay import encode_id
from domain import errors as d
from domain.inventory.model import InsufficientStock, StaleQuantity
from domain.ordering.checkout import PickupShortage

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
    d.AfterSaleErrorCode,
    d.PromotionErrorCode,
    d.GrowthErrorCode,
    d.EngagementErrorCode,
):
    strawberry.enum(_codes)


@strawberry.interface(description="An expected failure: what went wrong, where, and a code.")
class UserError:
    field: list[str] | None = strawberry.field(
        description="Path to the input field at fault (e.g. ['variants', '0', 'code'])."
    )
    message: str

    @classmethod
    def from_domain(cls, error: d.DomainError) -> list[Self]:
        """The payload's errors for one domain error: by default one, with the same code."""
        return [user_error(cls, error)]


@strawberry.type
class AuthUserError(UserError):
    code: d.AuthErrorCode


@strawberry.type
class CatalogUserError(UserError):
    code: d.CatalogErrorCode


@strawberry.type
class LocationUserError(UserError):
    code: d.LocationErrorCode


@strawberry.type
class MemberUserError(UserError):
    code: d.MemberErrorCode


@strawberry.type
class PromotionUserError(UserError):
    code: d.PromotionErrorCode


@strawberry.type
class GrowthUserError(UserError):
    code: d.GrowthErrorCode


@strawberry.type
class InventoryUserError(UserError):
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

    @classmethod
    def from_domain(cls, error: d.DomainError) -> list[Self]:
        """A shortage is one error per short line, naming the variant and what is there."""
        if isinstance(error, InsufficientStock):
            return [
                cls(
                    code=d.InventoryErrorCode.INSUFFICIENT_STOCK,
                    field=["lines"],
                    message=f"Only {s.available} available; {s.requested} requested.",
                    variant_id=encode_id("Variant", s.variant_id),
                    available=s.available,
                )
                for s in error.shortages
            ]
        converted = user_error(cls, error)
        if isinstance(error, StaleQuantity):
            converted.current_on_hand = error.current_on_hand
        return [converted]


@strawberry.type(description="A pickup location that could cover the whole order instead.")
class PickupAlternative:
    location_id: strawberry.ID
    distance: float = strawberry.field(description="Metres from the store that was chosen.")


@strawberry.type
class OrderUserError(UserError):
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

    @classmethod
    def from_domain(cls, error: d.DomainError) -> list[Self]:
        """A store that cannot cover the order: one error per short line, each with the
        nearby pickup locations that could."""
        if not isinstance(error, PickupShortage):
            return [user_error(cls, error)]
        alternatives = [
            PickupAlternative(
                location_id=encode_id("Location", a.location_id), distance=round(a.distance_m, 1)
            )
            for a in error.alternatives
        ]
        return [
            cls(
                code=d.OrderErrorCode.INSUFFICIENT_STOCK,
                field=["lines"],
                message=f"The store has {s.available}; {s.requested} requested.",
                variant_id=encode_id("Variant", s.variant_id),
                available=s.available,
                alternatives=alternatives,
            )
            for s in error.shortages
        ]


@strawberry.type
class PointsUserError(UserError):
    code: d.PointsErrorCode


@strawberry.type
class SubscriptionUserError(UserError):
    code: d.SubscriptionErrorCode


@strawberry.type
class AfterSaleUserError(UserError):
    code: d.AfterSaleErrorCode


@strawberry.type
class EngagementUserError(UserError):
    code: d.EngagementErrorCode


CODES: dict[type[UserError], type[Enum]] = {
    EngagementUserError: d.EngagementErrorCode,
    GrowthUserError: d.GrowthErrorCode,
    PromotionUserError: d.PromotionErrorCode,
    AfterSaleUserError: d.AfterSaleErrorCode,
    SubscriptionUserError: d.SubscriptionErrorCode,
    PointsUserError: d.PointsErrorCode,
    OrderUserError: d.OrderErrorCode,
    InventoryUserError: d.InventoryErrorCode,
    MemberUserError: d.MemberErrorCode,
    AuthUserError: d.AuthErrorCode,
    CatalogUserError: d.CatalogErrorCode,
    LocationUserError: d.LocationErrorCode,
}

E = TypeVar("E", bound=UserError)


def user_error(error_type: type[E], error: d.DomainError) -> E:
    """Convert a domain error (of the context or a common one) into the payload's error type."""
    codes = CODES[error_type]
    try:
        code = codes(error.code.value)
    except ValueError:  # a code of another context: report it as bad input, keep the message
        code = codes("INVALID_INPUT")
    # Each concrete type adds its own `code` field, which the interface cannot declare.
    make: Callable[..., E] = error_type
    return make(field=error.field, message=error.message, code=code)


class ApiError(GraphQLError):
    """A top-level error with a code, for failures outside any payload."""

    def __init__(self, code: str, message: str, **extensions: object):
        super().__init__(message, extensions={"code": code, **extensions})
