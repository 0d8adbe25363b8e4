"""MESSAGE_KINDS against the code that writes notifications: every kind a context sends, with
exactly the fields it sends, is in the table (so it has a template, and tests/unit/
test_notifier.py checks its body); the table lists no kind that nothing sends."""

from __future__ import annotations

import ast
from pathlib import Path

from domain.outbox import MESSAGE_KINDS

DOMAIN = Path(__file__).resolve().parents[2] / "domain"
Sent = dict[str, set[str]]


def _functions(tree: ast.AST) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
    return [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]


def _helpers(trees: list[ast.Module]) -> dict[str, tuple[int, set[str]]]:
    """Functions that build a Notification from a `kind` parameter: name -> (position of that
    parameter, the data fields the helper adds itself)."""
    helpers = {}
    for function in (f for tree in trees for f in _functions(tree)):
        params = [a.arg for a in function.args.args]
        for call in ast.walk(function):
            if not (isinstance(call, ast.Call) and getattr(call.func, "id", "") == "Notification"):
                continue
            args = {k.arg: k.value for k in call.keywords}
            kind, data = args.get("kind"), args.get("data")
            if isinstance(kind, ast.Name) and kind.id in params and isinstance(data, ast.Dict):
                own = {k.value for k in data.keys if isinstance(k, ast.Constant)}
                helpers[function.name] = (params.index(kind.id), own)
    return helpers


def sent_by(trees: list[ast.Module]) -> Sent:
    """Every kind the code sends through a helper, with the fields its calls give it."""
    helpers, sent = _helpers(trees), {}
    for function in (f for tree in trees for f in _functions(tree)):
        assigned = {
            target.id: node.value
            for node in ast.walk(function)
            if isinstance(node, ast.Assign)
            for target in node.targets
            if isinstance(target, ast.Name)
        }
        for call in ast.walk(function):
            name = getattr(call.func, "id", "") if isinstance(call, ast.Call) else ""
            if name not in helpers or name == function.name:
                continue
            assert isinstance(call, ast.Call)
            position, own = helpers[name]
            kind = call.args[position]
            if isinstance(kind, ast.Name):
                kind = assigned[kind.id]  # kind = "A" if ... else "B"
            fields = own | {k.arg for k in call.keywords if k.arg and k.arg != "consent"}
            for node in ast.walk(kind):
                if isinstance(node, ast.Constant) and isinstance(node.value, str):
                    sent.setdefault(node.value, set()).update(fields)
    return sent


def test_every_kind_the_code_sends_is_listed_with_exactly_its_fields() -> None:
    trees = [ast.parse(path.read_text()) for path in sorted(DOMAIN.rglob("*.py"))]
    sent = sent_by(trees)
    listed = {name: set(kind.fields) for name, kind in MESSAGE_KINDS.items()}
    assert sent == listed


def test_the_reader_finds_kinds_behind_helpers_and_conditions() -> None:
    """The check above would pass on nothing if the reader saw nothing."""
    code = """
async def tell(deps, uow, order, kind, suffix, **data):
    await enqueue(uow, [Notification(kind=kind, data={"order_number": order.number, **data})])

async def cancel(deps, uow, order, expired):
    kind = "ORDER_UNCLAIMED" if expired else "ORDER_CANCELLED"
    await tell(deps, uow, order, kind, "x", reason="r")
    await tell(deps, uow, order, "REVIEW_INVITATION", "review", consent=None)
"""
    assert sent_by([ast.parse(code)]) == {
        "ORDER_UNCLAIMED": {"order_number", "reason"},
        "ORDER_CANCELLED": {"order_number", "reason"},
        "REVIEW_INVITATION": {"order_number"},
    }
