"""The demo seed's shelf (issue 14): a Chinese brand's, in Chinese with English beside it, with
pictures and attributes, found by Chinese, English and pinyin searches."""

from __future__ import annotations

from typing import Any

from infra.runtime import Runtime
from infra.seed import seed_categories, seed_products
from infra.seed_data import MEDIA_BASE_URL, PRODUCTS
from tests.support.api import Api

SHELF = """query($after: String) { products(first: 100, after: $after) {
  edges { node {
    name zh: localizedName(locale: ZH_CN) en: localizedName(locale: EN)
    category { name }
    media { url alt position }
    variants { code name en: localizedName(locale: EN) attributes { name value } }
  } } } }"""
SEARCH = """query($search: String!) { products(first: 100, search: $search) {
  edges { node { name en: localizedName(locale: EN) } } } }"""


async def _seeded(runtime: Runtime) -> None:
    await seed_products(runtime, await seed_categories(runtime))


async def test_every_product_and_variant_has_a_chinese_and_an_english_name(
    api: Api, runtime: Runtime, capsys: Any
) -> None:
    await _seeded(runtime)
    nodes = [e["node"] for e in (await api.data(SHELF))["products"]["edges"]]
    assert len(nodes) == len(PRODUCTS)
    by_zh = {seed.chinese_name: seed for seed in PRODUCTS}
    for node in nodes:
        seed = by_zh[node["name"]]
        assert (node["zh"], node["en"]) == (seed.chinese_name, seed.name)
        assert [(m["alt"], m["position"]) for m in node["media"]] == [
            (f"{seed.chinese_name}商品主图", 0),
            (f"{seed.chinese_name}细节图", 1),
        ]
        assert all(m["url"].startswith(f"{MEDIA_BASE_URL}/") for m in node["media"])
        for variant in node["variants"]:
            assert variant["name"].startswith(seed.chinese_name)
            assert variant["en"].startswith(seed.name)
            assert variant["attributes"], variant

    juice = next(node for node in nodes if node["en"] == "Mango Juice")
    assert juice["name"] == "芒果多多"
    assert juice["category"]["name"] == "现制茶饮 Tea Drinks"
    iced = next(v for v in juice["variants"] if v["code"] == "TEA-MANGO-500ML-ICED")
    assert (iced["name"], iced["en"]) == ("芒果多多 500ml 冰", "Mango Juice 500ml iced")
    assert iced["attributes"] == [
        {"name": "规格", "value": "500ml"},
        {"name": "温度", "value": "冰"},
    ]

    # A second seed creates nothing.
    capsys.readouterr()
    await _seeded(runtime)
    assert "products: 0 created, 37 existing" in capsys.readouterr().out


async def test_the_seeded_shelf_is_found_in_chinese_english_and_pinyin(
    api: Api, runtime: Runtime
) -> None:
    await _seeded(runtime)

    async def found(search: str) -> list[str]:
        data = await api.data(SEARCH, {"search": search})
        return [edge["node"]["name"] for edge in data["products"]["edges"]]

    assert await found("芒果") == ["芒果多多"]
    assert await found("芒") == ["芒果多多", "海南贵妃芒"]
    # Mango Juice and Mango Pomelo Sago start with it (in seed order), Hainan Guifei Mango ends
    assert await found("mango") == ["芒果多多", "杨枝甘露", "海南贵妃芒"]
    assert await found("mgdd") == ["芒果多多"]
    assert await found("longjing") == ["西湖龙井"]
    assert await found("xhlj") == ["西湖龙井"]
    assert await found("FRT-MANGO-1KG") == ["海南贵妃芒"]
