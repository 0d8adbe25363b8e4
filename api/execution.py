"""The executor: graphql-core's, with a shorter path for plain leaf fields.

Most fields of a list page are plain attributes (`id`, `name`, `quantity`): strawberry
resolves them with `getattr`, but graphql-core first builds a `GraphQLResolveInfo` for each
and goes through its general completion. `execute_field` below reads such a field and coerces
it directly, and so does a lean field's `ready` value (`api/lean.py`: a `totalAvailable` the
product page loaded). Anything else, and any value the short path would not accept as is (a
null, a value the scalar refuses), takes graphql-core's own path, which produces the errors.
"""

from __future__ import annotations

from operator import attrgetter
from typing import Any

from graphql import (
    GraphQLField,
    GraphQLLeafType,
    GraphQLNonNull,
    GraphQLObjectType,
    Undefined,
    is_leaf_type,
)
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from api.lean import READY

_NOT_PLAIN = object()
NO_INFO: Any = None
_PLAIN = "omnishelf-plain"  # the field's extension caching what `_plain_leaf` found


def _plain_leaf(field: GraphQLField) -> Any:
    """(read, its scalar or object type) when the field's value can be read off its source: an
    attribute strawberry would resolve by `getattr` alone, or a lean field's `ready` value
    (None: not loaded, resolve it). Found once per field, kept in its extensions."""
    extensions = field.extensions or {}
    if _PLAIN in extensions:
        return extensions[_PLAIN]
    definition = extensions.get("strawberry-definition")
    outer = field.type
    non_null = isinstance(outer, GraphQLNonNull)
    inner = outer.of_type if isinstance(outer, GraphQLNonNull) else outer
    # An object only when non-null: an error inside it then goes to the parent whichever
    # path completed it (graphql-core would null a nullable field and go on).
    shape = is_leaf_type(inner) or (non_null and isinstance(inner, GraphQLObjectType))
    plain: Any = _NOT_PLAIN
    if not field.args and shape:
        if extensions.get(READY) is not None:
            plain = (extensions[READY], inner)
        elif (
            definition is not None
            and getattr(definition, "is_basic_field", False)
            and getattr(field.resolve, "_is_default", False)
        ):
            plain = (attrgetter(definition.python_name), inner)
    field.extensions = {**extensions, _PLAIN: plain}  # the field's, gone with its schema
    return plain


class OmnishelfExecutionContext(StrawberryGraphQLCoreExecutionContext):
    def execute_field(
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: Any,
        path: Any,
        position_context: Any,
    ) -> Any:
        manager = self.middleware_manager
        if manager is None or not manager.middlewares:
            node = field_details_list[0].node
            field = self.schema.get_field(parent_type, node.name.value)
            if field is not None and not node.arguments:
                plain = _plain_leaf(field)
                if plain is not _NOT_PLAIN:
                    read, inner = plain
                    value = _read(read, source)
                    if value is None or self.is_awaitable(value):
                        pass
                    elif isinstance(inner, GraphQLObjectType):
                        # strawberry's is_type_of is an isinstance check; it reads no info
                        if inner.is_type_of is None or inner.is_type_of(value, NO_INFO):
                            return self.collect_and_execute_subfields(
                                inner, field_details_list, path, value, position_context
                            )
                    else:
                        coerced = _coerce(inner, value)
                        if coerced is not Undefined and coerced is not None:
                            return coerced
        return super().execute_field(
            parent_type, source, field_details_list, path, position_context
        )


def _read(read: Any, source: Any) -> Any:
    try:
        return read(source)
    except AttributeError:  # graphql-core's path reports it
        return None


def _coerce(leaf: GraphQLLeafType, value: Any) -> Any:
    try:
        return leaf.coerce_output_value(value)
    except Exception:  # graphql-core's path reports it, located
        return Undefined
