"""Responses are encoded with orjson; what it cannot encode falls back to the standard one."""

from __future__ import annotations

import json

from api.app import _json_bytes
from tests.support.api import Api
from tests.support.catalog import create_product, variant


def test_text_orjson_refuses_is_still_encoded() -> None:
    data = {"errors": [{"message": "'\ud800' is not a valid id"}]}
    assert json.loads(_json_bytes(data)) == data


async def test_a_response_is_utf8_json(api: Api, admin: Api) -> None:
    await create_product(admin, "Yuzu 柚子", variant("YUZU-1", 1990))
    response = await api.raw(
        "{ products(first: 1) { nodes { name variants { price { formatted } } } } }"
    )
    assert response.headers["content-type"] == "application/json"
    node = json.loads(response.content.decode("utf-8"))["data"]["products"]["nodes"][0]
    assert node == {"name": "Yuzu 柚子", "variants": [{"price": {"formatted": "¥19.90"}}]}
