"""The tests' own layout: shared helpers live in tests/support (and the fakes in tests/fakes),
so a test module never imports another one, and the helpers that were copied from module to
module (`Shopper`, `codes`) have one definition."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
HOMES = ("support", "fakes")  # where shared helpers live
SINGLE = {"Shopper": "class", "codes": "function"}  # defined in tests/support only


def _modules() -> list[Path]:
    return sorted(p for p in TESTS.rglob("*.py") if p.parts[len(TESTS.parts)] not in HOMES)


def _is_test_module(dotted: str) -> bool:
    last = dotted.rsplit(".", 1)[-1]
    return dotted.startswith("tests.") and (last.startswith("test_") or last == "conftest")


def test_no_test_module_imports_another() -> None:
    found = []
    for path in [*_modules(), *(TESTS / home for home in HOMES)]:
        files = sorted(path.rglob("*.py")) if path.is_dir() else [path]
        for file in files:
            for node in ast.walk(ast.parse(file.read_text())):
                names = (
                    [node.module or ""]
                    if isinstance(node, ast.ImportFrom)
                    else [a.name for a in node.names]
                    if isinstance(node, ast.Import)
                    else []
                )
                for name in names:
                    if _is_test_module(name) and not (
                        name == "tests.conftest" and file.name.startswith("test_")
                    ):
                        found.append(f"{file.relative_to(TESTS)}:{node.lineno} imports {name}")
    assert found == [], "move the shared helpers to tests/support:\n" + "\n".join(found)


def test_shared_helpers_are_defined_once_in_tests_support() -> None:
    found = []
    for file in _modules():
        for node in ast.walk(ast.parse(file.read_text())):
            if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and (
                node.name in SINGLE
            ):
                found.append(f"{file.relative_to(TESTS)}:{node.lineno} defines {node.name}")
    assert found == [], "use tests.support.shoppers / tests.support.payloads:\n" + "\n".join(found)


def test_the_checker_sees_a_cross_import_and_a_copied_helper() -> None:
    """The two checks above would pass on nothing: they must see what they look for."""
    module = ast.parse(
        "from tests.api.test_orders_checkout import placed\n"
        "class Shopper: ...\n"
        "def codes(payload): ...\n"
    )
    imported = [n.module for n in ast.walk(module) if isinstance(n, ast.ImportFrom)]
    assert [m for m in imported if m and _is_test_module(m)] == ["tests.api.test_orders_checkout"]
    defined = [n.name for n in ast.walk(module) if getattr(n, "name", None) in SINGLE]
    assert defined == ["Shopper", "codes"]
    assert any(p.name == "test_orders_checkout.py" for p in _modules())
    assert not any("support" in p.parts for p in _modules())
