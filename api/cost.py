"""A static cost estimate of an operation: objects fetched, multiplied through list sizes.

Each object-typed field costs 1; its children count once per item it can return: `first`
(or the default page size) for connections, LIST_GUESS for plain lists. Scalars are free.
"""

from __future__ import annotations

from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    get_named_type,
    value_from_ast_untyped,
)

from domain.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE

LIST_GUESS = 10


def _is_list(type_: Any) -> bool:
    while isinstance(type_, GraphQLNonNull):
        type_ = type_.of_type
    return isinstance(type_, GraphQLList)


class CostEstimator:
    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: dict[str, FragmentDefinitionNode],
        variables: dict[str, Any],
    ):
        self.schema = schema
        self.fragments = fragments
        self.variables = variables

    def _first(self, node: FieldNode) -> int | None:
        for argument in node.arguments or ():
            if argument.name.value != "first":
                continue
            if isinstance(argument.value, VariableNode):
                value = self.variables.get(argument.value.name.value)
            else:
                value = value_from_ast_untyped(argument.value)
            if isinstance(value, int):
                return max(0, min(value, MAX_PAGE_SIZE))
        return None

    def selection_cost(
        self, selection_set: SelectionSetNode | None, parent: Any, depth: int = 0
    ) -> int:
        if selection_set is None or depth > 50:
            return 0
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                total += self._field_cost(selection, parent, depth)
            elif isinstance(selection, InlineFragmentNode):
                cond = selection.type_condition
                target = self.schema.get_type(cond.name.value) if cond else parent
                total += self.selection_cost(selection.selection_set, target, depth + 1)
            elif isinstance(selection, FragmentSpreadNode):
                fragment = self.fragments.get(selection.name.value)
                if fragment is not None:
                    target = self.schema.get_type(fragment.type_condition.name.value)
                    total += self.selection_cost(fragment.selection_set, target, depth + 1)
        return total

    def _field_cost(self, node: FieldNode, parent: Any, depth: int) -> int:
        if not isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
            return 0
        definition = parent.fields.get(node.name.value)
        if definition is None or node.selection_set is None:
            return 0
        named = get_named_type(definition.type)
        children = self.selection_cost(node.selection_set, named, depth + 1)
        first = self._first(node)
        if first is not None:
            multiplier = first
        elif named.name.endswith("Connection"):
            multiplier = DEFAULT_PAGE_SIZE
        elif _is_list(definition.type):
            multiplier = LIST_GUESS
        else:
            multiplier = 1
        return 1 + multiplier * children


def estimate(
    schema: GraphQLSchema,
    operation: OperationDefinitionNode,
    fragments: dict[str, FragmentDefinitionNode],
    variables: dict[str, Any] | None,
) -> int:
    root = schema.get_root_type(operation.operation)
    return CostEstimator(schema, fragments, variables or {}).selection_cost(
        operation.selection_set, root
    )
