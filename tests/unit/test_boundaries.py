"""Context boundaries (DESIGN.md): a context changes another context's rows only through that
context's `*_in_uow` service functions, never through the other's repository on the shared
unit of work. This reads every module of `domain/` and fails on a call such as
`uow.inventory.extend_reservations(...)` made from ordering.

A few plain reads of another context's repository are allowed (`FOREIGN_READS`): they change
nothing and a service wrapping each would only forward the call."""

from __future__ import annotations

import ast
from pathlib import Path

DOMAIN = Path(__file__).resolve().parents[2] / "domain"

# Which context owns the repository behind each attribute of `domain.uow.UnitOfWork`. A
# context is a package under domain/ (or a top-level module: domain/idempotency.py).
OWNER = {
    "staff": "identity",
    "devices": "identity",
    "api_keys": "identity",
    "sessions": "identity",
    "catalog": "catalog",
    "locations": "locations",
    "members": "members",
    "inventory": "inventory",
    "orders": "ordering",
    "reconciliations": "ordering",
    "loyalty": "loyalty",
    "subscriptions": "subscriptions",
    "idempotency": "idempotency",
    "outbox": "outbox",
    "reviews": "aftersales",
    "desk": "aftersales",
    "aftersales": "aftersales",
    "member_codes": "aftersales",
    "till_returns": "inventory",
    "flash_sales": "promotions",
    "coupons": "promotions",
    "member_prices": "promotions",
    "assists": "growth",
    "hot_rows": "ordering",  # the hot rows of a checkout, taken together (ordering/hot_take.py)
    "group_buys": "growth",
    "referrals": "growth",
    "guides": "growth",
    "tags": "engagement",
    "member_facts": "engagement",
    "metrics": "engagement",  # a read model over the other contexts' tables (infra, SQL)
    "automations": "engagement",
    "segments": "engagement",
}
# Every context hands the idempotency store to `domain.idempotency.once`, its one service.
SHARED = {"idempotency"}

# Reads another context may make directly: repository attribute -> method names.
FOREIGN_READS = {
    # get_categories: an after-sale reads a category's return policy
    "catalog": {"get_variants", "variant_by_code", "variants_with_products", "get_categories"},
    "inventory": {"levels"},
    "locations": {"get", "get_by_code", "get_many", "search"},
    "loyalty": {"get_account"},  # a cart's price: the member's tier and points available
    "members": {"get", "get_many", "consents_of"},  # consents: the outbox asks `can_contact`
    # a review names its order line; the CS desk finds and notes orders, and asks where a member
    # ordered (store staff note the members of their stores)
    "orders": {"order_of_line", "get", "by_number", "stores_of_members"},
}


def _context_of(path: Path) -> str:
    relative = path.relative_to(DOMAIN)
    return relative.parts[0] if len(relative.parts) > 1 else relative.stem


def _is_uow(node: ast.expr) -> bool:
    """`uow`, `self.uow`, `deps.uow`: however the unit of work is reached."""
    name = node.id if isinstance(node, ast.Name) else getattr(node, "attr", "")
    return isinstance(name, str) and "uow" in name


def violations(source: str, context: str, where: str = "<string>") -> list[str]:
    """Every use of a repository that `context` does not own, other than an allowed read."""
    tree = ast.parse(source)
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Attribute) and node.attr in OWNER and _is_uow(node.value)):
            continue
        if OWNER[node.attr] == context or node.attr in SHARED:
            continue
        method = parents.get(node)
        call = parents.get(method) if isinstance(method, ast.Attribute) else None
        name = method.attr if isinstance(method, ast.Attribute) else ""
        called = isinstance(call, ast.Call) and call.func is method
        if called and name in FOREIGN_READS.get(node.attr, set()):
            continue
        what = f"{node.attr}.{name}" if called else node.attr
        owner = OWNER[node.attr]
        found.append((node.lineno, f"{where}:{node.lineno}: {context} uses uow.{what} ({owner}'s)"))
    return [line for _, line in sorted(found)]


def _uow_repositories() -> set[str]:
    tree = ast.parse((DOMAIN / "uow.py").read_text())
    [protocol] = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "UnitOfWork"]
    return {
        n.name
        for n in protocol.body
        if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and not n.name.startswith("_")
    }


def test_every_repository_of_the_unit_of_work_has_an_owner() -> None:
    assert _uow_repositories() == set(OWNER)


def test_owners_and_allowed_reads_name_real_contexts_and_methods() -> None:
    contexts = {_context_of(p) for p in DOMAIN.rglob("*.py")}
    assert set(OWNER.values()) <= contexts
    assert set(FOREIGN_READS) <= set(OWNER)


def test_no_context_uses_another_contexts_repository() -> None:
    found = [
        line
        for path in sorted(DOMAIN.rglob("*.py"))
        for line in violations(
            path.read_text(), _context_of(path), str(path.relative_to(DOMAIN.parent))
        )
    ]
    assert found == []


def test_the_check_catches_a_write_a_passed_repository_and_an_unlisted_read() -> None:
    source = """
async def mark_ready(deps, uow, order):
    await uow.inventory.extend_reservations(order.owner, deps.expires)
    await resolve_member(uow.members, order.member_id)
    await deps.uow.orders.payments_of([order.id])
    await uow.inventory.levels([order.variant_id])
"""
    assert [line.split(": ", 1)[1] for line in violations(source, "subscriptions")] == [
        "subscriptions uses uow.inventory.extend_reservations (inventory's)",
        "subscriptions uses uow.members (members's)",
        "subscriptions uses uow.orders.payments_of (ordering's)",
    ]
    assert [line.split(": ", 1)[1] for line in violations(source, "inventory")] == [
        "inventory uses uow.members (members's)",
        "inventory uses uow.orders.payments_of (ordering's)",
    ]


def test_every_deps_bundle_lives_in_its_contexts_deps_module() -> None:
    """One predictable place: `domain/<context>/deps.py` holds what its services are given."""
    misplaced = [
        f"{path.relative_to(DOMAIN.parent)}: {node.name}"
        for path in sorted(DOMAIN.rglob("*.py"))
        for node in ast.parse(path.read_text()).body
        if isinstance(node, ast.ClassDef) and node.name.endswith("Deps") and path.name != "deps.py"
    ]
    assert misplaced == []
    packages = {p.parent.name for p in DOMAIN.glob("*/__init__.py")}
    assert packages == {p.parent.name for p in DOMAIN.glob("*/deps.py")}
