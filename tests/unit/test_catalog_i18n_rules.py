"""The Chinese storefront's rules as pure functions and use cases over the fakes: names per
language, attributes, media URLs and order, and the search text the SQL search matches."""

from __future__ import annotations

import pytest

from domain.catalog.deps import CatalogDeps
from domain.catalog.media import MediaDraft, add_media, remove_media, reorder_media
from domain.catalog.model import (
    MAX_MEDIA_PER_PRODUCT,
    Locale,
    MediaKind,
    clean_attributes,
    clean_names,
    clean_url,
)
from domain.catalog.services import ProductDraft, create_product
from domain.errors import CatalogError, CatalogErrorCode
from domain.ids import new_id
from infra.catalog_search import like_patterns, pinyin_forms, search_columns, search_key
from tests.fakes.database import FakeDatabase
from tests.support import MovableClock


def refused(action: object, *args: object) -> tuple[CatalogErrorCode, list[str] | None]:
    assert callable(action)
    with pytest.raises(CatalogError) as caught:
        action(*args)
    return caught.value.code, caught.value.field


# --------------------------------------------------------------------------- names, attributes


def test_names_one_per_language_trimmed() -> None:
    assert clean_names([(Locale.EN, " Mango Juice "), (Locale.ZH_CN, "芒果多多")]) == {
        Locale.EN: "Mango Juice",
        Locale.ZH_CN: "芒果多多",
    }
    assert clean_names([]) == {}
    duplicate = [(Locale.EN, "a"), (Locale.EN, "b")]
    assert refused(clean_names, duplicate) == (
        CatalogErrorCode.INVALID_INPUT,
        ["names", "1", "locale"],
    )
    assert refused(clean_names, [(Locale.EN, "")]) == (
        CatalogErrorCode.INVALID_INPUT,
        ["names", "0", "value"],
    )
    assert refused(clean_names, [(Locale.EN, "a\x00")])[0] is CatalogErrorCode.INVALID_INPUT


def test_attributes_keep_order_and_refuse_duplicates_blanks_and_excess() -> None:
    given = [("温度", "冰"), ("规格", " 500ml "), ("Sugar", "30%")]
    cleaned = clean_attributes(given)
    assert list(cleaned.items()) == [("温度", "冰"), ("规格", "500ml"), ("Sugar", "30%")]
    assert refused(clean_attributes, [("Size", "S"), ("SIZE ", "L")]) == (
        CatalogErrorCode.DUPLICATE_ATTRIBUTE,
        ["attributes", "1", "name"],
    )
    assert refused(clean_attributes, [("规格", "")]) == (
        CatalogErrorCode.INVALID_INPUT,
        ["attributes", "0"],
    )
    assert refused(clean_attributes, [("x" * 51, "1")])[0] is CatalogErrorCode.INVALID_INPUT
    assert refused(clean_attributes, [("x", "1" * 201)])[0] is CatalogErrorCode.INVALID_INPUT
    many = [(f"a{n}", "1") for n in range(21)]
    assert refused(clean_attributes, many) == (CatalogErrorCode.TOO_MANY_ITEMS, ["attributes"])


# --------------------------------------------------------------------------- media


@pytest.mark.parametrize(
    "url",
    [
        "http://cdn.example.com/a.jpg",
        "ftp://cdn.example.com/a.jpg",
        "javascript:alert(1)",
        "data:image/png;base64,AAAA",
        "//cdn.example.com/a.jpg",
        "https:///a.jpg",
        "https://cdn.example.com/a b.jpg",
        "https://cdn.example.com/a\tb.jpg",
        "https://user:secret@cdn.example.com/a.jpg",
        "https://[::1/a.jpg",
        "https://cdn.example.com/" + "a" * 2030,
        "",
    ],
)
def test_media_urls_are_https_with_a_host_and_bounded(url: str) -> None:
    assert refused(clean_url, url) == (CatalogErrorCode.INVALID_URL, ["url"])


def test_good_media_urls_are_kept() -> None:
    assert clean_url(" https://cdn.example.com/芒果.jpg?w=750 ") == (
        "https://cdn.example.com/芒果.jpg?w=750"
    )
    assert clean_url("HTTPS://CDN.example.com/a.jpg") == "HTTPS://CDN.example.com/a.jpg"


async def test_media_positions_stay_dense_through_add_reorder_and_remove() -> None:
    database = FakeDatabase()
    deps = CatalogDeps(uow=database, clock=MovableClock())
    product = await create_product(deps, ProductDraft(name="芒果多多"))

    async def urls() -> list[tuple[str, int]]:
        async with database() as uow:
            return [(m.alt, m.position) for m in await uow.catalog.media_of([product.id])]

    for alt, position in (("b", None), ("c", None), ("a", 0), ("z", 99)):
        await add_media(
            deps, product.id, MediaDraft(f"https://x.example/{alt}", alt, position=position)
        )
    assert await urls() == [("a", 0), ("b", 1), ("c", 2), ("z", 3)]

    async with database() as uow:
        ids = {m.alt: m.id for m in await uow.catalog.media_of([product.id])}
    await reorder_media(deps, product.id, [ids["z"], ids["c"], ids["b"], ids["a"]])
    assert await urls() == [("z", 0), ("c", 1), ("b", 2), ("a", 3)]
    await remove_media(deps, ids["c"])
    assert await urls() == [("z", 0), ("b", 1), ("a", 2)]

    # refused: nothing changes
    for bad in ([ids["z"], ids["b"]], [ids["z"], ids["b"], ids["b"]], [*ids.values()]):
        with pytest.raises(CatalogError) as caught:
            await reorder_media(deps, product.id, bad)
        assert caught.value.code is CatalogErrorCode.INVALID_INPUT
    with pytest.raises(CatalogError) as caught:
        await remove_media(deps, ids["c"])
    assert caught.value.code is CatalogErrorCode.NOT_FOUND
    with pytest.raises(CatalogError) as caught:
        await add_media(deps, new_id(), MediaDraft("https://x.example/a", "a"))
    assert (caught.value.code, caught.value.field) == (CatalogErrorCode.NOT_FOUND, ["productId"])
    assert await urls() == [("z", 0), ("b", 1), ("a", 2)]


async def test_at_most_twenty_media_per_product() -> None:
    deps = CatalogDeps(uow=FakeDatabase(), clock=MovableClock())
    product = await create_product(deps, ProductDraft(name="芒果多多"))
    for n in range(MAX_MEDIA_PER_PRODUCT):
        await add_media(
            deps, product.id, MediaDraft(f"https://x.example/{n}", str(n), MediaKind.VIDEO)
        )
    with pytest.raises(CatalogError) as caught:
        await add_media(deps, product.id, MediaDraft("https://x.example/x", "x"))
    assert caught.value.code is CatalogErrorCode.TOO_MANY_ITEMS


# --------------------------------------------------------------------------- search text


def test_search_key_folds_width_case_and_spaces() -> None:
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in "MANGO")
    assert search_key(f"  {full_width}\n  Juice ") == "mango juice"
    assert search_key("芒果　多多") == "芒果 多多"  # the ideographic space too


def test_pinyin_whole_and_initials_of_the_chinese_characters_only() -> None:
    assert pinyin_forms("芒果多多 500ml") == ["mangguoduoduo", "mgdd"]
    assert pinyin_forms("Mango Juice") == []


def test_search_columns_hold_names_apart_from_the_rest() -> None:
    names, text = search_columns(["芒果多多", "Mango Juice", "芒果多多"], ["大杯"], ["MJ-1"])
    assert names == "\n芒果多多\nmango juice\n"
    assert text == "\n大杯\nmj-1\nmangguoduoduo\nmgdd\ndabei\ndb\n"
    assert search_columns([], [], []) == ("", "")


def test_like_patterns_escape_the_wildcards() -> None:
    assert like_patterns(" Mango ") == ("%\nmango\n%", "%\nmango%", "%mango%")
    assert like_patterns("50%_off\\") == (
        "%\n50\\%\\_off\\\\\n%",
        "%\n50\\%\\_off\\\\%",
        "%50\\%\\_off\\\\%",
    )
    assert like_patterns("   ") is None
