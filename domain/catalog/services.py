"""Catalog use cases (ADMIN and catalog-sync API keys)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import TypeVar
from uuid import UUID

from domain.catalog.deps import CatalogDeps
from domain.catalog.model import (
    CatalogStatus,
    Category,
    Locale,
    Product,
    Variant,
    clean_attributes,
    clean_barcode,
    clean_code,
    clean_name,
    clean_names,
    clean_price,
    clean_slug,
    slugify,
)
from domain.errors import CatalogError, CatalogErrorCode
from domain.identity.model import ApiScope, Principal
from domain.ids import new_id
from domain.uow import UnitOfWork

MAX_VARIANTS_PER_PRODUCT = 100

Names = Sequence[tuple[Locale, str]]  # (language, name) as given: cleaned by `clean_names`
Attributes = Sequence[tuple[str, str]]  # (name, value) as given: cleaned by `clean_attributes`

Sellable = TypeVar("Sellable", Product, Variant)


def sees_archived(principal: Principal | None) -> bool:
    """Who sees ARCHIVED products and variants: ADMIN staff and catalog:read keys. Everyone
    else (shoppers, anonymous callers, stores) sees ACTIVE ones only."""
    return principal is not None and (
        principal.is_admin or principal.has_scope(ApiScope.CATALOG_READ)
    )


def visible(item: Sellable | None, principal: Principal | None) -> Sellable | None:
    """The product or variant if `principal` may see it, else None (as if it did not exist)."""
    if item is None or not (item.status is CatalogStatus.ACTIVE or sees_archived(principal)):
        return None
    return item


def listed(
    items: Sequence[Sellable], principal: Principal | None, *, include_archived: bool
) -> list[Sellable]:
    """The items of a list `principal` sees: ARCHIVED ones only when asked for and allowed
    (`sees_archived`); asking without the right lists the ACTIVE ones."""
    every = include_archived and sees_archived(principal)
    return [i for i in items if every or i.status is CatalogStatus.ACTIVE]


@dataclass(frozen=True)
class VariantDraft:
    code: str
    name: str
    price: int
    currency: str = "CNY"
    barcode: str | None = None
    attributes: Attributes = ()
    names: Names = ()


@dataclass(frozen=True)
class ProductDraft:
    name: str
    description: str = ""
    slug: str | None = None
    category_id: UUID | None = None
    variants: Sequence[VariantDraft] = ()
    names: Names = ()
    return_window_days: int | None = None  # None: the category's, or the default window
    refund_only_within_hours: int | None = None  # None: the category's, or none


class Keep(Enum):
    """A patch field left as it is (where None means something: back to the default)."""

    KEEP = "KEEP"


MAX_RETURN_WINDOW_DAYS = 365
MAX_REFUND_ONLY_HOURS = 24 * 30


def clean_return_window(days: int | None) -> int | None:
    if days is not None and not 0 <= days <= MAX_RETURN_WINDOW_DAYS:
        raise CatalogError(
            CatalogErrorCode.INVALID_INPUT,
            f"`returnWindowDays` is 0 (no returns) to {MAX_RETURN_WINDOW_DAYS}, or null.",
            ["returnWindowDays"],
        )
    return days


def clean_refund_only_hours(hours: int | None) -> int | None:
    if hours is not None and not 1 <= hours <= MAX_REFUND_ONLY_HOURS:
        raise CatalogError(
            CatalogErrorCode.INVALID_INPUT,
            f"`refundOnlyWithinHours` is 1 to {MAX_REFUND_ONLY_HOURS}, or null.",
            ["refundOnlyWithinHours"],
        )
    return hours


@dataclass(frozen=True)
class ReturnPolicyPatch:
    """A product's or category's return policy fields; Keep.KEEP leaves one as it is, None
    sets it back to unset (the category's, or the default)."""

    return_window_days: int | Keep | None = Keep.KEEP
    refund_only_within_hours: int | Keep | None = Keep.KEEP


def _apply_policy(target: Product | Category, patch: ReturnPolicyPatch) -> None:
    if not isinstance(patch.return_window_days, Keep):
        target.return_window_days = clean_return_window(patch.return_window_days)
    if not isinstance(patch.refund_only_within_hours, Keep):
        target.refund_only_within_hours = clean_refund_only_hours(patch.refund_only_within_hours)


@dataclass(frozen=True)
class ProductPatch:
    name: str | None = None
    description: str | None = None
    slug: str | None = None
    category_id: UUID | None = None
    names: Names | None = None  # replaces them all
    policy: ReturnPolicyPatch = ReturnPolicyPatch()


@dataclass(frozen=True)
class VariantPatch:
    name: str | None = None
    price: int | None = None
    barcode: str | None = None  # "" clears it
    attributes: Attributes | None = None  # replaces them all
    names: Names | None = None  # replaces them all


def _not_found(what: str, field_name: str) -> CatalogError:
    return CatalogError(CatalogErrorCode.NOT_FOUND, f"Unknown {what}.", [field_name])


def _prefixed(error: CatalogError, *path: str) -> CatalogError:
    error.field = [*path, *(error.field or [])]
    return error


def _clean_description(value: str) -> str:
    description = value.strip()
    if len(description) > 10_000 or "\x00" in description:  # PostgreSQL cannot store U+0000
        raise CatalogError(
            CatalogErrorCode.INVALID_INPUT,
            "`description` is at most 10000 characters (and no NUL).",
            ["description"],
        )
    return description


async def _check_category(uow: UnitOfWork, category_id: UUID | None) -> None:
    if category_id is not None and await uow.catalog.get_category(category_id) is None:
        raise _not_found("category", "categoryId")


async def _new_variant(
    deps: CatalogDeps, uow: UnitOfWork, product_id: UUID, draft: VariantDraft
) -> Variant:
    code = clean_code(draft.code)
    barcode = clean_barcode(draft.barcode)
    if await uow.catalog.variant_by_code(code):
        raise CatalogError(
            CatalogErrorCode.DUPLICATE_CODE, f"SKU code {code!r} already exists.", ["code"]
        )
    if barcode and await uow.catalog.variant_by_barcode(barcode):
        raise CatalogError(
            CatalogErrorCode.DUPLICATE_BARCODE, f"Barcode {barcode} already exists.", ["barcode"]
        )
    now = deps.clock.now()
    variant = Variant(
        id=new_id(),
        product_id=product_id,
        code=code,
        name=clean_name(draft.name),
        price=clean_price(draft.price, draft.currency),
        status=CatalogStatus.ACTIVE,
        created_at=now,
        updated_at=now,
        barcode=barcode,
        attributes=clean_attributes(draft.attributes),
        names=clean_names(draft.names),
    )
    await uow.catalog.add_variant(variant)
    return variant


async def create_product(deps: CatalogDeps, draft: ProductDraft) -> Product:
    name = clean_name(draft.name)
    names = clean_names(draft.names)
    description = _clean_description(draft.description)
    return_window_days = clean_return_window(draft.return_window_days)
    refund_only_within_hours = clean_refund_only_hours(draft.refund_only_within_hours)
    if len(draft.variants) > MAX_VARIANTS_PER_PRODUCT:
        raise CatalogError(
            CatalogErrorCode.TOO_MANY_ITEMS,
            f"At most {MAX_VARIANTS_PER_PRODUCT} variants per product.",
            ["variants"],
        )
    codes = [v.code.strip() for v in draft.variants]
    if len(set(codes)) != len(codes):
        raise CatalogError(
            CatalogErrorCode.DUPLICATE_CODE, "Two variants share one SKU code.", ["variants"]
        )
    product_id = new_id()
    slug = clean_slug(draft.slug) if draft.slug else slugify(name, product_id.hex[-6:])
    now = deps.clock.now()
    product = Product(
        id=product_id,
        name=name,
        slug=slug,
        description=description,
        category_id=draft.category_id,
        status=CatalogStatus.ACTIVE,
        created_at=now,
        updated_at=now,
        names=names,
        return_window_days=return_window_days,
        refund_only_within_hours=refund_only_within_hours,
    )
    async with deps.uow() as uow:
        await _check_category(uow, draft.category_id)
        if await uow.catalog.slug_taken(slug, kind="product"):
            raise CatalogError(
                CatalogErrorCode.DUPLICATE_SLUG, f"Slug {slug!r} is taken.", ["slug"]
            )
        await uow.catalog.add_product(product)
        for index, variant in enumerate(draft.variants):
            try:
                await _new_variant(deps, uow, product.id, variant)
            except CatalogError as error:
                raise _prefixed(error, "variants", str(index)) from None
        await uow.catalog.index_for_search(product.id)
    return product


async def update_product(deps: CatalogDeps, product_id: UUID, patch: ProductPatch) -> Product:
    async with deps.uow() as uow:
        product = await uow.catalog.get_product(product_id)
        if product is None:
            raise _not_found("product", "id")
        if patch.name is not None:
            product.name = clean_name(patch.name)
        if patch.names is not None:
            product.names = clean_names(patch.names)
        if patch.description is not None:
            product.description = _clean_description(patch.description)
        if patch.slug is not None:
            slug = clean_slug(patch.slug)
            if await uow.catalog.slug_taken(slug, kind="product", exclude=product.id):
                raise CatalogError(
                    CatalogErrorCode.DUPLICATE_SLUG, f"Slug {slug!r} is taken.", ["slug"]
                )
            product.slug = slug
        if patch.category_id is not None:
            await _check_category(uow, patch.category_id)
            product.category_id = patch.category_id
        _apply_policy(product, patch.policy)
        product.updated_at = deps.clock.now()
        await uow.catalog.save_product(product)
        if patch.name is not None or patch.names is not None:
            await uow.catalog.index_for_search(product.id)
    return product


async def set_product_status(deps: CatalogDeps, product_id: UUID, status: CatalogStatus) -> Product:
    """Archiving a product archives its variants; restoring it restores them."""
    async with deps.uow() as uow:
        product = await uow.catalog.get_product(product_id)
        if product is None:
            raise _not_found("product", "id")
        product.status = status
        product.updated_at = deps.clock.now()
        await uow.catalog.save_product(product)
        await uow.catalog.set_variants_status(product.id, status)
    return product


async def create_variant(deps: CatalogDeps, product_id: UUID, draft: VariantDraft) -> Variant:
    async with deps.uow() as uow:
        product = await uow.catalog.get_product(product_id)
        if product is None:
            raise _not_found("product", "productId")
        if product.status is CatalogStatus.ARCHIVED:
            raise CatalogError(
                CatalogErrorCode.ARCHIVED,
                "The product is archived; restore it before adding variants.",
                ["productId"],
            )
        variant = await _new_variant(deps, uow, product.id, draft)
        await uow.catalog.index_for_search(product.id)
    return variant


async def update_variant(deps: CatalogDeps, variant_id: UUID, patch: VariantPatch) -> Variant:
    async with deps.uow() as uow:
        variant = await uow.catalog.get_variant(variant_id)
        if variant is None:
            raise _not_found("variant", "id")
        if patch.name is not None:
            variant.name = clean_name(patch.name)
        if patch.names is not None:
            variant.names = clean_names(patch.names)
        if patch.price is not None:
            variant.price = clean_price(patch.price, variant.price.currency)
        if patch.barcode is not None:
            barcode = clean_barcode(patch.barcode)
            if barcode and barcode != variant.barcode:
                other = await uow.catalog.variant_by_barcode(barcode)
                if other is not None:
                    raise CatalogError(
                        CatalogErrorCode.DUPLICATE_BARCODE,
                        f"Barcode {barcode} already exists.",
                        ["barcode"],
                    )
            variant.barcode = barcode
        if patch.attributes is not None:
            variant.attributes = clean_attributes(patch.attributes)
        variant.updated_at = deps.clock.now()
        await uow.catalog.save_variant(variant)
        if patch.name is not None or patch.names is not None:
            await uow.catalog.index_for_search(variant.product_id)
    return variant


async def set_variant_status(deps: CatalogDeps, variant_id: UUID, status: CatalogStatus) -> Variant:
    async with deps.uow() as uow:
        variant = await uow.catalog.get_variant(variant_id)
        if variant is None:
            raise _not_found("variant", "id")
        if status is CatalogStatus.ACTIVE:
            product = await uow.catalog.get_product(variant.product_id)
            if product is not None and product.status is CatalogStatus.ARCHIVED:
                raise CatalogError(
                    CatalogErrorCode.ARCHIVED,
                    "The product is archived; restore the product first.",
                    ["id"],
                )
        variant.status = status
        variant.updated_at = deps.clock.now()
        await uow.catalog.save_variant(variant)
    return variant


async def create_category(
    deps: CatalogDeps,
    name: str,
    slug: str | None,
    parent_id: UUID | None,
    policy: ReturnPolicyPatch = ReturnPolicyPatch(),
) -> Category:
    clean = clean_name(name, limit=100)
    category_id = new_id()
    final_slug = clean_slug(slug) if slug else slugify(clean, category_id.hex[-6:])
    async with deps.uow() as uow:
        if parent_id is not None and await uow.catalog.get_category(parent_id) is None:
            raise _not_found("parent category", "parentId")
        if await uow.catalog.slug_taken(final_slug, kind="category"):
            raise CatalogError(
                CatalogErrorCode.DUPLICATE_SLUG, f"Slug {final_slug!r} is taken.", ["slug"]
            )
        category = Category(id=category_id, name=clean, slug=final_slug, parent_id=parent_id)
        _apply_policy(category, policy)
        await uow.catalog.add_category(category)
    return category


async def update_category_policy(
    deps: CatalogDeps, category_id: UUID, policy: ReturnPolicyPatch
) -> Category:
    """The return policy of a category's products (those that set none themselves)."""
    async with deps.uow() as uow:
        category = await uow.catalog.get_category(category_id)
        if category is None:
            raise _not_found("category", "id")
        _apply_policy(category, policy)
        await uow.catalog.save_category(category)
    return category
