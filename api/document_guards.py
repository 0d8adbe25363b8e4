"""Refusals of hostile documents and variables before validation or execution does the work.

- Variables with unpaired surrogates: JSON can escape one (`"\\ud800"`), UTF-8 cannot encode
  it, and the database driver failed on it (INTERNAL_SERVER_ERROR). Variables with more
  values than any input takes: graphql-core coerces them all before any permission check.
- Documents longer than their token limit can explain: whitespace, comments and string
  literals are not tokens, and lexing a megabyte of them took a third of a second.
- Documents whose validation is the attack. Fragments can expand exponentially (F0 spreads
  F1 twice, F1 spreads F2 twice, ...: an 800-byte document with 20 of them made strawberry's
  depth and alias limits and our cost estimate walk a million selections, ten seconds of CPU);
  and graphql-core's check that fields merge compares every pair of fields sharing a response
  name in one selection set, and every pair of fragments spread into it (700 copies of
  `viewer { kind }` took over a second). Sizing each fragment once keeps this check linear.
"""

from __future__ import annotations

import re
from collections import Counter, OrderedDict
from collections.abc import Iterator

from graphql import (
    ArgumentNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    ListValueNode,
    Node,
    ObjectFieldNode,
    OperationDefinitionNode,
    SelectionSetNode,
    StringValueNode,
)
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

_SURROGATE = re.compile("[\ud800-\udfff]")

MAX_REPEATS = 20  # one response name in one selection set: above the 13 types of `Node`
MAX_SPREADS = 30  # distinct fragments spread into one selection set
# JSON values in the variables (keys not counted): the largest input, productCreate with 100
# variants of 20 attributes, holds 6,600; 20,000 leave room for a list past its input's
# limit to get the typed error. Coercing 20,000 takes about a quarter of a second.
MAX_VARIABLE_VALUES = 20_000
SHAPE_CACHE_SIZE = 512  # as ValidationCache
_SHAPES: OrderedDict[tuple[str, int], str | None] = OrderedDict()
LENGTH_PER_TOKEN = 10  # characters of document per token allowed, whitespace included


# Every String input, in one place: no control characters but tab, newline and carriage return
# (PostgreSQL refuses U+0000; the others only ever hide text), and at most MAX_STRING_LENGTH
# characters (the longest input, a product description, takes 10,000).
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
MAX_STRING_LENGTH = 10_000


def text_problem(value: str) -> str | None:
    if _CONTROL.search(value):
        return "Text may not hold control characters (other than tab and newline)."
    if len(value) > MAX_STRING_LENGTH:
        return f"Text is at most {MAX_STRING_LENGTH} characters; got {len(value)}."
    return None


def literals_problem(document: DocumentNode | None, text: str) -> tuple[str, list[str]] | None:
    """(message, argument path) of the first string literal of the document that
    `text_problem` refuses. Only documents that could hold one are walked."""
    if document is None or not (
        _CONTROL.search(text) or "\\u00" in text or len(text) > MAX_STRING_LENGTH
    ):
        return None
    pending: list[tuple[Node, list[str]]] = [(document, [])]
    while pending:
        node, path = pending.pop()
        if isinstance(node, StringValueNode):
            if (message := text_problem(node.value)) is not None:
                return message, path
            continue
        if isinstance(node, ArgumentNode | ObjectFieldNode):
            pending.append((node.value, [*path, node.name.value]))
            continue
        if isinstance(node, ListValueNode):
            pending.extend((v, [*path, str(n)]) for n, v in enumerate(node.values))
            continue
        for key in node.keys:
            child = getattr(node, key, None)
            if isinstance(child, Node):
                pending.append((child, path))
            elif isinstance(child, tuple | list):
                pending.extend((c, path) for c in child if isinstance(c, Node))
    return None


def variables_problem(variables: object, text: bool = True) -> tuple[str, str, list[str]] | None:
    """(code, message, path) when the variables hold text with an unpaired surrogate (keys
    too), `text_problem` text (when `text`), or more than MAX_VARIABLE_VALUES values;
    iterative, and it stops at the first problem."""
    pending: list[tuple[object, list[str]]] = [(variables, [])]
    seen = 0
    while pending:
        item, path = pending.pop()
        seen += 1
        if seen > MAX_VARIABLE_VALUES:
            return (
                "TOO_MANY_ITEMS",
                (
                    f"The variables hold more than {MAX_VARIABLE_VALUES} values; send fewer rows "
                    "per call (inventoryBulkSet takes 500)."
                ),
                [],
            )
        if isinstance(item, str):
            if _SURROGATE.search(item):
                return (
                    "INVALID_INPUT",
                    ("Variables may not hold unpaired surrogates (U+D800-U+DFFF): not text."),
                    path,
                )
            if text and (message := text_problem(item)) is not None:
                return "INVALID_INPUT", message, path
        elif isinstance(item, dict):
            if any(_SURROGATE.search(key) for key in item):
                return "INVALID_INPUT", "Variable names and keys must be text.", path
            pending.extend((v, [*path, str(k)]) for k, v in item.items())
        elif isinstance(item, list):
            pending.extend((v, [*path, str(n)]) for n, v in enumerate(item))
    return None


class VariableLimits(SchemaExtension):
    """Before execution, which coerces every variable before any permission is checked
    (10,000 bulk rows took half a second of CPU, for an anonymous caller too). Every string
    argument of a query or subscription, in the variables or in the document, passes
    `text_problem` here (a NUL byte in a filter reached the database driver:
    INTERNAL_SERVER_ERROR); mutations' inputs pass it in `api/mutation_guards.py`."""

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        # A mutation's text is checked by its field (api/mutation_guards.py): a payload error.
        queried = context.operation_type is not OperationType.MUTATION
        problem = variables_problem(context.variables, text=queried)
        if problem is not None:
            code, message, path = problem
            raise GraphQLError(message, extensions={"code": code, "field": path or None})
        literal = queried and literals_problem(context.graphql_document, context.query or "")
        if literal:
            message, path = literal
            raise GraphQLError(message, extensions={"code": "INVALID_INPUT", "field": path})
        yield


# GraphQL's tokens, found by the regex engine: never more than graphql-core's lexer finds (a
# string or comment is one match; comments are not tokens), so it refuses nothing valid.
_TOKEN = re.compile(
    r'"""(?:[^"\\]|\\.|"(?!""))*"""|"(?:[^"\\\n\r]|\\.)*"|#[^\n\r]*'
    r"|\.\.\.|-?\d[\w.+-]*|[_A-Za-z]\w*|[!$&():=@\[\]{|}]"
)


def count_tokens(document: str) -> int:
    tokens = _TOKEN.findall(document)
    if "#" not in document:
        return len(tokens)
    return len(tokens) - sum(1 for token in tokens if token.startswith("#"))


def _refusal(message: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": "GRAPHQL_VALIDATION_FAILED"})


class _Refused(Exception):
    pass


def _spread_names(selection_set: SelectionSetNode) -> Iterator[str]:
    pending = [selection_set]
    while pending:
        for selection in pending.pop().selections:
            if isinstance(selection, FragmentSpreadNode):
                yield selection.name.value
            elif isinstance(selection, FieldNode | InlineFragmentNode) and selection.selection_set:
                pending.append(selection.selection_set)


def _dependencies_first(fragments: dict[str, FragmentDefinitionNode]) -> list[str]:
    """Fragment names, each after the fragments it spreads; a cycle is cut where it closes
    (validation then reports it)."""
    order: list[str] = []
    seen: set[str] = set()
    for root in fragments:
        if root in seen:
            continue
        seen.add(root)
        stack = [(root, _spread_names(fragments[root].selection_set))]
        while stack:
            name, spreads = stack[-1]
            target = next(spreads, None)
            if target is None:
                stack.pop()
                order.append(name)
            elif target in fragments and target not in seen:
                seen.add(target)
                stack.append((target, _spread_names(fragments[target].selection_set)))
    return order


class _Sizer:
    """Counts the selections of a selection set with its fragments expanded (each fragment
    sized once), refusing a set that repeats a name or spreads fragments too often."""

    def __init__(self, cap: int):
        self.cap = cap
        self.sizes: dict[str, int] = {}

    def size(self, selection_set: SelectionSetNode) -> int:
        total = 0
        names: list[str] = []
        spreads: set[str] = set()
        pending = list(selection_set.selections)  # inline fragments merge into this set
        while pending:
            selection = pending.pop()
            total += 1
            if isinstance(selection, FieldNode):
                names.append((selection.alias or selection.name).value)
                if selection.selection_set is not None:
                    total += self.size(selection.selection_set)
            elif isinstance(selection, InlineFragmentNode):
                pending.extend(selection.selection_set.selections)
            elif isinstance(selection, FragmentSpreadNode):
                spreads.add(selection.name.value)
                total += self.sizes.get(selection.name.value, 0)
        if len(names) > MAX_REPEATS:
            name, count = Counter(names).most_common(1)[0]
            if count > MAX_REPEATS:
                raise _Refused(
                    f"`{name}` is selected {count} times in one place (at most {MAX_REPEATS})."
                )
        if len(spreads) > MAX_SPREADS:
            raise _Refused(
                f"{len(spreads)} fragments are spread in one place (at most {MAX_SPREADS})."
            )
        return min(total, self.cap)  # past the cap the exact count does not matter


def shape_problem(document: DocumentNode, max_selections: int) -> str | None:
    """Why the document is refused, or None."""
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    sizer = _Sizer(cap=max_selections + 1)
    try:
        for name in _dependencies_first(fragments):
            sizer.sizes[name] = sizer.size(fragments[name].selection_set)
        operations = [
            sizer.size(d.selection_set)
            for d in document.definitions
            if isinstance(d, OperationDefinitionNode)
        ]
        largest = max([*sizer.sizes.values(), *operations], default=0)
    except _Refused as refused:
        return str(refused)
    if largest > max_selections:
        return (
            f"With its fragments expanded the document selects more than {max_selections} "
            "fields (the token limit); spread fragments fewer times."
        )
    return None


class DocumentLimiter(SchemaExtension):
    """The document's length before parsing (list it before ParserCache): lexing is pure
    Python, about 0.4 s a megabyte, and the token limit leaves out whitespace, comments and
    string literals. Its shape before validation (list it before ValidationCache)."""

    def __init__(self, *, max_tokens: int):
        self.max_tokens = max_tokens
        self.max_length = max_tokens * LENGTH_PER_TOKEN
        self.max_selections = max_tokens

    def on_parse(self) -> Iterator[None]:
        query = self.execution_context.query or ""
        if len(query) > self.max_length:
            raise _refusal(
                f"The document is {len(query)} characters long, above the limit of "
                f"{self.max_length}; send long values as variables."
            )
        if len(query) > self.max_tokens and count_tokens(query) > self.max_tokens:
            # graphql-core's parser stops at the limit too, but lexes up to it in Python.
            raise _refusal(f"The document has more than {self.max_tokens} tokens.")
        yield

    def on_validate(self) -> Iterator[None]:
        document = self.execution_context.graphql_document
        problem = self._shape_of(document) if document else None
        if problem is not None:
            raise _refusal(problem)
        yield

    def _shape_of(self, document: DocumentNode) -> str | None:
        """The shape verdict of a document text, walked once (clients repeat a few documents,
        as ParserCache and ValidationCache assume)."""
        key = (self.execution_context.query or "", self.max_selections)
        if key in _SHAPES:
            _SHAPES.move_to_end(key)
            return _SHAPES[key]
        problem = _SHAPES[key] = shape_problem(document, self.max_selections)
        if len(_SHAPES) > SHAPE_CACHE_SIZE:
            _SHAPES.popitem(last=False)
        return problem
