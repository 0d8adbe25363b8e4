from __future__ import annotations

from typing import Any

import strawberry
from strawberry.types import Info

from api.context import Context
from api.errors import CatalogError
from api.mutations import attempt
from api.permissions import CanWriteCatalog
from api.relay import decode_id
from api.types.catalog import Category, Product, Variant
from domain.catalog import services
from domain.catalog.model import CatalogStatus
from domain.errors import CommonError, CommonErrorCode, DomainError

MAX_VARIANTS = services.MAX_VARIANTS_PER_PRODUCT


@strawberry.input
class AttributeInput:
    name: str
    value: str


@strawberry.input
class VariantInput:
    code: str = strawberry.field(description="SKU code, unique across the catalog.")
    name: str
    price: int = strawberry.field(description="Price in minor units (fen).")
    currency: str = "CNY"
    barcode: str | None = None
    attributes: list[AttributeInput] = strawberry.field(default_factory=list)

    def to_draft(self) -> services.VariantDraft:
        return services.VariantDraft(
            code=self.code,
            name=self.name,
            price=self.price,
            currency=self.currency,
            barcode=self.barcode,
            attributes={a.name: a.value for a in self.attributes},
        )


@strawberry.input
class ProductCreateInput:
    name: str
    description: str = ""
    slug: str | None = None
    category_id: strawberry.ID | None = None
    variants: list[VariantInput] = strawberry.field(default_factory=list)


@strawberry.input
class ProductUpdateInput:
    id: strawberry.ID
    name: str | None = None
    description: str | None = None
    slug: str | None = None
    category_id: strawberry.ID | None = None


@strawberry.input
class ByIdInput:
    id: strawberry.ID


@strawberry.type
class ProductPayload:
    product: Product | None = None
    errors: list[CatalogError] = strawberry.field(default_factory=list)


@strawberry.input
class VariantCreateInput:
    product_id: strawberry.ID
    variant: VariantInput


@strawberry.input
class VariantUpdateInput:
    id: strawberry.ID
    name: str | None = None
    price: int | None = strawberry.field(default=None, description="Minor units (fen).")
    barcode: str | None = strawberry.field(default=None, description='"" removes the barcode.')
    attributes: list[AttributeInput] | None = None


@strawberry.type
class VariantPayload:
    variant: Variant | None = None
    errors: list[CatalogError] = strawberry.field(default_factory=list)


@strawberry.input
class CategoryCreateInput:
    name: str
    slug: str | None = None
    parent_id: strawberry.ID | None = None


@strawberry.type
class CategoryPayload:
    category: Category | None = None
    errors: list[CatalogError] = strawberry.field(default_factory=list)


def _category_id(value: strawberry.ID | None, field: str = "categoryId") -> Any:
    return decode_id(value, "Category", field) if value else None


def _check_attributes(attributes: list[AttributeInput] | None, path: list[str]) -> None:
    if attributes is not None and len(attributes) > 20:
        raise CommonError(CommonErrorCode.TOO_MANY_ITEMS, "At most 20 attributes.", path)


def _product_payload(product: Any, errors: list[Any]) -> ProductPayload:
    return ProductPayload(product=Product.from_domain(product) if product else None, errors=errors)


def _variant_payload(variant: Any, errors: list[Any]) -> VariantPayload:
    return VariantPayload(variant=Variant.from_domain(variant) if variant else None, errors=errors)


@strawberry.type
class CatalogMutations:
    @strawberry.mutation(permission_classes=[CanWriteCatalog])
    async def product_create(
        self, info: Info[Context, Any], input: ProductCreateInput
    ) -> ProductPayload:
        deps = info.context.runtime.catalog

        async def run() -> Any:
            if len(input.variants) > MAX_VARIANTS:
                raise CommonError(
                    CommonErrorCode.TOO_MANY_ITEMS,
                    f"At most {MAX_VARIANTS} variants per product.",
                    ["variants"],
                )
            for index, variant in enumerate(input.variants):
                _check_attributes(variant.attributes, ["variants", str(index), "attributes"])
            draft = services.ProductDraft(
                name=input.name,
                description=input.description,
                slug=input.slug,
                category_id=_category_id(input.category_id),
                variants=[v.to_draft() for v in input.variants],
            )
            return await services.create_product(deps, draft)

        return _product_payload(*await attempt(CatalogError, run))

    @strawberry.mutation(permission_classes=[CanWriteCatalog])
    async def product_update(
        self, info: Info[Context, Any], input: ProductUpdateInput
    ) -> ProductPayload:
        deps = info.context.runtime.catalog

        async def run() -> Any:
            patch = services.ProductPatch(
                name=input.name,
                description=input.description,
                slug=input.slug,
                category_id=_category_id(input.category_id),
            )
            return await services.update_product(deps, decode_id(input.id, "Product"), patch)

        return _product_payload(*await attempt(CatalogError, run))

    @strawberry.mutation(
        permission_classes=[CanWriteCatalog],
        description="Archive a product and its variants: they stop selling but stay on record.",
    )
    async def product_archive(self, info: Info[Context, Any], input: ByIdInput) -> ProductPayload:
        deps = info.context.runtime.catalog
        return _product_payload(
            *await attempt(
                CatalogError,
                lambda: services.set_product_status(
                    deps, decode_id(input.id, "Product"), CatalogStatus.ARCHIVED
                ),
            )
        )

    @strawberry.mutation(permission_classes=[CanWriteCatalog])
    async def product_restore(self, info: Info[Context, Any], input: ByIdInput) -> ProductPayload:
        deps = info.context.runtime.catalog
        return _product_payload(
            *await attempt(
                CatalogError,
                lambda: services.set_product_status(
                    deps, decode_id(input.id, "Product"), CatalogStatus.ACTIVE
                ),
            )
        )

    @strawberry.mutation(permission_classes=[CanWriteCatalog])
    async def variant_create(
        self, info: Info[Context, Any], input: VariantCreateInput
    ) -> VariantPayload:
        deps = info.context.runtime.catalog

        async def run() -> Any:
            _check_attributes(input.variant.attributes, ["variant", "attributes"])
            product_id = decode_id(input.product_id, "Product", "productId")
            try:
                return await services.create_variant(deps, product_id, input.variant.to_draft())
            except DomainError as error:
                # Paths are into the input: the variant's fields sit under `variant`.
                if error.field and error.field[0] != "productId":
                    error.field = ["variant", *error.field]
                raise

        return _variant_payload(*await attempt(CatalogError, run))

    @strawberry.mutation(permission_classes=[CanWriteCatalog])
    async def variant_update(
        self, info: Info[Context, Any], input: VariantUpdateInput
    ) -> VariantPayload:
        deps = info.context.runtime.catalog

        async def run() -> Any:
            _check_attributes(input.attributes, ["attributes"])
            patch = services.VariantPatch(
                name=input.name,
                price=input.price,
                barcode=input.barcode,
                attributes=None
                if input.attributes is None
                else {a.name: a.value for a in input.attributes},
            )
            return await services.update_variant(deps, decode_id(input.id, "Variant"), patch)

        return _variant_payload(*await attempt(CatalogError, run))

    @strawberry.mutation(permission_classes=[CanWriteCatalog])
    async def variant_archive(self, info: Info[Context, Any], input: ByIdInput) -> VariantPayload:
        deps = info.context.runtime.catalog
        return _variant_payload(
            *await attempt(
                CatalogError,
                lambda: services.set_variant_status(
                    deps, decode_id(input.id, "Variant"), CatalogStatus.ARCHIVED
                ),
            )
        )

    @strawberry.mutation(permission_classes=[CanWriteCatalog])
    async def category_create(
        self, info: Info[Context, Any], input: CategoryCreateInput
    ) -> CategoryPayload:
        deps = info.context.runtime.catalog
        category, errors = await attempt(
            CatalogError,
            lambda: services.create_category(
                deps, input.name, input.slug, _category_id(input.parent_id, "parentId")
            ),
        )
        return CategoryPayload(
            category=Category.from_domain(category) if category else None, errors=errors
        )
