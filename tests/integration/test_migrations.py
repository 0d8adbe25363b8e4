"""Alembic owns the schema; the Tortoise models must expect exactly what it builds."""

from __future__ import annotations

import json
import tempfile
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from tortoise.context import TortoiseContext

from infra.db.connection import downgrade, migrate, sqlalchemy_url, tortoise_config
from tests.support import is_postgres

# Indexes the Tortoise models cannot declare, being PostgreSQL's own: the GIN trigram index of
# the catalog search (alembic 0016). By name, so that no other index slips past the comparison;
# `test_the_search_index_is_a_trigram_index` checks it instead.
POSTGRES_ONLY_INDEXES = {"ix_product_search_trgm"}


def _admin_url(url: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/postgres"


@pytest.fixture
def fresh_url(database_url: str) -> Iterator[Any]:
    """A factory of empty databases of the suite's backend, dropped afterwards."""
    made: list[str] = []

    def make() -> str:
        if not is_postgres(database_url):
            return f"sqlite://{tempfile.mkdtemp()}/fresh.sqlite3"
        name = f"drift_{uuid.uuid4().hex[:10]}"
        engine = sa.create_engine(
            sqlalchemy_url(_admin_url(database_url)), isolation_level="AUTOCOMMIT"
        )
        with engine.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        engine.dispose()
        made.append(name)
        return f"{database_url.rpartition('/')[0]}/{name}"

    yield make
    if made:
        engine = sa.create_engine(
            sqlalchemy_url(_admin_url(database_url)), isolation_level="AUTOCOMMIT"
        )
        with engine.connect() as conn:
            for name in made:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


def _on_delete(fk: dict[str, Any]) -> str:
    # Backends report the default as None, NO ACTION or RESTRICT: all refuse the delete.
    rule = str((fk.get("options") or {}).get("ondelete") or "RESTRICT").upper()
    return "RESTRICT" if rule == "NO ACTION" else rule


def _foreign_keys(engine: sa.Engine, inspector: Any, table: str) -> set[Any]:
    if engine.dialect.name == "sqlite":
        # The inspector misreads ON DELETE of inline REFERENCES; the pragma has it right.
        with engine.connect() as conn:
            rows = conn.exec_driver_sql(f'PRAGMA foreign_key_list("{table}")').mappings()
            return {
                ((r["from"],), r["table"], _on_delete({"options": {"ondelete": r["on_delete"]}}))
                for r in rows
            }
    return {
        (tuple(fk["constrained_columns"]), fk["referred_table"], _on_delete(fk))
        for fk in inspector.get_foreign_keys(table)
    }


def describe(url: str) -> dict[str, Any]:
    """Tables, columns (type, nullability), unique keys, indexes and foreign keys."""
    engine = sa.create_engine(sqlalchemy_url(url))
    inspector = sa.inspect(engine)
    shape: dict[str, Any] = {}
    for table in sorted(set(inspector.get_table_names()) - {"alembic_version"}):
        columns = {
            c["name"]: (repr(c["type"]).replace("INT()", "INTEGER()"), c["nullable"])
            for c in inspector.get_columns(table)
        }
        unique, indexes = _keys(engine, inspector, table)
        foreign = _foreign_keys(engine, inspector, table)
        shape[table] = {
            "columns": columns,
            "primary_key": tuple(inspector.get_pk_constraint(table)["constrained_columns"]),
            "unique": sorted(unique),
            "indexes": sorted(indexes),
            "foreign_keys": sorted(foreign, key=str),
        }
    engine.dispose()
    return shape


def _keys(engine: sa.Engine, inspector: Any, table: str) -> tuple[set[Any], set[Any]]:
    """Unique keys and plain indexes as column tuples, however each backend declares them."""
    unique: set[Any] = set()
    indexes: set[Any] = set()
    if engine.dialect.name == "sqlite":
        # Column-level UNIQUE lives in sqlite_autoindex_* indexes, which the inspector hides.
        with engine.connect() as conn:
            for row in conn.exec_driver_sql(f'PRAGMA index_list("{table}")').mappings():
                if row["origin"] == "pk":
                    continue
                cols = tuple(
                    r["name"]
                    for r in conn.exec_driver_sql(f'PRAGMA index_info("{row["name"]}")').mappings()
                )
                (unique if row["unique"] else indexes).add(cols)
        return unique, indexes
    unique = {tuple(u["column_names"]) for u in inspector.get_unique_constraints(table)}
    for index in inspector.get_indexes(table):
        if index["name"] in POSTGRES_ONLY_INDEXES:
            continue
        (unique if index["unique"] else indexes).add(tuple(index["column_names"]))
    return unique, indexes


async def _tortoise_schema(url: str) -> None:
    async with TortoiseContext() as ctx:
        await ctx.init(config=tortoise_config(url, pool_size=2))
        await ctx.generate_schemas(safe=False)


async def test_migrations_match_the_tortoise_models(fresh_url: Any) -> None:
    migrated, generated = fresh_url(), fresh_url()
    migrate(migrated)
    await _tortoise_schema(generated)

    expected, actual = describe(generated), describe(migrated)
    assert sorted(actual) == sorted(expected), "tables differ"
    for table in expected:
        for aspect in ("columns", "primary_key", "unique", "indexes", "foreign_keys"):
            assert actual[table][aspect] == expected[table][aspect], (
                f"{table}.{aspect}: migration has {actual[table][aspect]}, "
                f"models expect {expected[table][aspect]}"
            )


async def test_the_search_index_is_a_trigram_index(fresh_url: Any) -> None:
    url = fresh_url()
    migrate(url)
    if not is_postgres(url):
        return  # SQLite has no such index: its search scans
    engine = sa.create_engine(sqlalchemy_url(url))
    with engine.connect() as conn:
        definition = conn.execute(
            sa.text("SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_product_search_trgm'")
        ).scalar_one()
    engine.dispose()
    assert "USING gin" in definition
    assert "search_names gin_trgm_ops" in definition
    assert "search_text gin_trgm_ops" in definition


async def test_downgrade_to_base_then_upgrade_to_head(fresh_url: Any) -> None:
    url = fresh_url()
    migrate(url)
    head = describe(url)
    downgrade(url, "base")
    assert describe(url) == {}
    migrate(url)
    assert describe(url) == head


async def test_database_constraints_back_the_invariants(fresh_url: Any) -> None:
    url = fresh_url()
    migrate(url)
    engine = sa.create_engine(sqlalchemy_url(url))
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO product (id, name, slug, description, status, created_at, updated_at) "
                "VALUES (:id, 'p', 'p', '', 'ACTIVE', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            ),
            {"id": str(uuid.uuid4())},
        )
    bad_rows = [
        ("UPDATE product SET status = 'SOLD_OUT'", "status check"),
        (
            "INSERT INTO location (id, code, name, type, address, city, latitude, longitude, "
            "timezone, opening_hours, pickup_enabled, ships_online, status, created_at, "
            "updated_at) VALUES ('" + str(uuid.uuid4()) + "', 'X', 'x', 'STORE', 'a', 'c', 95, 0,"
            " 'UTC', '{}', true, false, 'ACTIVE', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)",
            "latitude check",
        ),
    ]
    for statement, what in bad_rows:
        with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
            conn.execute(sa.text(statement))
            pytest.fail(f"{what} did not hold")
    engine.dispose()


async def test_0016_keeps_attributes_and_indexes_existing_products(fresh_url: Any) -> None:
    """Rows written before 0016: attributes as an object become [name, value] pairs (and back
    on downgrade), and the products get their search text, pinyin included."""
    url = fresh_url()
    migrate(url, "0015_persisted_queries")
    engine = sa.create_engine(sqlalchemy_url(url))
    product_id, variant_id = str(uuid.uuid4()), str(uuid.uuid4())
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO product (id, name, slug, description, status, created_at, updated_at) "
                "VALUES (:id, '芒果多多', 'mango', '', 'ACTIVE', CURRENT_TIMESTAMP, "
                "CURRENT_TIMESTAMP)"
            ),
            {"id": product_id},
        )
        conn.execute(
            sa.text(
                "INSERT INTO variant (id, product_id, code, name, attributes, price_amount, "
                "currency, status, created_at, updated_at) VALUES (:id, :product, 'MJ-500', "
                "'Large', :attributes, 1900, 'CNY', 'ACTIVE', CURRENT_TIMESTAMP, "
                "CURRENT_TIMESTAMP)"
            ),
            {"id": variant_id, "product": product_id, "attributes": '{"size": "500ml"}'},
        )
    engine.dispose()

    def read() -> tuple[Any, ...]:
        engine = sa.create_engine(sqlalchemy_url(url))
        with engine.connect() as conn:
            attributes = conn.execute(sa.text("SELECT attributes FROM variant")).scalar_one()
            columns = {c["name"] for c in sa.inspect(conn).get_columns("product")}
            search = (
                conn.execute(sa.text("SELECT search_names, search_text FROM product")).one()
                if "search_text" in columns
                else None
            )
        engine.dispose()
        return (json.loads(attributes) if isinstance(attributes, str) else attributes), search

    migrate(url)
    attributes, search = read()
    assert attributes == [["size", "500ml"]]
    assert search == ("\n芒果多多\n", "\nlarge\nmj-500\nmangguoduoduo\nmgdd\n")
    downgrade(url, "0015_persisted_queries")
    assert read() == ({"size": "500ml"}, None)


# ------------------------------------------------------------
# Migration 0018 on a database with refunds recorded before it: each names its payment, the
# ones of online payments become due for the refund job, the till's become REFUND_AT_TILL.

INSERT = sa.text(
    "INSERT INTO order_payment (id, order_id, kind, provider, provider_ref, method, amount, "
    "currency, status, created_at) VALUES (:id, :order_id, :kind, :provider, :ref, :method, "
    ":amount, 'CNY', :status, :at)"
)
AT = "2026-12-01 08:00:00+00:00"


async def test_refunds_recorded_before_0018_name_their_payment_and_become_due(
    fresh_url: Any,
) -> None:
    url = fresh_url()
    migrate(url, "0017_orders_changed_index")
    order, online, till = (str(uuid.uuid4()) for _ in range(3))
    online_refund, till_refund = str(uuid.uuid4()), str(uuid.uuid4())
    rows = [
        (online, "PAYMENT", "devpay", "dp_1", "ONLINE", "SUCCEEDED"),
        (online_refund, "REFUND", "devpay", "refund:dp_1", "ONLINE", "REFUND_PENDING"),
        (till, "PAYMENT", "IN_STORE", "store:1", "CASH", "SUCCEEDED"),
        (till_refund, "REFUND", "IN_STORE", "refund:store:1", "CASH", "REFUND_PENDING"),
    ]
    engine = sa.create_engine(sqlalchemy_url(url))
    with engine.begin() as conn:
        for id_, kind, provider, ref, method, status in rows:
            conn.execute(
                INSERT,
                {
                    "id": id_,
                    "order_id": order,
                    "kind": kind,
                    "provider": provider,
                    "ref": ref,
                    "method": method,
                    "amount": 990,
                    "status": status,
                    "at": AT,
                },
            )
    migrate(url)
    with engine.connect() as conn:
        found = conn.execute(
            sa.text(
                "SELECT id, refund_of, status, attempts, reason, next_attempt_at "
                "FROM order_payment WHERE kind = 'REFUND'"
            )
        ).mappings()
        after = {str(r["id"]): r for r in found}
    engine.dispose()
    online_row, till_row = after[online_refund], after[till_refund]
    assert str(online_row["refund_of"]) == online
    assert (online_row["status"], online_row["attempts"], online_row["reason"]) == (
        "REFUND_PENDING",
        0,
        "",
    )
    assert online_row["next_attempt_at"] is not None
    assert str(till_row["refund_of"]) == till
    assert till_row["status"] == "REFUND_AT_TILL"
    assert till_row["next_attempt_at"] is None


async def test_0049_counts_the_hand_overs_made_before_automations(fresh_url: Any) -> None:
    url = fresh_url()
    migrate(url, "0048_metrics_ranges")
    early, both, walk_in = str(uuid.uuid4()), str(uuid.uuid4()), None
    orders = [  # (order, member, the statuses it went through)
        (str(uuid.uuid4()), early, ["PAID", "PICKED_UP"]),
        (str(uuid.uuid4()), early, ["PAID", "DELIVERED"]),
        (str(uuid.uuid4()), early, ["PAID", "CANCELLED"]),  # never handed over
        (str(uuid.uuid4()), both, ["PAID", "PICKED_UP"]),
        (str(uuid.uuid4()), walk_in, ["PAID", "PICKED_UP"]),
    ]
    engine = sa.create_engine(sqlalchemy_url(url))
    with engine.begin() as conn:
        for n, (order, member, statuses) in enumerate(orders):
            conn.execute(
                sa.text(
                    "INSERT INTO customer_order (id, number, member_id, channel, fulfilment, "
                    "location_id, status, currency, total, note, created_at, updated_at, "
                    "at_risk, reminder_sent) VALUES (:id, :number, :member, 'POS', 'PICKUP', "
                    ":store, :status, 'CNY', 100, '', :at, :at, false, false)"
                ),
                {
                    "id": order,
                    "number": f"N{n}",
                    "member": member,
                    "store": str(uuid.uuid4()),
                    "status": statuses[-1],
                    "at": AT,
                },
            )
            for status in statuses:
                conn.execute(
                    sa.text(
                        "INSERT INTO order_event (id, order_id, to_status, actor, reason, at) "
                        "VALUES (:id, :order, :status, 'test', '', :at)"
                    ),
                    {"id": str(uuid.uuid4()), "order": order, "status": status, "at": AT},
                )
        # `both` collected its order after automations came: counted then, not twice now.
        conn.execute(
            sa.text("INSERT INTO automation_member (member_id, handed_over) VALUES (:m, 1)"),
            {"m": both},
        )
    migrate(url)
    with engine.connect() as conn:
        counted = {
            str(r["member_id"]): r["handed_over"]
            for r in conn.execute(
                sa.text("SELECT member_id, handed_over FROM automation_member")
            ).mappings()
        }
    engine.dispose()
    assert counted == {early: 2, both: 1}
