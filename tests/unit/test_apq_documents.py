"""Without Redis, what APQ learns stays in a bounded LRU of the process."""

from __future__ import annotations

from infra.persisted_queries import ApqDocuments


async def test_the_least_recently_used_document_is_forgotten_first() -> None:
    documents = ApqDocuments(lambda: None, ttl=0, max_entries=2)
    await documents.put("a", "query A { __typename }")
    await documents.put("b", "query B { __typename }")
    assert await documents.get("a") == "query A { __typename }"  # now the most recent
    await documents.put("c", "query C { __typename }")
    assert await documents.get("b") is None
    assert await documents.get("a") is not None and await documents.get("c") is not None
