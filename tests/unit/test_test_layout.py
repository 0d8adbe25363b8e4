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


def _imported(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, module) of every import in the tree."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            found.append((node.lineno, node.module or ""))
        elif isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
    return found


def test_no_test_module_imports_another() -> None:
    found = []
    for path in [*_modules(), *(TESTS / home for home in HOMES)]:
        files = sorted(path.rglob("*.py")) if path.is_dir() else [path]
        for file in files:
            for line, name in _imported(ast.parse(file.read_text())):
                # A test module may use conftest's constants; helpers never import conftest.
                allowed = name == "tests.conftest" and file.name.startswith("test_")
                if _is_test_module(name) and not allowed:
                    found.append(f"{file.relative_to(TESTS)}:{line} imports {name}")
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
        "import tests.integration.test_points_ledger\n"
        "class Shopper: ...\n"
        "def codes(payload): ...\n"
    )
    imported = [name for _, name in _imported(module) if _is_test_module(name)]
    assert imported == ["tests.api.test_orders_checkout", "tests.integration.test_points_ledger"]
    defined = [n.name for n in ast.walk(module) if isinstance(n, ast.ClassDef | ast.FunctionDef)]
    assert [name for name in defined if name in SINGLE] == ["Shopper", "codes"]
    assert any(p.name == "test_orders_checkout.py" for p in _modules())
    assert not any("support" in p.parts for p in _modules())
