"""Whole results of catalog-only queries, kept with the catalog cache.

A shop's product lists are the same for every shopper until the catalog changes, and
executing one (20 products with their variants: some 600 fields) costs far more than
fetching it. A query whose every field reads only the catalog (`CATALOG_FIELDS`: products,
variants, categories, prices; not stock, not a product's `rating` or `reviews`, which change
without a catalog write, not anything of a member or an order) is answered
from the result of the same document with the same variables for the same kind of caller,
while the catalog cache's generation is unchanged (`infra.cache`: a catalog write forgets
it in this process at once, in the others within 0.1 s). Results with errors are never kept.
The kind of caller is whether they see archived items (`sees_archived`): nothing else in
these fields depends on who asks. Fields that do (`Variant.yourPrice`, a member's tier price;
`Variant.memberPrices`, changed without a catalog write) are left out, so a query selecting
them always runs.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    get_named_type,
)
from strawberry.extensions import SchemaExtension

from domain.catalog.services import sees_archived

CATALOG_FIELDS: dict[str, frozenset[str]] = {
    "Query": frozenset(
        {"products", "product", "variant", "variantByCode", "variantByBarcode", "categories"}
    ),
    "ProductConnection": frozenset({"edges", "pageInfo", "nodes"}),
    "ProductEdge": frozenset({"cursor", "node"}),
    "PageInfo": frozenset({"hasNextPage", "hasPreviousPage", "startCursor", "endCursor"}),
    "Node": frozenset({"id"}),
    "Product": frozenset(
        {
            "id",
            "name",
            "slug",
            "description",
            "status",
            "createdAt",
            "updatedAt",
            "variants",
            "category",
            "priceFrom",
            "names",
            "localizedName",
            "media",
        }
    ),
    "Variant": frozenset(
        {
            "id",
            "code",
            "barcode",
            "name",
            "price",
            "status",
            "attributes",
            "product",
            "names",
            "localizedName",
        }
    ),
    "Money": frozenset({"amount", "currency", "formatted"}),
    "Attribute": frozenset({"name", "value"}),
    "LocalizedName": frozenset({"locale", "value"}),
    "ProductMedia": frozenset({"id", "type", "url", "alt", "position"}),
    "Category": frozenset({"id", "name", "slug", "parent"}),
}
MAX_DOCUMENTS = 1024  # the verdicts kept; clients send a few documents over and over


def reads_only_catalog(
    schema: GraphQLSchema, document: DocumentNode, operation_name: str | None
) -> bool:
    """Whether the operation is a query all of whose fields are in CATALOG_FIELDS."""
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    chosen = [
        o
        for o in operations
        if operation_name is None or (o.name is not None and o.name.value == operation_name)
    ]
    if len(chosen) != 1 or chosen[0].operation is not OperationType.QUERY:
        return False
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    root = schema.query_type
    return root is not None and _only_catalog(schema, root.name, chosen[0].selection_set, fragments)


def _only_catalog(
    schema: GraphQLSchema,
    type_name: str,
    selections: SelectionSetNode,
    fragments: dict[str, FragmentDefinitionNode],
) -> bool:
    allowed = CATALOG_FIELDS.get(type_name, frozenset())
    parent = schema.get_type(type_name)
    for selection in selections.selections:
        if isinstance(selection, FieldNode):
            name = selection.name.value
            if name == "__typename":
                continue
            field = getattr(parent, "fields", {}).get(name) if name in allowed else None
            if field is None:
                return False
            if selection.selection_set is not None:
                child = get_named_type(field.type)
                if child is None or not _only_catalog(
                    schema, child.name, selection.selection_set, fragments
                ):
                    return False
        elif isinstance(selection, InlineFragmentNode):
            condition = selection.type_condition
            inner = condition.name.value if condition is not None else type_name
            if not _only_catalog(schema, inner, selection.selection_set, fragments):
                return False
        elif isinstance(selection, FragmentSpreadNode):
            fragment = fragments.get(selection.name.value)
            if fragment is None or not _only_catalog(
                schema, fragment.type_condition.name.value, fragment.selection_set, fragments
            ):
                return False
    return True


_verdicts: dict[tuple[str, str | None], bool] = {}


def _cacheable(schema: GraphQLSchema, query: str, document: DocumentNode, name: str | None) -> bool:
    key = (query, name)
    verdict = _verdicts.get(key)
    if verdict is None:
        if len(_verdicts) >= MAX_DOCUMENTS:
            _verdicts.clear()
        verdict = _verdicts[key] = reads_only_catalog(schema, document, name)
    return verdict


class CatalogResponses(SchemaExtension):
    async def on_execute(self) -> AsyncIterator[None]:
        ctx = self.execution_context
        context: Any = ctx.context
        document = ctx.graphql_document
        if (
            document is None
            or ctx.query is None
            or not _cacheable(ctx.schema._schema, ctx.query, document, ctx.operation_name)
        ):
            yield
            return
        cache = context.runtime.caches.catalog
        key = (
            "result",
            ctx.query,
            ctx.operation_name,
            json.dumps(ctx.variables, sort_keys=True, default=str) if ctx.variables else None,
            sees_archived(context.principal),
        )
        generation = await cache.generation()
        hit, data = cache.lookup(key, generation)
        if hit:
            ctx.result = ExecutionResult(data=data, errors=None)
            yield
            return
        yield
        result = ctx.result
        if isinstance(result, ExecutionResult) and not result.errors and result.data is not None:
            cache.store(key, result.data, generation)
