from __future__ import annotations

from uuid import UUID

import strawberry
from strawberry.types import Info

from api.context import Context
from api.errors import CatalogUserError
from api.mutations import mutate
from api.permissions import CanWriteCatalog
from api.relay import decode_id
from api.types.catalog import Category, Product, Variant
from domain.catalog import media, services
from domain.catalog.model import MAX_MEDIA_PER_PRODUCT, CatalogStatus, Locale, MediaKind
from domain.catalog.model import Product as DomainProduct
from domain.catalog.model import Variant as DomainVariant
from domain.errors import DomainError

MAX_MEDIA_IDS = MAX_MEDIA_PER_PRODUCT


@strawberry.input
class AttributeInput:
    name: str
    value: str


@strawberry.input
class LocalizedNameInput:
    locale: Locale
    value: str


NAMES = "The name per language (one each); `name` stays the display name."
ATTRIBUTES = "Shown in this order; each name once, at most 20."


@strawberry.input
class VariantInput:
    code: str = strawberry.field(description="SKU code, unique across the catalog.")
    name: str
    price: int = strawberry.field(description="Price in minor units (fen).")
    currency: str = "CNY"
    barcode: str | None = None
    attributes: list[AttributeInput] = strawberry.field(
        default_factory=list, description=ATTRIBUTES
    )
    names: list[LocalizedNameInput] = strawberry.field(default_factory=list, description=NAMES)

    def to_draft(self) -> services.VariantDraft:
        return services.VariantDraft(
            code=self.code,
            name=self.name,
            price=self.price,
            currency=self.currency,
            barcode=self.barcode,
            attributes=_attributes(self.attributes),
            names=_names(self.names),
        )


RETURN_WINDOW = (
    "Days after hand-over a customer may ask for a return; 0: no returns; null: unset (a "
    "product takes its category's, a category the default, 7)."
)
REFUND_ONLY = (
    "Fresh produce: only REFUND_ONLY requests, within this many hours of hand-over (1-720); "
    "null: unset (a product takes its category's)."
)
UNCHANGED = " Omitted: unchanged."


def _kept(value: int | None) -> int | services.Keep | None:
    """An optional patch field: omitted (UNSET) keeps it, null unsets it."""
    return services.Keep.KEEP if value is strawberry.UNSET else value


def _policy(
    return_window_days: int | None, refund_only_within_hours: int | None
) -> services.ReturnPolicyPatch:
    return services.ReturnPolicyPatch(_kept(return_window_days), _kept(refund_only_within_hours))


@strawberry.input
class ProductCreateInput:
    name: str
    description: str = ""
    slug: str | None = None
    category_id: strawberry.ID | None = None
    variants: list[VariantInput] = strawberry.field(default_factory=list)
    names: list[LocalizedNameInput] = strawberry.field(default_factory=list, description=NAMES)
    return_window_days: int | None = strawberry.field(default=None, description=RETURN_WINDOW)
    refund_only_within_hours: int | None = strawberry.field(default=None, description=REFUND_ONLY)


@strawberry.input
class ProductUpdateInput:
    id: strawberry.ID
    name: str | None = None
    description: str | None = None
    slug: str | None = None
    category_id: strawberry.ID | None = None
    names: list[LocalizedNameInput] | None = strawberry.field(
        default=None, description="Replaces every name per language; [] removes them."
    )
    return_window_days: int | None = strawberry.field(
        default=strawberry.UNSET, description=RETURN_WINDOW + UNCHANGED
    )
    refund_only_within_hours: int | None = strawberry.field(
        default=strawberry.UNSET, description=REFUND_ONLY + UNCHANGED
    )


@strawberry.input
class ProductMediaAddInput:
    product_id: strawberry.ID
    url: str = strawberry.field(description="https only, at most 2048 characters.")
    alt: str = strawberry.field(description="Required: what a screen reader says (1-300).")
    type: MediaKind = MediaKind.IMAGE
    position: int | None = strawberry.field(
        default=None, description="0 first; omitted or past the end: last."
    )


@strawberry.input
class ProductMediaReorderInput:
    product_id: strawberry.ID
    media_ids: list[strawberry.ID] = strawberry.field(
        description="Every medium of the product once, first to last."
    )


@strawberry.input
class ProductMediaRemoveInput:
    id: strawberry.ID


@strawberry.input
class ByIdInput:
    id: strawberry.ID


@strawberry.type
class ProductPayload:
    product: Product | None = None
    errors: list[CatalogUserError] = strawberry.field(default_factory=list)


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
    attributes: list[AttributeInput] | None = strawberry.field(
        default=None, description=f"Replaces them all. {ATTRIBUTES}"
    )
    names: list[LocalizedNameInput] | None = strawberry.field(
        default=None, description="Replaces every name per language; [] removes them."
    )


@strawberry.type
class VariantPayload:
    variant: Variant | None = None
    errors: list[CatalogUserError] = strawberry.field(default_factory=list)


@strawberry.input
class CategoryCreateInput:
    name: str
    slug: str | None = None
    parent_id: strawberry.ID | None = None
    return_window_days: int | None = strawberry.field(default=None, description=RETURN_WINDOW)
    refund_only_within_hours: int | None = strawberry.field(default=None, description=REFUND_ONLY)


@strawberry.input
class CategoryUpdateInput:
    id: strawberry.ID
    return_window_days: int | None = strawberry.field(
        default=strawberry.UNSET, description=RETURN_WINDOW + UNCHANGED
    )
    refund_only_within_hours: int | None = strawberry.field(
        default=strawberry.UNSET, description=REFUND_ONLY + UNCHANGED
    )


@strawberry.type
class CategoryPayload:
    category: Category | None = None
    errors: list[CatalogUserError] = strawberry.field(default_factory=list)


def _category_id(value: strawberry.ID | None, field: str = "categoryId") -> UUID | None:
    return decode_id(value, "Category", field) if value else None


def _attributes(attributes: list[AttributeInput]) -> list[tuple[str, str]]:
    return [(a.name, a.value) for a in attributes]


def _names(names: list[LocalizedNameInput]) -> list[tuple[Locale, str]]:
    return [(n.locale, n.value) for n in names]


def _product(product: DomainProduct) -> ProductPayload:
    return ProductPayload(product=Product.from_domain(product))


def _variant(variant: DomainVariant) -> VariantPayload:
    return VariantPayload(variant=Variant.from_domain(variant))


@strawberry.type
class CatalogMutations:
    @strawberry.mutation(permission_classes=[CanWriteCatalog])
    async def product_create(
        self, info: Info[Context, object], input: ProductCreateInput
    ) -> ProductPayload:
        deps = info.context.runtime.catalog
        return await mutate(
            ProductPayload,
            CatalogUserError,
            lambda: services.create_product(
                deps,
                services.ProductDraft(
                    name=input.name,
                    description=input.description,
                    slug=input.slug,
                    category_id=_category_id(input.category_id),
                    variants=[v.to_draft() for v in input.variants],
                    names=_names(input.names),
                    return_window_days=input.return_window_days,
                    refund_only_within_hours=input.refund_only_within_hours,
                ),
            ),
            _product,
        )

    @strawberry.mutation(permission_classes=[CanWriteCatalog])
    async def product_update(
        self, info: Info[Context, object], input: ProductUpdateInput
    ) -> ProductPayload:
        deps = info.context.runtime.catalog
        return await mutate(
            ProductPayload,
            CatalogUserError,
            lambda: services.update_product(
                deps,
                decode_id(input.id, "Product"),
                services.ProductPatch(
                    name=input.name,
                    description=input.description,
                    slug=input.slug,
                    category_id=_category_id(input.category_id),
                    names=None if input.names is None else _names(input.names),
                    policy=_policy(input.return_window_days, input.refund_only_within_hours),
                ),
            ),
            _product,
        )

    @strawberry.mutation(
        permission_classes=[CanWriteCatalog],
        description="Archive a product and its variants: they stop selling but stay on record.",
    )
    async def product_archive(
        self, info: Info[Context, object], input: ByIdInput
    ) -> ProductPayload:
        deps = info.context.runtime.catalog
        return await mutate(
            ProductPayload,
            CatalogUserError,
            lambda: services.set_product_status(
                deps, decode_id(input.id, "Product"), CatalogStatus.ARCHIVED
            ),
            _product,
        )

    @strawberry.mutation(permission_classes=[CanWriteCatalog])
    async def product_restore(
        self, info: Info[Context, object], input: ByIdInput
    ) -> ProductPayload:
        deps = info.context.runtime.catalog
        return await mutate(
            ProductPayload,
            CatalogUserError,
            lambda: services.set_product_status(
                deps, decode_id(input.id, "Product"), CatalogStatus.ACTIVE
            ),
            _product,
        )

    @strawberry.mutation(
        permission_classes=[CanWriteCatalog],
        description="Add a picture or video to a product (at most 20).",
    )
    async def product_media_add(
        self, info: Info[Context, object], input: ProductMediaAddInput
    ) -> ProductPayload:
        deps = info.context.runtime.catalog
        return await mutate(
            ProductPayload,
            CatalogUserError,
            lambda: media.add_media(
                deps,
                decode_id(input.product_id, "Product", "productId"),
                media.MediaDraft(input.url, input.alt, input.type, input.position),
            ),
            _product,
        )

    @strawberry.mutation(
        permission_classes=[CanWriteCatalog], description="Put a product's media in a new order."
    )
    async def product_media_reorder(
        self, info: Info[Context, object], input: ProductMediaReorderInput
    ) -> ProductPayload:
        deps = info.context.runtime.catalog
        return await mutate(
            ProductPayload,
            CatalogUserError,
            lambda: media.reorder_media(
                deps,
                decode_id(input.product_id, "Product", "productId"),
                [
                    decode_id(media_id, "ProductMedia", ["mediaIds", str(index)])
                    for index, media_id in enumerate(input.media_ids)
                ],
            ),
            _product,
        )

    @strawberry.mutation(permission_classes=[CanWriteCatalog], description="Remove one medium.")
    async def product_media_remove(
        self, info: Info[Context, object], input: ProductMediaRemoveInput
    ) -> ProductPayload:
        deps = info.context.runtime.catalog
        return await mutate(
            ProductPayload,
            CatalogUserError,
            lambda: media.remove_media(deps, decode_id(input.id, "ProductMedia")),
            _product,
        )

    @strawberry.mutation(permission_classes=[CanWriteCatalog])
    async def variant_create(
        self, info: Info[Context, object], input: VariantCreateInput
    ) -> VariantPayload:
        deps = info.context.runtime.catalog

        async def run() -> DomainVariant:
            product_id = decode_id(input.product_id, "Product", "productId")
            try:
                return await services.create_variant(deps, product_id, input.variant.to_draft())
            except DomainError as error:
                # Paths are into the input: the variant's fields sit under `variant`.
                if error.field and error.field[0] != "productId":
                    error.field = ["variant", *error.field]
                raise

        return await mutate(VariantPayload, CatalogUserError, run, _variant)

    @strawberry.mutation(permission_classes=[CanWriteCatalog])
    async def variant_update(
        self, info: Info[Context, object], input: VariantUpdateInput
    ) -> VariantPayload:
        deps = info.context.runtime.catalog
        return await mutate(
            VariantPayload,
            CatalogUserError,
            lambda: services.update_variant(
                deps,
                decode_id(input.id, "Variant"),
                services.VariantPatch(
                    name=input.name,
                    price=input.price,
                    barcode=input.barcode,
                    attributes=None if input.attributes is None else _attributes(input.attributes),
                    names=None if input.names is None else _names(input.names),
                ),
            ),
            _variant,
        )

    @strawberry.mutation(permission_classes=[CanWriteCatalog])
    async def variant_archive(
        self, info: Info[Context, object], input: ByIdInput
    ) -> VariantPayload:
        deps = info.context.runtime.catalog
        return await mutate(
            VariantPayload,
            CatalogUserError,
            lambda: services.set_variant_status(
                deps, decode_id(input.id, "Variant"), CatalogStatus.ARCHIVED
            ),
            _variant,
        )

    @strawberry.mutation(permission_classes=[CanWriteCatalog])
    async def category_create(
        self, info: Info[Context, object], input: CategoryCreateInput
    ) -> CategoryPayload:
        deps = info.context.runtime.catalog
        return await mutate(
            CategoryPayload,
            CatalogUserError,
            lambda: services.create_category(
                deps,
                input.name,
                input.slug,
                _category_id(input.parent_id, "parentId"),
                _policy(input.return_window_days, input.refund_only_within_hours),
            ),
            lambda category: CategoryPayload(category=Category.from_domain(category)),
        )

    @strawberry.mutation(
        permission_classes=[CanWriteCatalog],
        description="A category's return policy, for its products that set none themselves.",
    )
    async def category_update(
        self, info: Info[Context, object], input: CategoryUpdateInput
    ) -> CategoryPayload:
        deps = info.context.runtime.catalog
        return await mutate(
            CategoryPayload,
            CatalogUserError,
            lambda: services.update_category_policy(
                deps,
                decode_id(input.id, "Category"),
                _policy(input.return_window_days, input.refund_only_within_hours),
            ),
            lambda category: CategoryPayload(category=Category.from_domain(category)),
        )
