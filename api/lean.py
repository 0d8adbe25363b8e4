"""Lean resolvers: hot fields that graphql-core calls directly.

Strawberry wraps every resolver it calls: it converts the arguments, builds an `Info`, runs
the field's extensions. For a field without arguments, permissions or extensions that is all
overhead, and on a list page it is paid per item: a product page with stock resolved 100
`totalAvailable`s, a quarter of the request's CPU in the wrapper alone. Such a field keeps
its strawberry resolver (the schema, its type and description, come from it) and registers
the same function here, `fn(source, context)`; `install` hands it to graphql-core.

Both call one function, so the lean path cannot drift from strawberry's. `install` refuses a
field that takes arguments or has permission classes or extensions, which the lean path
would skip.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import strawberry
from graphql import GraphQLObjectType, GraphQLResolveInfo

LeanResolver = Callable[[Any, Any], object]  # (source, request context) -> value or awaitable
Ready = Callable[[Any], object]  # source -> the value when a list loaded it already, else None
F = TypeVar("F", bound=LeanResolver)

READY = "omnishelf-ready"  # the GraphQL field's extension that holds its `ready` function
_LEAN: dict[tuple[str, str], tuple[LeanResolver, Ready | None]] = {}


def lean(type_name: str, field_name: str, *, ready: Ready | None = None) -> Callable[[F], F]:
    """Register `fn(source, context)` as the resolver of `type_name.field_name`. `ready` gives
    the value without a resolver call when the list above loaded it, else None
    (`api/execution.py` then completes the field like a plain attribute)."""

    def register(fn: F) -> F:
        _LEAN[(type_name, field_name)] = (fn, ready)
        return fn

    return register


def _direct(fn: LeanResolver) -> Callable[[Any, GraphQLResolveInfo[Any]], object]:
    def resolve(source: Any, info: GraphQLResolveInfo[Any]) -> object:
        return fn(source, info.context)

    return resolve


def install(schema: strawberry.Schema) -> None:
    for (type_name, field_name), (fn, ready) in _LEAN.items():
        graphql_type = schema._schema.type_map[type_name]
        assert isinstance(graphql_type, GraphQLObjectType)
        field = graphql_type.fields[field_name]
        definition = schema.get_type_by_name(type_name)
        wrapped = next(
            f
            for f in getattr(definition, "fields", [])
            if schema.config.name_converter.get_graphql_name(f) == field_name
        )
        if field.args or wrapped.permission_classes or wrapped.extensions:
            raise TypeError(f"{type_name}.{field_name} takes arguments or extensions: not lean")
        field.resolve = _direct(fn)
        if ready is not None:
            field.extensions = {**(field.extensions or {}), READY: ready}
