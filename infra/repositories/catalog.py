from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from tortoise.exceptions import IntegrityError

from domain.catalog.model import (
    CatalogStatus,
    Category,
    Locale,
    LocalizedNames,
    MediaKind,
    Money,
    Product,
    ProductMedia,
    Variant,
)
from domain.errors import CatalogError, CatalogErrorCode, CommonError, CommonErrorCode
from domain.pagination import Page, PageRequest
from infra.catalog_search import LIKE_ESCAPE, like_patterns, search_columns
from infra.db import sql
from infra.repositories.paging import after_uuid

PRODUCT_COLUMNS = (
    "id, name, slug, description, category_id, status, created_at, updated_at, names, "
    "return_window_days, refund_only_within_hours"
)
VARIANT_COLUMNS = (
    "id, product_id, code, name, price_amount, currency, status, created_at, updated_at, "
    "barcode, attributes, names"
)
MEDIA_COLUMNS = "id, product_id, kind, url, alt, position"
PRODUCT_FIELDS = tuple(PRODUCT_COLUMNS.split(", "))
SELECT_PRODUCTS = f"SELECT {PRODUCT_COLUMNS} FROM product"
SELECT_VARIANTS = f"SELECT {VARIANT_COLUMNS} FROM variant"
CATEGORY_COLUMNS = "id, name, slug, parent_id, return_window_days, refund_only_within_hours"
SELECT_CATEGORIES = f"SELECT {CATEGORY_COLUMNS} FROM category"
SELECT_MEDIA = f"SELECT {MEDIA_COLUMNS} FROM product_media"
LOCALES = {locale.value: locale for locale in Locale}


def _names(value: Any) -> LocalizedNames:
    stored = sql.as_json(value) or {}
    return {LOCALES[tag]: name for tag, name in stored.items() if tag in LOCALES}


def _names_json(names: LocalizedNames) -> dict[str, str]:
    return {locale.value: name for locale, name in names.items()}


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
        names=_names(row["names"]),
        return_window_days=row["return_window_days"],
        refund_only_within_hours=row["refund_only_within_hours"],
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
        attributes=_attributes(row["attributes"]),
        names=_names(row["names"]),
    )


def _attributes(value: Any) -> dict[str, str]:
    """[[name, value], ...] in their order; an object is a row written by the release before
    0014 during a rolling deploy."""
    stored = sql.as_json(value) or []
    return dict(stored.items() if isinstance(stored, dict) else stored)


def _media(row: dict[str, Any]) -> ProductMedia:
    return ProductMedia(
        id=sql.as_uuid(row["id"]),
        product_id=sql.as_uuid(row["product_id"]),
        kind=MediaKind(row["kind"]),
        url=row["url"],
        alt=row["alt"],
        position=int(row["position"]),
    )


def _category(row: dict[str, Any]) -> Category:
    return Category(
        id=sql.as_uuid(row["id"]),
        name=row["name"],
        slug=row["slug"],
        parent_id=sql.as_optional_uuid(row["parent_id"]),
        return_window_days=row["return_window_days"],
        refund_only_within_hours=row["refund_only_within_hours"],
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
        "names": _names_json(product.names),
        "return_window_days": product.return_window_days,
        "refund_only_within_hours": product.refund_only_within_hours,
    }


def _category_fields(category: Category) -> dict[str, Any]:
    return {
        "name": category.name,
        "slug": category.slug,
        "parent_id": category.parent_id,
        "return_window_days": category.return_window_days,
        "refund_only_within_hours": category.refund_only_within_hours,
    }


def _variant_fields(variant: Variant) -> dict[str, Any]:
    return {
        "product_id": variant.product_id,
        "code": variant.code,
        "barcode": variant.barcode,
        "name": variant.name,
        "names": _names_json(variant.names),
        "attributes": [[name, value] for name, value in variant.attributes.items()],
        "price_amount": variant.price.amount,
        "currency": variant.price.currency,
        "status": variant.status,
        "created_at": variant.created_at,
        "updated_at": variant.updated_at,
    }


def _search_cursor(key: str) -> tuple[int, UUID]:
    """A search result's cursor, "rank:id" (`_search_products`)."""
    rank, _, product_id = key.partition(":")
    if rank in ("0", "1", "2", "3"):
        return int(rank), after_uuid(product_id)
    raise CommonError(
        CommonErrorCode.INVALID_INPUT,
        "`after` is not a cursor from this search; pass a `cursor` or `endCursor` as given.",
        ["after"],
    )


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
    reads here), the text search too (LIKE on both databases, infra/catalog_search.py).
    `touched`: this instance wrote (the unit of work tells the catalog cache after its
    commit)."""

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
        """Products whose names, variant names, SKU codes or pinyin contain `search`, or with a
        variant of that barcode; a whole name first, then a name's start, then a name
        containing it, then the rest (`search_rank`), by id within each. The cursor is
        "rank:id"."""
        patterns = like_patterns(search)
        if patterns is None:
            return Page.from_rows([], [], page)
        whole, start, anywhere = patterns
        values: list[Any] = [whole, start, anywhere, search.strip()[:14]]
        escape = f"ESCAPE '{LIKE_ESCAPE}'"
        rank = (
            f"CASE WHEN search_names LIKE $1 {escape} THEN 0 "
            f"WHEN search_names LIKE $2 {escape} THEN 1 "
            f"WHEN search_names LIKE $3 {escape} THEN 2 ELSE 3 END"
        )
        where = [
            f"(search_names LIKE $3 {escape} OR search_text LIKE $3 {escape} "
            "OR id IN (SELECT product_id FROM variant WHERE barcode = $4))"
        ]
        values.extend(s.value for s in statuses)
        where.append(f"status IN ({sql.placeholders(len(statuses), 5)})")
        if category_id is not None:
            values.append(category_id)
            where.append(f"category_id = ${len(values)}")
        after = ""
        if page.after is not None:
            after_rank, after_id = _search_cursor(page.after)
            values.extend([after_rank, after_id])
            n = len(values)
            after = f"WHERE search_rank > ${n - 1} OR (search_rank = ${n - 1} AND id > ${n})"
        values.append(page.first + 1)
        rows = await sql.fetch(
            f"SELECT * FROM (SELECT {PRODUCT_COLUMNS}, {rank} AS search_rank FROM product "
            f"WHERE {' AND '.join(where)}) AS found {after} "
            f"ORDER BY search_rank, id LIMIT ${len(values)}",
            *values,
        )
        products = [_product(r) for r in rows]
        keys = [f"{r['search_rank']}:{p.id}" for r, p in zip(rows, products, strict=True)]
        return Page.from_rows(products, keys, page)

    async def index_for_search(self, product_id: UUID) -> None:
        self.touched = True
        product = await TortoiseCatalogRepository.get_product(self, product_id)
        if product is None:
            return
        variants = await TortoiseCatalogRepository.variants_of(self, [product_id])
        names, text = search_columns(
            [product.name, *product.names.values()],
            [name for v in variants for name in (v.name, *v.names.values())],
            [v.code for v in variants],
        )
        await sql.update(
            "product", {"search_names": names, "search_text": text}, "id = $1", product_id
        )

    async def lock_product(self, product_id: UUID) -> Product | None:
        # FOR UPDATE on PostgreSQL; SQLite serialises writers itself.
        lock = "" if sql.is_sqlite() else " FOR UPDATE"
        rows = await sql.fetch(f"{SELECT_PRODUCTS} WHERE id = $1{lock}", product_id)
        return _product(rows[0]) if rows else None

    async def media_of(self, product_ids: Sequence[UUID]) -> list[ProductMedia]:
        if not product_ids:
            return []
        keys = list(product_ids)
        rows = await sql.fetch(
            f"{SELECT_MEDIA} WHERE product_id IN ({sql.placeholders(len(keys))}) "
            "ORDER BY product_id, position, id",
            *keys,
        )
        return [_media(r) for r in rows]

    async def get_media(self, media_id: UUID) -> ProductMedia | None:
        rows = await sql.fetch(f"{SELECT_MEDIA} WHERE id = $1", media_id)
        return _media(rows[0]) if rows else None

    async def add_media(self, media: ProductMedia) -> None:
        self.touched = True
        await sql.insert_row(
            "product_media",
            {
                "id": media.id,
                "product_id": media.product_id,
                "kind": media.kind,
                "url": media.url,
                "alt": media.alt,
                "position": media.position,
            },
        )

    async def save_media_positions(self, media: Sequence[ProductMedia]) -> None:
        self.touched = True
        for item in media:
            await sql.update("product_media", {"position": item.position}, "id = $1", item.id)

    async def remove_media(self, media_id: UUID) -> None:
        self.touched = True
        await sql.execute("DELETE FROM product_media WHERE id = $1", media_id)

    async def add_product(self, product: Product) -> None:
        self.touched = True
        try:
            await sql.insert_row(
                "product",
                {
                    "id": product.id,
                    "created_at": product.created_at,
                    **_product_fields(product),
                    "search_names": "",  # `index_for_search` fills them
                    "search_text": "",
                },
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
            await sql.insert_row("category", {"id": category.id, **_category_fields(category)})
        except IntegrityError as error:
            raise _duplicate(error) from None

    async def save_category(self, category: Category) -> None:
        self.touched = True
        await sql.update("category", _category_fields(category), "id = $1", category.id)

    async def set_variants_status(self, product_id: UUID, status: CatalogStatus) -> None:
        self.touched = True
        await sql.update("variant", {"status": status}, "product_id = $1", product_id)
