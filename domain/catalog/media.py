"""Use cases of a product's pictures and videos (`ProductMedia`), in the order the shop shows
them: add, reorder, remove. `position` runs from 0 without gaps; the first is the list
picture."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

from domain.catalog.deps import CatalogDeps
from domain.catalog.model import (
    MAX_MEDIA_PER_PRODUCT,
    MediaKind,
    Product,
    ProductMedia,
    clean_alt,
    clean_url,
)
from domain.errors import CatalogError, CatalogErrorCode
from domain.ids import new_id
from domain.uow import UnitOfWork


@dataclass(frozen=True)
class MediaDraft:
    url: str
    alt: str
    kind: MediaKind = MediaKind.IMAGE
    position: int | None = None  # None: after the others


async def _product_media(
    uow: UnitOfWork, product_id: UUID, field: str
) -> tuple[Product, list[ProductMedia]]:
    """The product and its media in order, its row locked against a concurrent change of them
    (two additions would take one position)."""
    product = await uow.catalog.lock_product(product_id)
    if product is None:
        raise CatalogError(CatalogErrorCode.NOT_FOUND, "Unknown product.", [field])
    return product, await uow.catalog.media_of([product_id])


async def _renumber(uow: UnitOfWork, media: list[ProductMedia]) -> None:
    """Positions 0..n-1 in list order; only the changed rows are written."""
    changed = [m for position, m in enumerate(media) if m.position != position]
    for position, item in enumerate(media):
        item.position = position
    await uow.catalog.save_media_positions(changed)


async def add_media(deps: CatalogDeps, product_id: UUID, draft: MediaDraft) -> Product:
    """Add a picture or video at `position` (0 first; past the end or None: last)."""
    url, alt = clean_url(draft.url), clean_alt(draft.alt)
    if draft.position is not None and draft.position < 0:
        raise CatalogError(CatalogErrorCode.INVALID_INPUT, "`position` is 0 or more.", ["position"])
    async with deps.uow() as uow:
        product, media = await _product_media(uow, product_id, "productId")
        if len(media) >= MAX_MEDIA_PER_PRODUCT:
            raise CatalogError(
                CatalogErrorCode.TOO_MANY_ITEMS,
                f"At most {MAX_MEDIA_PER_PRODUCT} pictures and videos per product.",
                ["productId"],
            )
        position = len(media) if draft.position is None else min(draft.position, len(media))
        item = ProductMedia(new_id(), product_id, draft.kind, url, alt, position)
        await uow.catalog.add_media(item)
        await _renumber(uow, [*media[:position], item, *media[position:]])
    return product


async def reorder_media(deps: CatalogDeps, product_id: UUID, order: Sequence[UUID]) -> Product:
    """`order` names every medium of the product once, first to last."""
    async with deps.uow() as uow:
        product, media = await _product_media(uow, product_id, "productId")
        by_id = {m.id: m for m in media}
        if len(order) != len(media) or set(order) != set(by_id):
            raise CatalogError(
                CatalogErrorCode.INVALID_INPUT,
                "`mediaIds` must list each of the product's media exactly once.",
                ["mediaIds"],
            )
        await _renumber(uow, [by_id[media_id] for media_id in order])
    return product


async def remove_media(deps: CatalogDeps, media_id: UUID) -> Product:
    """Remove one medium; the ones after it move up. Returns its product."""
    async with deps.uow() as uow:
        found = await uow.catalog.get_media(media_id)
        if found is None:
            raise CatalogError(CatalogErrorCode.NOT_FOUND, "Unknown media.", ["id"])
        product, media = await _product_media(uow, found.product_id, "id")
        await uow.catalog.remove_media(media_id)
        await _renumber(uow, [m for m in media if m.id != media_id])
    return product
