"""A Chinese storefront: names per language, search by any name, SKU or pinyin, product media,
variant attributes in their order.

- `product.names`, `variant.names`: {"zh-CN": ..., "en": ...} beside the display `name`.
- `product.search_names`, `product.search_text`: what the search matches
  (infra/catalog_search.py), filled here for the products that exist. On PostgreSQL one GIN
  trigram index (`pg_trgm`, `gin_trgm_ops`) over both serves LIKE '%...%' for queries of three
  characters or more that pg_trgm can split into trigrams: under a C-locale cluster those are
  Latin letters and digits (English, SKU, pinyin); CJK characters count only under a UTF-8
  locale, and one or two characters never make a trigram. Other queries scan the product table,
  with the same answer.
- `variant.attributes` becomes a list of [name, value] pairs: a jsonb object forgets the order
  in which they were given (规格 before 温度).
- `product_media`: a product's pictures and videos, ordered by `position`.

Revision ID: 0016_catalog_i18n_media
Revises: 0015_persisted_queries
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision = "0016_catalog_i18n_media"
down_revision = "0015_persisted_queries"
branch_labels = None
depends_on = None

UUID = sa.CHAR(36).with_variant(postgresql.UUID(), "postgresql")
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TRIGRAM_INDEX = "ix_product_search_trgm"

# variant.attributes, object <-> list of pairs, per dialect
TO_PAIRS = {
    "postgresql": "UPDATE variant SET attributes = COALESCE((SELECT jsonb_agg("
    "jsonb_build_array(key, value)) FROM jsonb_each_text(variant.attributes)), '[]'::jsonb) "
    "WHERE jsonb_typeof(attributes) = 'object'",
    "sqlite": "UPDATE variant SET attributes = COALESCE((SELECT json_group_array("
    "json_array(key, value)) FROM json_each(variant.attributes)), '[]') "
    "WHERE json_type(attributes) = 'object'",
}
TO_OBJECT = {
    "postgresql": "UPDATE variant SET attributes = COALESCE((SELECT jsonb_object_agg("
    "pair->>0, pair->>1) FROM jsonb_array_elements(variant.attributes) AS pair), '{}'::jsonb) "
    "WHERE jsonb_typeof(attributes) = 'array'",
    "sqlite": "UPDATE variant SET attributes = COALESCE((SELECT json_group_object("
    "json_extract(value, '$[0]'), json_extract(value, '$[1]')) "
    "FROM json_each(variant.attributes)), '{}') WHERE json_type(attributes) = 'array'",
}


def _fill_search_columns() -> None:
    """The search columns of the existing products, as `index_for_search` writes them."""
    from infra.catalog_search import search_columns

    bind = op.get_bind()
    products = bind.execute(sa.text("SELECT id, name FROM product")).all()
    variants: dict[str, list[tuple[str, str]]] = {}
    for product_id, name, code in bind.execute(
        sa.text("SELECT product_id, name, code FROM variant ORDER BY id")
    ):
        variants.setdefault(str(product_id), []).append((name, code))
    update = sa.text("UPDATE product SET search_names = :names, search_text = :text WHERE id = :id")
    for product_id, name in products:
        own = variants.get(str(product_id), [])
        names, text = search_columns([name], [n for n, _ in own], [c for _, c in own])
        bind.execute(update, {"id": product_id, "names": names, "text": text})


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    empty = sa.text("'{}'")
    with op.batch_alter_table("product") as batch:
        batch.add_column(sa.Column("names", JSON, nullable=False, server_default=empty))
        batch.add_column(sa.Column("search_names", sa.Text(), nullable=False, server_default=""))
        batch.add_column(sa.Column("search_text", sa.Text(), nullable=False, server_default=""))
    with op.batch_alter_table("variant") as batch:
        batch.add_column(sa.Column("names", JSON, nullable=False, server_default=empty))
    op.execute(TO_PAIRS[dialect])
    _fill_search_columns()
    if dialect == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.execute(
            f"CREATE INDEX {TRIGRAM_INDEX} ON product "
            "USING gin (search_names gin_trgm_ops, search_text gin_trgm_ops)"
        )
    op.create_table(
        "product_media",
        sa.Column("id", UUID, primary_key=True),
        sa.Column(
            "product_id", UUID, sa.ForeignKey("product.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("url", sa.String(2048), nullable=False),
        sa.Column("alt", sa.String(300), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.CheckConstraint("kind IN ('IMAGE','VIDEO')", name="ck_product_media_kind"),
        sa.CheckConstraint("position >= 0", name="ck_product_media_position"),
    )
    op.create_index(
        "ix_product_media_product_position", "product_media", ["product_id", "position"]
    )


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.drop_table("product_media")
    if dialect == "postgresql":
        # pg_trgm stays: other objects of the database may use it.
        op.execute(f"DROP INDEX IF EXISTS {TRIGRAM_INDEX}")
    op.execute(TO_OBJECT[dialect])
    with op.batch_alter_table("variant") as batch:
        batch.drop_column("names")
    with op.batch_alter_table("product") as batch:
        batch.drop_column("search_text")
        batch.drop_column("search_names")
        batch.drop_column("names")
