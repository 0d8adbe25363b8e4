"""Clients send the same few documents over and over: each is parsed and validated once."""

from __future__ import annotations

from strawberry.extensions.validation_cache import _get_validate_cache

from tests.support.api import Api

QUERY = "query Cached($n: Int) { products(first: $n) { edges { node { name } } } }"


async def test_a_repeated_document_is_validated_once(api: Api) -> None:
    cache = _get_validate_cache(512)
    await api(QUERY, {"n": 1})
    before = cache.cache_info()
    for n in (2, 3, 4):
        body = await api(QUERY, {"n": n})
        assert "errors" not in body
    after = cache.cache_info()
    assert after.misses == before.misses
    assert after.hits == before.hits + 3


async def test_limits_still_apply_to_a_cached_document(api: Api) -> None:
    nested = "{ categories { " + "parent { " * 20 + "name" + " }" * 20 + " } }"
    for _ in range(2):
        body = await api(nested)
        assert body["data"] is None
        assert "exceeds maximum operation depth" in body["errors"][0]["message"]
