"""A Chinese storefront over GraphQL (issue 14): names per language, search in Chinese, English,
SKU and pinyin with the best match first, product media in order, variant attributes."""

from __future__ import annotations

from typing import Any

from tests.support.api import Api
from tests.support.catalog import ERRORS, VARIANT_UPDATE, create_product, mutate

NAMED = """id name names { locale value } zh: localizedName(locale: ZH_CN)
  en: localizedName(locale: EN)"""
SEARCH = """query($search: String!, $first: Int, $after: String) {
  products(search: $search, first: $first, after: $after) {
    edges { node { name } } pageInfo { hasNextPage endCursor } } }"""
PRODUCT_UPDATE = f"""mutation($input: ProductUpdateInput!) {{
  productUpdate(input: $input) {{ product {{ {NAMED} }} {ERRORS} }} }}"""
PRODUCT_CREATE = f"""mutation($input: ProductCreateInput!) {{
  productCreate(input: $input) {{ product {{ id }} {ERRORS} }} }}"""
MEDIA = "media { id type url alt position }"
MEDIA_ADD = f"""mutation($input: ProductMediaAddInput!) {{
  productMediaAdd(input: $input) {{ product {{ {MEDIA} }} {ERRORS} }} }}"""
MEDIA_REORDER = f"""mutation($input: ProductMediaReorderInput!) {{
  productMediaReorder(input: $input) {{ product {{ {MEDIA} }} {ERRORS} }} }}"""
MEDIA_REMOVE = f"""mutation($input: ProductMediaRemoveInput!) {{
  productMediaRemove(input: $input) {{ product {{ {MEDIA} }} {ERRORS} }} }}"""
PRODUCT_MEDIA = f"query($id: ID!) {{ product(id: $id) {{ {MEDIA} }} }}"
VARIANTS = """query($id: ID!) { product(id: $id) {
  variants { code name en: localizedName(locale: EN) attributes { name value } } } }"""


def names(zh: str, en: str) -> list[dict[str, str]]:
    return [{"locale": "ZH_CN", "value": zh}, {"locale": "EN", "value": en}]


def sku(code: str, zh: str, en: str, **extra: Any) -> dict[str, Any]:
    return {"code": code, "name": zh, "price": 1900, "names": names(zh, en), **extra}


async def found(api: Api, search: str) -> list[str]:
    data = await api.data(SEARCH, {"search": search, "first": 100})
    return [edge["node"]["name"] for edge in data["products"]["edges"]]


async def bilingual(admin: Api, zh: str, en: str, *variants: dict[str, Any]) -> Any:
    return await create_product(admin, zh, *variants, names=names(zh, en))


# --------------------------------------------------------------------------- names


async def test_names_per_language_and_the_display_name(admin: Api, api: Api) -> None:
    product = await bilingual(
        admin, "芒果多多", "Mango Juice", sku("MJ-500", "芒果多多 500ml", "Mango Juice 500ml")
    )
    only_zh = await create_product(admin, "杨枝甘露", sku("SAGO-1", "杨枝甘露", "ignored"))
    query = f"query($id: ID!) {{ product(id: $id) {{ {NAMED} variants {{ {NAMED} }} }} }}"

    data = (await api.data(query, {"id": product["id"]}))["product"]
    assert (data["name"], data["zh"], data["en"]) == ("芒果多多", "芒果多多", "Mango Juice")
    assert data["names"] == names("芒果多多", "Mango Juice")
    variant = data["variants"][0]
    assert (variant["name"], variant["en"]) == ("芒果多多 500ml", "Mango Juice 500ml")

    # No English name: the display name stands in.
    data = (await api.data(query, {"id": only_zh["id"]}))["product"]
    assert (data["names"], data["en"]) == ([], "杨枝甘露")

    # Names are replaced as a whole; `name` is left alone.
    payload = await mutate(
        admin,
        PRODUCT_UPDATE,
        "productUpdate",
        {"input": {"id": product["id"], "names": [{"locale": "EN", "value": " Mango Smoothie "}]}},
    )
    assert payload["errors"] == []
    assert payload["product"]["names"] == [{"locale": "EN", "value": "Mango Smoothie"}]
    assert (payload["product"]["name"], payload["product"]["zh"]) == ("芒果多多", "芒果多多")


async def test_bad_names_are_refused_and_change_nothing(admin: Api) -> None:
    product = await bilingual(admin, "芒果多多", "Mango Juice")
    cases = [
        (
            [{"locale": "EN", "value": "A"}, {"locale": "EN", "value": "B"}],
            ("INVALID_INPUT", ["names", "1", "locale"]),
        ),
        ([{"locale": "EN", "value": "   "}], ("INVALID_INPUT", ["names", "0", "value"])),
        ([{"locale": "ZH_CN", "value": "芒" * 201}], ("INVALID_INPUT", ["names", "0", "value"])),
    ]
    for bad, expected in cases:
        payload = await mutate(
            admin, PRODUCT_UPDATE, "productUpdate", {"input": {"id": product["id"], "names": bad}}
        )
        assert payload["product"] is None
        assert [(e["code"], e["field"]) for e in payload["errors"]] == [expected], bad
        created = await mutate(
            admin,
            PRODUCT_CREATE,
            "productCreate",
            {"input": {"name": "X", "variants": [sku("X-1", "X", "X") | {"names": bad}]}},
        )
        assert [(e["code"], e["field"]) for e in created["errors"]] == [
            (expected[0], ["variants", "0", *expected[1]])
        ]
    query = f"query($id: ID!) {{ product(id: $id) {{ {NAMED} }} }}"
    data = await admin.data(query, {"id": product["id"]})
    assert data["product"]["names"] == names("芒果多多", "Mango Juice")
    assert await found(admin, "X") == []


# --------------------------------------------------------------------------- search


async def _shelf(admin: Api) -> None:
    """Created worst match first, so that the id order is the reverse of the ranking."""
    await bilingual(
        admin, "杨枝甘露", "Mango Pomelo Sago", sku("SAGO-500", "杨枝甘露 芒果味", "Sago, mango")
    )
    await bilingual(admin, "海南芒果干", "Dried Hainan Mango", sku("DRY-100", "100克", "100 g"))
    await bilingual(admin, "芒果多多", "Mango Juice", sku("JUICE-500", "500ml 冰", "500ml iced"))
    await bilingual(admin, "芒果", "Mango", sku("FRUIT-1KG", "1kg", "1 kg"))
    await bilingual(admin, "烟台苹果", "Yantai Apple", sku("APPLE-4", "4个装", "4 apples"))


async def test_search_in_chinese_ranks_whole_name_then_start_then_anywhere(
    admin: Api, api: Api
) -> None:
    await _shelf(admin)
    # whole name, start of a name, inside a name, then a variant's name
    assert await found(api, "芒果") == ["芒果", "芒果多多", "海南芒果干", "杨枝甘露"]
    # one character: both names start with it (by id), one holds it, one variant's name does
    assert await found(api, "芒") == ["芒果多多", "芒果", "海南芒果干", "杨枝甘露"]
    assert await found(api, "果干") == ["海南芒果干"]
    assert await found(api, " 芒果多多 ") == ["芒果多多"]
    assert await found(api, "苹果") == ["烟台苹果"]
    assert await found(api, "香蕉") == []


async def test_search_in_english_any_case_and_full_width(admin: Api, api: Api) -> None:
    await _shelf(admin)
    # "mango" is a whole name of one, the start of two (by id), inside one
    assert await found(api, "mango") == ["芒果", "杨枝甘露", "芒果多多", "海南芒果干"]
    assert await found(api, "MANGO JUICE") == ["芒果多多"]
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in "JUICE")  # as a Chinese IME types it
    assert await found(api, full_width) == ["芒果多多"]
    assert await found(api, "apple") == ["烟台苹果"]
    assert await found(api, "iced") == ["芒果多多"]  # a variant's English name


async def test_search_by_sku_and_pinyin(admin: Api, api: Api) -> None:
    await _shelf(admin)
    assert await found(api, "juice-500") == ["芒果多多"]
    assert await found(api, "SAGO-5") == ["杨枝甘露"]
    # pinyin initials and whole: mg (芒果), mgdd (芒果多多), hnmgg (海南芒果干)
    assert await found(api, "mgdd") == ["芒果多多"]
    assert await found(api, "mangguo") == ["杨枝甘露", "海南芒果干", "芒果多多", "芒果"]
    assert await found(api, "ytpg") == ["烟台苹果"]
    # LIKE's wildcards are plain characters in a query
    assert await found(api, "%") == []
    assert await found(api, "m_ngo") == []


async def test_search_pages_walk_the_ranking_once(admin: Api, api: Api) -> None:
    await _shelf(admin)
    seen: list[str] = []
    after = None
    for _ in range(5):
        data = await api.data(SEARCH, {"search": "芒果", "first": 3, "after": after})
        connection = data["products"]
        seen.extend(edge["node"]["name"] for edge in connection["edges"])
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]
    assert seen == ["芒果", "芒果多多", "海南芒果干", "杨枝甘露"]

    # A cursor of the plain list is not one of a search.
    plain = await api.data("{ products(first: 1) { pageInfo { endCursor } } }")
    response = await api(
        SEARCH, {"search": "芒果", "after": plain["products"]["pageInfo"]["endCursor"]}
    )
    assert response["errors"][0]["extensions"]["code"] == "INVALID_INPUT"


async def test_renaming_a_product_or_variant_is_found_at_once(admin: Api, api: Api) -> None:
    product = await bilingual(admin, "芒果多多", "Mango Juice", sku("MJ-1", "大杯", "large"))
    await mutate(
        admin,
        PRODUCT_UPDATE,
        "productUpdate",
        {"input": {"id": product["id"], "names": names("芒果多多", "Mango Smoothie")}},
    )
    assert await found(api, "smoothie") == ["芒果多多"]
    assert await found(api, "juice") == []
    variant_id = product["variants"][0]["id"]
    payload = await mutate(
        admin, VARIANT_UPDATE, "variantUpdate", {"input": {"id": variant_id, "name": "超大杯"}}
    )
    assert payload["errors"] == []
    assert await found(api, "超大杯") == ["芒果多多"]
    assert await found(api, "cdb") == ["芒果多多"]  # 超大杯, by initials


# --------------------------------------------------------------------------- attributes


async def test_attributes_keep_their_order_in_any_script(admin: Api, api: Api) -> None:
    given = [
        {"name": "温度", "value": "冰"},
        {"name": "规格", "value": "500ml"},
        {"name": "Sugar", "value": "30%"},
    ]
    product = await bilingual(
        admin, "芒果多多", "Mango Juice", sku("MJ-1", "冰 500ml", "iced", attributes=given)
    )
    data = await api.data(VARIANTS, {"id": product["id"]})
    assert data["product"]["variants"][0]["attributes"] == given

    variant_id = product["variants"][0]["id"]
    reordered = [given[1], given[0]]
    payload = await mutate(
        admin,
        VARIANT_UPDATE,
        "variantUpdate",
        {"input": {"id": variant_id, "attributes": reordered}},
    )
    assert payload["variant"]["attributes"] == reordered


async def test_bad_attributes_are_refused_and_change_nothing(admin: Api, api: Api) -> None:
    kept = [{"name": "规格", "value": "500ml"}]
    product = await create_product(
        admin, "芒果多多", sku("MJ-1", "500ml", "500ml", attributes=kept)
    )
    variant_id = product["variants"][0]["id"]
    cases = [
        (
            [{"name": "Size", "value": "S"}, {"name": " size ", "value": "L"}],
            ("DUPLICATE_ATTRIBUTE", ["attributes", "1", "name"]),
        ),
        (
            [{"name": "规格", "value": "500ml"}, {"name": "规格", "value": "700ml"}],
            ("DUPLICATE_ATTRIBUTE", ["attributes", "1", "name"]),
        ),
        ([{"name": "温度", "value": "  "}], ("INVALID_INPUT", ["attributes", "0"])),
        ([{"name": "x" * 51, "value": "1"}], ("INVALID_INPUT", ["attributes", "0"])),
        ([{"name": "温度", "value": "冰" * 201}], ("INVALID_INPUT", ["attributes", "0"])),
        (
            [{"name": f"a{n}", "value": "1"} for n in range(21)],
            ("TOO_MANY_ITEMS", ["attributes"]),
        ),
    ]
    for bad, expected in cases:
        payload = await mutate(
            admin, VARIANT_UPDATE, "variantUpdate", {"input": {"id": variant_id, "attributes": bad}}
        )
        assert payload["variant"] is None
        assert [(e["code"], e["field"]) for e in payload["errors"]] == [expected], bad
    data = await api.data(VARIANTS, {"id": product["id"]})
    assert data["product"]["variants"][0]["attributes"] == kept


# --------------------------------------------------------------------------- media


async def add_media(admin: Api, product_id: str, name: str, **extra: Any) -> dict[str, Any]:
    payload = await mutate(
        admin,
        MEDIA_ADD,
        "productMediaAdd",
        {
            "input": {
                "productId": product_id,
                "url": f"https://cdn.example.com/{name}.jpg",
                "alt": f"{name} 图",
                **extra,
            }
        },
    )
    assert payload["errors"] == [], payload
    return payload["product"]


def order(product: dict[str, Any]) -> list[tuple[str, int]]:
    return [(m["alt"].split()[0], m["position"]) for m in product["media"]]


async def test_media_are_added_reordered_and_removed_in_order(admin: Api, api: Api) -> None:
    product = await create_product(admin, "芒果多多")
    await add_media(admin, product["id"], "main")
    await add_media(admin, product["id"], "detail")
    await add_media(admin, product["id"], "video", type="VIDEO", position=99)
    added = await add_media(admin, product["id"], "hero", position=0)
    assert order(added) == [("hero", 0), ("main", 1), ("detail", 2), ("video", 3)]
    assert [m["type"] for m in added["media"]] == ["IMAGE", "IMAGE", "IMAGE", "VIDEO"]
    assert added["media"][1]["url"] == "https://cdn.example.com/main.jpg"

    shown = (await api.data(PRODUCT_MEDIA, {"id": product["id"]}))["product"]
    assert order(shown) == order(added)  # now in the catalog cache and the response cache

    ids = {m["alt"].split()[0]: m["id"] for m in added["media"]}
    payload = await mutate(
        admin,
        MEDIA_REORDER,
        "productMediaReorder",
        {
            "input": {
                "productId": product["id"],
                "mediaIds": [ids[n] for n in ("video", "main", "hero", "detail")],
            }
        },
    )
    assert payload["errors"] == []
    assert order(payload["product"]) == [("video", 0), ("main", 1), ("hero", 2), ("detail", 3)]

    payload = await mutate(
        admin, MEDIA_REMOVE, "productMediaRemove", {"input": {"id": ids["main"]}}
    )
    assert payload["errors"] == []
    expected = [("video", 0), ("hero", 1), ("detail", 2)]
    assert order(payload["product"]) == expected
    # and as a shopper reads it: the writes forgot the cached answers
    assert order((await api.data(PRODUCT_MEDIA, {"id": product["id"]}))["product"]) == expected


async def test_bad_media_are_refused_and_change_nothing(admin: Api, api: Api) -> None:
    product = await create_product(admin, "芒果多多")
    other = await create_product(admin, "杨枝甘露")
    first = (await add_media(admin, product["id"], "main"))["media"][0]["id"]
    foreign = (await add_media(admin, other["id"], "other"))["media"][0]["id"]
    before = (await api.data(PRODUCT_MEDIA, {"id": product["id"]}))["product"]

    def adding(**changes: Any) -> dict[str, Any]:
        return {
            "productId": product["id"],
            "url": "https://cdn.example.com/a.jpg",
            "alt": "图",
        } | changes

    cases = [
        (MEDIA_ADD, adding(url="http://cdn.example.com/a.jpg"), "INVALID_URL", ["url"]),
        (MEDIA_ADD, adding(url="javascript:alert(1)"), "INVALID_URL", ["url"]),
        (MEDIA_ADD, adding(url="https:///a.jpg"), "INVALID_URL", ["url"]),
        (MEDIA_ADD, adding(url="https://cdn.example.com/a b.jpg"), "INVALID_URL", ["url"]),
        (MEDIA_ADD, adding(url="https://user:pw@cdn.example.com/a.jpg"), "INVALID_URL", ["url"]),
        (MEDIA_ADD, adding(url="https://cdn.example.com/" + "a" * 2030), "INVALID_URL", ["url"]),
        (MEDIA_ADD, adding(alt="   "), "INVALID_INPUT", ["alt"]),
        (MEDIA_ADD, adding(alt="图" * 301), "INVALID_INPUT", ["alt"]),
        (MEDIA_ADD, adding(position=-1), "INVALID_INPUT", ["position"]),
        (MEDIA_ADD, adding(productId=first), "INVALID_ID", ["productId"]),
        (
            MEDIA_REORDER,
            {"productId": product["id"], "mediaIds": [first, first]},
            "INVALID_INPUT",
            ["mediaIds"],
        ),
        (
            MEDIA_REORDER,
            {"productId": product["id"], "mediaIds": [foreign]},
            "INVALID_INPUT",
            ["mediaIds"],
        ),
        (
            MEDIA_REORDER,
            {"productId": product["id"], "mediaIds": []},
            "INVALID_INPUT",
            ["mediaIds"],
        ),
        (
            MEDIA_REORDER,
            {"productId": product["id"], "mediaIds": [product["id"]]},
            "INVALID_ID",
            ["mediaIds", "0"],
        ),
        (MEDIA_REMOVE, {"id": product["id"]}, "INVALID_ID", ["id"]),
    ]
    for document, input_, code, field in cases:
        name = document.split("{")[1].split("(")[0].strip()
        payload = await mutate(admin, document, name, {"input": input_})
        assert payload["product"] is None, input_
        assert [(e["code"], e["field"]) for e in payload["errors"]] == [(code, field)], input_
    await mutate(admin, MEDIA_REMOVE, "productMediaRemove", {"input": {"id": first}})
    gone = await mutate(admin, MEDIA_REMOVE, "productMediaRemove", {"input": {"id": first}})
    assert [(e["code"], e["field"]) for e in gone["errors"]] == [("NOT_FOUND", ["id"])]
    await add_media(admin, product["id"], "main")
    after = (await api.data(PRODUCT_MEDIA, {"id": product["id"]}))["product"]
    assert [(m["url"], m["alt"], m["position"]) for m in after["media"]] == [
        (m["url"], m["alt"], m["position"]) for m in before["media"]
    ]


async def test_at_most_twenty_media(admin: Api) -> None:
    product = await create_product(admin, "芒果多多")
    for n in range(20):
        await add_media(admin, product["id"], f"m{n}")
    payload = await mutate(
        admin,
        MEDIA_ADD,
        "productMediaAdd",
        {"input": {"productId": product["id"], "url": "https://cdn.example.com/x.jpg", "alt": "x"}},
    )
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [
        ("TOO_MANY_ITEMS", ["productId"])
    ]
