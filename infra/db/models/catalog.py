from __future__ import annotations

from typing import Any
from uuid import UUID

from tortoise import fields
from tortoise.models import Model

from domain.catalog.model import CatalogStatus, MediaKind


class CategoryRow(Model):
    id = fields.UUIDField(primary_key=True)
    name = fields.CharField(max_length=100)
    slug = fields.CharField(max_length=100, unique=True)
    parent: fields.ForeignKeyNullableRelation[CategoryRow] = fields.ForeignKeyField(
        "models.CategoryRow", related_name="children", null=True, on_delete=fields.RESTRICT
    )

    # Return policies of its products (0025; a product's own win): None is the default.
    return_window_days = fields.IntField(null=True)
    refund_only_within_hours = fields.IntField(null=True)

    parent_id: UUID | None

    class Meta:
        table = "category"


class ProductRow(Model):
    id = fields.UUIDField(primary_key=True)
    name = fields.CharField(max_length=200)
    slug = fields.CharField(max_length=100, unique=True)
    description = fields.TextField()
    category: fields.ForeignKeyNullableRelation[CategoryRow] = fields.ForeignKeyField(
        "models.CategoryRow",
        related_name="products",
        null=True,
        on_delete=fields.SET_NULL,
        db_index=True,
    )
    status = fields.CharEnumField(CatalogStatus, max_length=10)
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()
    names: Any = fields.JSONField()  # {"zh-CN": ..., "en": ...}
    return_window_days = fields.IntField(null=True)  # None: the default; 0: no returns
    refund_only_within_hours = fields.IntField(null=True)  # fresh produce: refund-only, N h
    # Written by `index_for_search`, read only by the search (infra/catalog_search.py).
    search_names = fields.TextField()
    search_text = fields.TextField()

    category_id: UUID | None

    class Meta:
        table = "product"


class VariantRow(Model):
    id = fields.UUIDField(primary_key=True)
    product: fields.ForeignKeyRelation[ProductRow] = fields.ForeignKeyField(
        "models.ProductRow", related_name="variants", on_delete=fields.CASCADE, db_index=True
    )
    code = fields.CharField(max_length=64, unique=True)
    barcode = fields.CharField(max_length=14, unique=True, null=True)
    name = fields.CharField(max_length=200)
    attributes: Any = fields.JSONField()
    price_amount = fields.BigIntField()
    currency = fields.CharField(max_length=3)
    status = fields.CharEnumField(CatalogStatus, max_length=10)
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()
    names: Any = fields.JSONField()

    product_id: UUID

    class Meta:
        table = "variant"


class ProductMediaRow(Model):
    id = fields.UUIDField(primary_key=True)
    product: fields.ForeignKeyRelation[ProductRow] = fields.ForeignKeyField(
        "models.ProductRow", related_name="media", on_delete=fields.CASCADE, db_index=False
    )
    kind = fields.CharEnumField(MediaKind, max_length=10)
    url = fields.CharField(max_length=2048)
    alt = fields.CharField(max_length=300)
    position = fields.IntField()

    product_id: UUID

    class Meta:
        table = "product_media"
        indexes = (("product_id", "position"),)
