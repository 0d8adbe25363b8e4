"""The operations a client build will send, read from files for `omnishelf persisted-queries add`.

- A `.graphql` file (or `.gql`): each operation becomes one document, followed by the
  fragments it spreads (transitively, in the file's order), printed as graphql-js `print`
  does, with `__typename` added the way Apollo Client's InMemoryCache adds it (to every
  selection set but an operation's own, unless one already asks for it or for another
  `__` field). That is the text Apollo Client sends and hashes. `typename=False` leaves the
  selections as written (clients without a normalising cache). Fragments are looked up
  across all the files of one `add`.
- A JSON manifest: Apollo's (`@apollo/generate-persisted-query-manifest`: `{"format":
  "apollo-persisted-query-manifest", "version": 1, "operations": [{"id", "name", "body"}]}`)
  or a plain `{"<sha256>": "<document>"}` map (graphql-codegen's persisted documents). Bodies
  are taken as they are: the generator ran the client's own transforms. Each id must be the
  body's SHA-256 (the generators' default), since that is what the client sends.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLSyntaxError,
    NameNode,
    Node,
    OperationDefinitionNode,
    SelectionSetNode,
    parse,
    print_ast,
)
from graphql.language.block_string import print_block_string
from graphql.language.print_string import print_string

from infra.persisted_queries import Operation, sha256_hex

MANIFEST_FORMAT = "apollo-persisted-query-manifest"


class PersistedFileError(ValueError):
    """A file that cannot be registered; the message names the file and what is wrong."""


def operations_in(paths: Sequence[Path], *, typename: bool = True) -> list[Operation]:
    """Every operation of the files, or PersistedFileError (then none is registered)."""
    operations: list[Operation] = []
    sources: list[tuple[Path, DocumentNode]] = []
    for path in paths:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise PersistedFileError(f"{path}: cannot be read ({error}).") from None
        if path.suffix.lower() == ".json":
            operations.extend(_manifest(path, text))
            continue
        try:
            sources.append((path, parse(text, no_location=True)))
        except GraphQLSyntaxError as error:
            raise PersistedFileError(f"{path}: {error.message} ({_where(error)}).") from None
    fragments = _fragments(sources)
    for path, document in sources:
        for definition in document.definitions:
            if isinstance(definition, OperationDefinitionNode):
                operations.append(_operation(path, definition, fragments, typename))
    return operations


def _where(error: GraphQLSyntaxError) -> str:
    if not error.locations:
        return "unknown place"
    location = error.locations[0]
    return f"line {location.line}, column {location.column}"


def _fragments(sources: Sequence[tuple[Path, DocumentNode]]) -> dict[str, FragmentDefinitionNode]:
    found: dict[str, FragmentDefinitionNode] = {}
    for path, document in sources:
        for definition in document.definitions:
            if isinstance(definition, FragmentDefinitionNode):
                name = definition.name.value
                if name in found and print_ast(found[name]) != print_ast(definition):
                    raise PersistedFileError(f"{path}: fragment {name} is defined twice.")
                found[name] = definition
    return found


def _spreads(node: Node) -> Iterator[str]:
    """The fragment names spread anywhere under the node, in document order."""
    if isinstance(node, FragmentSpreadNode):
        yield node.name.value
    for key in node.keys:
        value = getattr(node, key, None)
        children = value if isinstance(value, tuple | list) else (value,)
        for child in children:
            if isinstance(child, Node):
                yield from _spreads(child)


def _operation(
    path: Path,
    operation: OperationDefinitionNode,
    fragments: Mapping[str, FragmentDefinitionNode],
    typename: bool,
) -> Operation:
    name = operation.name.value if operation.name else None
    used: dict[str, FragmentDefinitionNode] = {}
    pending = list(_spreads(operation))
    while pending:
        spread = pending.pop(0)
        if spread in used:
            continue
        if spread not in fragments:
            raise PersistedFileError(
                f"{path}: operation {name or '(anonymous)'} spreads fragment {spread}, "
                "defined in none of the files."
            )
        used[spread] = fragments[spread]
        pending.extend(_spreads(fragments[spread]))
    order = list(fragments)  # the files' order, as the client's bundle has them
    definitions = [operation, *sorted(used.values(), key=lambda f: order.index(f.name.value))]
    document = DocumentNode(definitions=tuple(definitions))
    if typename:
        document = _with_typename(document)
    return Operation(name, print_document(document))


_TYPENAME = FieldNode(name=NameNode(value="__typename"), arguments=(), directives=())


def _with_typename(node: Any) -> Any:
    """Apollo Client's `addTypenameToDocument`: `__typename` last in every selection set but
    an operation's own, one that already selects a `__` field, or an `@export`ed field's."""
    if isinstance(node, DocumentNode):
        return DocumentNode(definitions=tuple(_with_typename(d) for d in node.definitions))
    selection_set = getattr(node, "selection_set", None)
    if selection_set is None:
        return node
    items = tuple(_with_typename(s) for s in selection_set.selections)
    keep = (
        isinstance(node, OperationDefinitionNode)
        or any(isinstance(s, FieldNode) and s.name.value.startswith("__") for s in items)
        or any(d.name.value == "export" for d in getattr(node, "directives", None) or ())
    )
    return _copy(
        node, selection_set=SelectionSetNode(selections=items if keep else (*items, _TYPENAME))
    )


def _copy(node: Any, **changes: Any) -> Any:
    fields = {key: getattr(node, key, None) for key in node.keys if key != "loc"}
    return type(node)(**{**fields, **changes})


MAX_LINE_LENGTH = 80  # graphql-js: a field's arguments past it go one per line


def print_document(node: Any) -> str:
    """An executable document as graphql-js 16's `print` writes it, the version Apollo Client 3
    bundles. graphql-core's own printer follows graphql-js 17, which spaces object values
    (`{ a: 1 }` for `{a: 1}`) and wraps long ones: another text, another hash."""
    p = print_document
    kind = node.kind
    if kind == "document":
        return "\n\n".join(p(d) for d in node.definitions)
    if kind == "operation_definition":
        variables = _wrap("(", ", ".join(p(v) for v in node.variable_definitions or ()), ")")
        head = _join(
            [node.operation.value, _join([_name(node), variables]), _directives(node)], " "
        )
        return ("" if head == "query" else head + " ") + p(node.selection_set)
    if kind == "variable_definition":
        default = _wrap(" = ", p(node.default_value) if node.default_value else "")
        return f"{p(node.variable)}: {p(node.type)}{default}{_wrap(' ', _directives(node))}"
    if kind == "selection_set":
        return _block([p(s) for s in node.selections])
    if kind == "field":
        prefix = _wrap("", _name(node, "alias"), ": ") + _name(node)
        arguments = [p(a) for a in node.arguments or ()]
        line = prefix + _wrap("(", ", ".join(arguments), ")")
        if len(line) > MAX_LINE_LENGTH:
            line = prefix + _wrap("(\n", _indent("\n".join(arguments)), "\n)")
        selections = p(node.selection_set) if node.selection_set else ""
        return _join([line, _directives(node), selections], " ")
    if kind in ("argument", "object_field"):
        return f"{node.name.value}: {p(node.value)}"
    if kind == "fragment_spread":
        return "..." + _name(node) + _wrap(" ", _directives(node))
    if kind == "inline_fragment":
        condition = _wrap("on ", p(node.type_condition) if node.type_condition else "")
        return _join(["...", condition, _directives(node), p(node.selection_set)], " ")
    if kind == "fragment_definition":
        return (
            f"fragment {node.name.value} on {p(node.type_condition)} "
            f"{_wrap('', _directives(node), ' ')}{p(node.selection_set)}"
        )
    if kind == "directive":
        return "@" + _name(node) + _wrap("(", ", ".join(p(a) for a in node.arguments or ()), ")")
    if kind == "variable":
        return "$" + _name(node)
    if kind in ("int_value", "float_value", "enum_value"):
        return str(node.value)
    if kind == "string_value":
        return print_block_string(node.value) if node.block else print_string(node.value)
    if kind == "boolean_value":
        return "true" if node.value else "false"
    if kind == "null_value":
        return "null"
    if kind == "list_value":
        return "[" + ", ".join(p(v) for v in node.values) + "]"
    if kind == "object_value":
        return "{" + ", ".join(p(f) for f in node.fields) + "}"
    if kind == "named_type":
        return str(node.name.value)
    if kind == "list_type":
        return f"[{p(node.type)}]"
    if kind == "non_null_type":
        return f"{p(node.type)}!"
    raise PersistedFileError(f"A {kind} has no place in an operation's document.")


def _name(node: Any, key: str = "name") -> str:
    value = getattr(node, key, None)
    return str(value.value) if value is not None else ""


def _directives(node: Any) -> str:
    return " ".join(print_document(d) for d in node.directives or ())


def _join(parts: Sequence[str], separator: str = "") -> str:
    return separator.join(part for part in parts if part)


def _wrap(start: str, text: str, end: str = "") -> str:
    return start + text + end if text else ""


def _indent(text: str) -> str:
    return _wrap("  ", text.replace("\n", "\n  "))


def _block(items: Sequence[str]) -> str:
    return _wrap("{\n", _indent(_join(items, "\n")), "\n}")


def _manifest(path: Path, text: str) -> list[Operation]:
    try:
        data = json.loads(text)
    except ValueError:
        raise PersistedFileError(f"{path}: not JSON.") from None
    if isinstance(data, dict) and data.get("format") == MANIFEST_FORMAT:
        if data.get("version") != 1:
            raise PersistedFileError(f"{path}: only version 1 of {MANIFEST_FORMAT} is known.")
        entries = data.get("operations")
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            raise PersistedFileError(f"{path}: `operations` must be a list of objects.")
        pairs = [(e.get("id"), e.get("body"), e.get("name")) for e in entries]
    elif isinstance(data, dict) and all(isinstance(v, str) for v in data.values()):
        pairs = [(key, body, None) for key, body in data.items()]
    else:
        raise PersistedFileError(
            f"{path}: neither an Apollo persisted-query manifest nor a map of hash to document."
        )
    operations = []
    for sha256, body, name in pairs:
        if not isinstance(body, str) or not isinstance(sha256, str):
            raise PersistedFileError(f"{path}: every operation needs a string id and body.")
        if sha256.lower() != sha256_hex(body):
            raise PersistedFileError(
                f"{path}: id {sha256} is not the SHA-256 of its body ({sha256_hex(body)}); "
                "clients send the body's hash."
            )
        operations.append(Operation(name if isinstance(name, str) else _name_of(body), body))
    return operations


def _name_of(body: str) -> str | None:
    try:
        document = parse(body, no_location=True)
    except GraphQLSyntaxError:
        return None
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode) and definition.name:
            return definition.name.value
    return None
