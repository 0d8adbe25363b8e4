from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q, Subquery

from domain.catalog.model import CatalogStatus, Category, Money, Product, Variant
from domain.errors import CatalogError, CatalogErrorCode
from domain.pagination import Page, PageRequest
from infra.db.models.catalog import CategoryRow, ProductRow, VariantRow
from infra.repositories.paging import after_uuid


def _product(row: ProductRow) -> Product:
    return Product(
        id=row.id,
        name=row.name,
        slug=row.slug,
        description=row.description,
        category_id=row.category_id,
        status=row.status,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _variant(row: VariantRow) -> Variant:
    return Variant(
        id=row.id,
        product_id=row.product_id,
        code=row.code,
        name=row.name,
        price=Money(row.price_amount, row.currency),
        status=row.status,
        created_at=row.created_at,
        updated_at=row.updated_at,
        barcode=row.barcode,
        attributes=dict(row.attributes or {}),
    )


def _category(row: CategoryRow) -> Category:
    return Category(id=row.id, name=row.name, slug=row.slug, parent_id=row.parent_id)


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
    async def get_product(self, product_id: UUID) -> Product | None:
        row = await ProductRow.get_or_none(id=product_id)
        return _product(row) if row else None

    async def get_products(self, ids: Sequence[UUID]) -> list[Product]:
        return [_product(r) for r in await ProductRow.filter(id__in=list(ids))]

    async def get_variant(self, variant_id: UUID) -> Variant | None:
        row = await VariantRow.get_or_none(id=variant_id)
        return _variant(row) if row else None

    async def get_variants(self, ids: Sequence[UUID]) -> list[Variant]:
        return [_variant(r) for r in await VariantRow.filter(id__in=list(ids))]

    async def variants_of(self, product_ids: Sequence[UUID]) -> list[Variant]:
        rows = await VariantRow.filter(product_id__in=list(product_ids)).order_by("id")
        return [_variant(r) for r in rows]

    async def variant_by_code(self, code: str) -> Variant | None:
        row = await VariantRow.get_or_none(code=code)
        return _variant(row) if row else None

    async def variant_by_barcode(self, barcode: str) -> Variant | None:
        row = await VariantRow.get_or_none(barcode=barcode)
        return _variant(row) if row else None

    async def get_category(self, category_id: UUID) -> Category | None:
        row = await CategoryRow.get_or_none(id=category_id)
        return _category(row) if row else None

    async def get_categories(self, ids: Sequence[UUID]) -> list[Category]:
        return [_category(r) for r in await CategoryRow.filter(id__in=list(ids))]

    async def list_categories(self) -> list[Category]:
        return [_category(r) for r in await CategoryRow.all().order_by("name")]

    async def slug_taken(self, slug: str, *, kind: str, exclude: UUID | None = None) -> bool:
        model = ProductRow if kind == "product" else CategoryRow
        query = model.filter(slug=slug)
        if exclude is not None:
            query = query.exclude(id=exclude)
        return await query.exists()

    async def list_products(
        self,
        page: PageRequest,
        *,
        search: str | None,
        category_id: UUID | None,
        statuses: Sequence[CatalogStatus],
    ) -> Page[Product]:
        query = ProductRow.filter(status__in=list(statuses))
        if search:
            by_variant = Q(code__icontains=search)
            if len(search) <= 14:  # longer text is no barcode (and fails the column's check)
                by_variant |= Q(barcode=search)
            matching = VariantRow.filter(by_variant).values("product_id")
            query = query.filter(Q(name__icontains=search) | Q(id__in=Subquery(matching)))
        if category_id is not None:
            query = query.filter(category_id=category_id)
        if page.after is not None:
            query = query.filter(id__gt=after_uuid(page.after))
        rows = await query.order_by("id").limit(page.first + 1)
        return Page.from_rows([_product(r) for r in rows], [str(r.id) for r in rows], page)

    async def add_product(self, product: Product) -> None:
        try:
            await ProductRow.create(
                id=product.id,
                name=product.name,
                slug=product.slug,
                description=product.description,
                category_id=product.category_id,
                status=product.status,
                created_at=product.created_at,
                updated_at=product.updated_at,
            )
        except IntegrityError as error:
            raise _duplicate(error) from None

    async def save_product(self, product: Product) -> None:
        try:
            await ProductRow.filter(id=product.id).update(
                name=product.name,
                slug=product.slug,
                description=product.description,
                category_id=product.category_id,
                status=product.status,
                updated_at=product.updated_at,
            )
        except IntegrityError as error:
            raise _duplicate(error) from None

    async def add_variant(self, variant: Variant) -> None:
        try:
            await VariantRow.create(id=variant.id, **_variant_fields(variant))
        except IntegrityError as error:
            raise _duplicate(error) from None

    async def save_variant(self, variant: Variant) -> None:
        try:
            await VariantRow.filter(id=variant.id).update(**_variant_fields(variant))
        except IntegrityError as error:
            raise _duplicate(error) from None

    async def add_category(self, category: Category) -> None:
        try:
            await CategoryRow.create(
                id=category.id,
                name=category.name,
                slug=category.slug,
                parent_id=category.parent_id,
            )
        except IntegrityError as error:
            raise _duplicate(error) from None

    async def set_variants_status(self, product_id: UUID, status: CatalogStatus) -> None:
        await VariantRow.filter(product_id=product_id).update(status=status)
