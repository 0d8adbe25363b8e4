"""The demo seed's shelf (issue 14): a Chinese brand's, in Chinese with English beside it, with
pictures and attributes, found by Chinese, English and pinyin searches. Its past (issue 19):
the demo members' order history, so the engagement numbers answer at once after a seed."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from domain.identity.services import staff_login
from infra.doctor import run_checks
from infra.runtime import Runtime
from infra.seed import seed, seed_categories, seed_products
from infra.seed_data import ADMIN_PASSWORD, ADMIN_USERNAME, MEDIA_BASE_URL, PRODUCTS
from infra.seed_history import PAST
from tests.support import MovableClock
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


NUMBERS = """query($f: Date!, $t: Date!, $cf: String!, $ct: String!) {
  metrics(from: $f, to: $t, granularity: MONTH) {
    periods { orders } total { orders gmv activeMembers repeatMembers handovers } }
  cohorts(from: $cf, to: $ct) { cohorts { members } }
  rfmSummary { segment members }
  segments(first: 20) { edges { node { name size } } } }"""


async def test_the_demo_seed_has_an_order_history_the_numbers_answer_from(
    api: Api, runtime: Runtime, clock: MovableClock, capsys: Any
) -> None:
    await seed(runtime)
    _, pair = await staff_login(runtime.auth, ADMIN_USERNAME, ADMIN_PASSWORD, "seed-test")
    admin = api.as_(pair.access_token)
    today = clock.today()
    first = today - timedelta(days=max(max(p.days_ago) for p in PAST))
    variables = {
        "f": first.isoformat(),
        "t": today.isoformat(),
        "cf": first.strftime("%Y-%m"),
        "ct": today.strftime("%Y-%m"),
    }

    async def numbers() -> dict[str, Any]:
        found: dict[str, Any] = await admin.data(NUMBERS, variables)
        return found

    found = await numbers()
    orders = sum(len(p.days_ago) for p in PAST)
    total = found["metrics"]["total"]
    assert total["orders"] == orders and total["handovers"] == orders and total["gmv"] > 0
    assert total["activeMembers"] == len(PAST)
    assert total["repeatMembers"] == sum(len(p.days_ago) >= 2 for p in PAST)
    assert sum(p["orders"] for p in found["metrics"]["periods"]) == orders
    assert sum(c["members"] for c in found["cohorts"]["cohorts"]) == len(PAST)
    # Every member with an order (in 365 days) is RFM-scored, in one segment or another.
    assert sum(s["members"] for s in found["rfmSummary"]) == len(PAST)
    sizes = {e["node"]["name"]: e["node"]["size"] for e in found["segments"]["edges"]}
    last = [min(p.days_ago) for p in PAST]
    assert sizes["at_risk"] == sum(60 <= days < 90 for days in last) > 0
    assert sizes["churned"] == sum(days >= 90 for days in last) > 0
    assert sizes["active"] == sum(days < 60 for days in last)
    # The past went the way orders go: stock ledger, payments, codes, the outbox delivered.
    assert "none failing" in (await run_checks(now=clock.now())).text()

    # A second seed places no order and the numbers stay as they were.
    capsys.readouterr()
    await seed(runtime)
    out = capsys.readouterr().out
    assert "order history: 0 orders for 0 members" in out
    assert "stock: 0 set" in out
    assert await numbers() == found
