from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q, Subquery

from domain.catalog.model import CatalogStatus, Category, Money, Product, Variant
from domain.errors import CatalogError, CatalogErrorCode
from domain.pagination import Page, PageRequest
from infra.db import sql
from infra.db.models.catalog import ProductRow, VariantRow
from infra.repositories.paging import after_uuid

PRODUCT_COLUMNS = "id, name, slug, description, category_id, status, created_at, updated_at"
VARIANT_COLUMNS = (
    "id, product_id, code, name, price_amount, currency, status, created_at, updated_at, "
    "barcode, attributes"
)
PRODUCT_FIELDS = tuple(PRODUCT_COLUMNS.split(", "))
SELECT_PRODUCTS = f"SELECT {PRODUCT_COLUMNS} FROM product"
SELECT_VARIANTS = f"SELECT {VARIANT_COLUMNS} FROM variant"
SELECT_CATEGORIES = "SELECT id, name, slug, parent_id FROM category"
VARIANT_AND_PRODUCT = ", ".join(
    [f"v.{name}" for name in VARIANT_COLUMNS.split(", ")]
    + [f"p.{name} AS p_{name}" for name in PRODUCT_FIELDS]
)


def _product(row: dict[str, Any]) -> Product:
    return Product(
        id=sql.as_uuid(row["id"]),
        name=row["name"],
        slug=row["slug"],
        description=row["description"],
        category_id=sql.as_optional_uuid(row["category_id"]),
        status=CatalogStatus(row["status"]),
        created_at=sql.as_datetime(row["created_at"]),
        updated_at=sql.as_datetime(row["updated_at"]),
    )


def _variant(row: dict[str, Any]) -> Variant:
    return Variant(
        id=sql.as_uuid(row["id"]),
        product_id=sql.as_uuid(row["product_id"]),
        code=row["code"],
        name=row["name"],
        price=Money(row["price_amount"], row["currency"]),
        status=CatalogStatus(row["status"]),
        created_at=sql.as_datetime(row["created_at"]),
        updated_at=sql.as_datetime(row["updated_at"]),
        barcode=row["barcode"],
        attributes=dict(sql.as_json(row["attributes"]) or {}),
    )


def _category(row: dict[str, Any]) -> Category:
    return Category(
        id=sql.as_uuid(row["id"]),
        name=row["name"],
        slug=row["slug"],
        parent_id=sql.as_optional_uuid(row["parent_id"]),
    )


async def _by_ids(select: str, column: str, ids: Sequence[UUID]) -> list[dict[str, Any]]:
    if not ids:
        return []
    keys = list(ids)
    return await sql.fetch(f"{select} WHERE {column} IN ({sql.placeholders(len(keys))})", *keys)


def _product_fields(product: Product) -> dict[str, Any]:
    """The columns a save writes (all but the id and created_at)."""
    return {
        "name": product.name,
        "slug": product.slug,
        "description": product.description,
        "category_id": product.category_id,
        "status": product.status,
        "updated_at": product.updated_at,
    }


def _variant_fields(variant: Variant) -> dict[str, Any]:
    return {
        "product_id": variant.product_id,
        "code": variant.code,
        "barcode": variant.barcode,
        "name": variant.name,
        "attributes": variant.attributes,
        "price_amount": variant.price.amount,
        "currency": variant.price.currency,
        "status": variant.status,
        "created_at": variant.created_at,
        "updated_at": variant.updated_at,
    }


def _duplicate(error: IntegrityError) -> CatalogError:
    """A unique key lost a race with a concurrent writer: say which one."""
    text = str(error).lower()
    if "barcode" in text:
        return CatalogError(CatalogErrorCode.DUPLICATE_BARCODE, "Barcode exists.", ["barcode"])
    if "slug" in text:
        return CatalogError(CatalogErrorCode.DUPLICATE_SLUG, "Slug is taken.", ["slug"])
    return CatalogError(CatalogErrorCode.DUPLICATE_CODE, "SKU code exists.", ["code"])


class TortoiseCatalogRepository:
    """Reads and writes through prebuilt SQL (every product list, variant and order view
    reads here); the text search, a use case of its own, through the ORM. `touched`: this
    instance wrote (the unit of work tells the catalog cache after its commit)."""

    touched = False

    async def get_product(self, product_id: UUID) -> Product | None:
        rows = await sql.fetch(f"{SELECT_PRODUCTS} WHERE id = $1", product_id)
        return _product(rows[0]) if rows else None

    async def get_products(self, ids: Sequence[UUID]) -> list[Product]:
        return [_product(r) for r in await _by_ids(SELECT_PRODUCTS, "id", ids)]

    async def get_variant(self, variant_id: UUID) -> Variant | None:
        rows = await sql.fetch(f"{SELECT_VARIANTS} WHERE id = $1", variant_id)
        return _variant(rows[0]) if rows else None

    async def get_variants(self, ids: Sequence[UUID]) -> list[Variant]:
        return [_variant(r) for r in await _by_ids(SELECT_VARIANTS, "id", ids)]

    async def variants_with_products(self, ids: Sequence[UUID]) -> list[tuple[Variant, Product]]:
        """Checkout prices its lines from both: one statement."""
        if not ids:
            return []
        keys = list(ids)
        rows = await sql.fetch(
            f"SELECT {VARIANT_AND_PRODUCT} FROM variant v JOIN product p ON p.id = v.product_id "
            f"WHERE v.id IN ({sql.placeholders(len(keys))})",
            *keys,
        )
        return [
            (_variant(r), _product({name: r[f"p_{name}"] for name in PRODUCT_FIELDS})) for r in rows
        ]

    async def variants_of(self, product_ids: Sequence[UUID]) -> list[Variant]:
        rows = await _by_ids(SELECT_VARIANTS, "product_id", product_ids)
        return sorted((_variant(r) for r in rows), key=lambda v: v.id)

    async def variant_by_code(self, code: str) -> Variant | None:
        rows = await sql.fetch(f"{SELECT_VARIANTS} WHERE code = $1", code)
        return _variant(rows[0]) if rows else None

    async def variant_by_barcode(self, barcode: str) -> Variant | None:
        rows = await sql.fetch(f"{SELECT_VARIANTS} WHERE barcode = $1", barcode)
        return _variant(rows[0]) if rows else None

    async def get_category(self, category_id: UUID) -> Category | None:
        rows = await sql.fetch(f"{SELECT_CATEGORIES} WHERE id = $1", category_id)
        return _category(rows[0]) if rows else None

    async def get_categories(self, ids: Sequence[UUID]) -> list[Category]:
        return [_category(r) for r in await _by_ids(SELECT_CATEGORIES, "id", ids)]

    async def list_categories(self) -> list[Category]:
        return [_category(r) for r in await sql.fetch(f"{SELECT_CATEGORIES} ORDER BY name")]

    async def slug_taken(self, slug: str, *, kind: str, exclude: UUID | None = None) -> bool:
        table = "product" if kind == "product" else "category"
        if exclude is None:
            return bool(await sql.fetch(f"SELECT 1 FROM {table} WHERE slug = $1", slug))
        return bool(
            await sql.fetch(f"SELECT 1 FROM {table} WHERE slug = $1 AND id <> $2", slug, exclude)
        )

    async def list_products(
        self,
        page: PageRequest,
        *,
        search: str | None,
        category_id: UUID | None,
        statuses: Sequence[CatalogStatus],
    ) -> Page[Product]:
        if search:
            return await self._search_products(page, search, category_id, statuses)
        values: list[Any] = [s.value for s in statuses]
        where = [f"status IN ({sql.placeholders(len(values))})"]
        if category_id is not None:
            values.append(category_id)
            where.append(f"category_id = ${len(values)}")
        if page.after is not None:
            values.append(after_uuid(page.after))
            where.append(f"id > ${len(values)}")
        values.append(page.first + 1)
        rows = await sql.fetch(
            f"{SELECT_PRODUCTS} WHERE {' AND '.join(where)} ORDER BY id LIMIT ${len(values)}",
            *values,
        )
        products = [_product(r) for r in rows]
        return Page.from_rows(products, [str(p.id) for p in products], page)

    async def _search_products(
        self,
        page: PageRequest,
        search: str,
        category_id: UUID | None,
        statuses: Sequence[CatalogStatus],
    ) -> Page[Product]:
        query = ProductRow.filter(status__in=list(statuses))
        by_variant = Q(code__icontains=search)
        if len(search) <= 14:  # longer text is no barcode (and fails the column's check)
            by_variant |= Q(barcode=search)
        matching = VariantRow.filter(by_variant).values("product_id")
        query = query.filter(Q(name__icontains=search) | Q(id__in=Subquery(matching)))
        if category_id is not None:
            query = query.filter(category_id=category_id)
        if page.after is not None:
            query = query.filter(id__gt=after_uuid(page.after))
        rows = await query.order_by("id").limit(page.first + 1).values(*PRODUCT_FIELDS)
        products = [_product(r) for r in rows]
        return Page.from_rows(products, [str(p.id) for p in products], page)

    async def add_product(self, product: Product) -> None:
        self.touched = True
        try:
            await sql.insert_row(
                "product",
                {"id": product.id, "created_at": product.created_at, **_product_fields(product)},
            )
        except IntegrityError as error:
            raise _duplicate(error) from None

    async def save_product(self, product: Product) -> None:
        self.touched = True
        try:
            await sql.update("product", _product_fields(product), "id = $1", product.id)
        except IntegrityError as error:
            raise _duplicate(error) from None

    async def add_variant(self, variant: Variant) -> None:
        self.touched = True
        try:
            await sql.insert_row("variant", {"id": variant.id, **_variant_fields(variant)})
        except IntegrityError as error:
            raise _duplicate(error) from None

    async def save_variant(self, variant: Variant) -> None:
        self.touched = True
        try:
            await sql.update("variant", _variant_fields(variant), "id = $1", variant.id)
        except IntegrityError as error:
            raise _duplicate(error) from None

    async def add_category(self, category: Category) -> None:
        self.touched = True
        try:
            await sql.insert_row(
                "category",
                {
                    "id": category.id,
                    "name": category.name,
                    "slug": category.slug,
                    "parent_id": category.parent_id,
                },
            )
        except IntegrityError as error:
            raise _duplicate(error) from None

    async def set_variants_status(self, product_id: UUID, status: CatalogStatus) -> None:
        self.touched = True
        await sql.update("variant", {"status": status}, "product_id = $1", product_id)
