"""GET /graphql for a browser: GraphiQL from the app's own files (api/ide.py), naming no other
host, with a Content-Security-Policy; the files under a versioned URL with a year's cache."""

from __future__ import annotations

import gzip
import hashlib
import re
from urllib.parse import urljoin

import httpx
import pytest

from api.ide import load_bundle

BROWSER = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


async def page(client: httpx.AsyncClient) -> httpx.Response:
    response = await client.get("/graphql", headers=BROWSER)
    assert response.status_code == 200
    return response


def references(html: str) -> list[str]:
    return re.findall(r'(?:src|href)="([^"]+)"', html)


async def test_the_page_names_no_other_host(client: httpx.AsyncClient) -> None:
    response = await page(client)
    html = response.text

    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert "GraphiQL" in html
    assert re.findall(r"(?:https?:)?//[\w.-]+", html) == []  # no URL with a host at all
    assert "integrity=" not in html and "crossorigin" not in html
    version = load_bundle().version
    assets = [ref for ref in references(html) if ref != "data:,"]
    assert sorted(assets) == sorted(
        f"static/graphiql/{version}/{name}"
        for name in load_bundle().assets
        if name.endswith((".js", ".css"))
    )


async def test_the_page_has_a_policy_that_admits_only_the_app(client: httpx.AsyncClient) -> None:
    response = await page(client)
    policy = dict(
        directive.split(" ", 1)
        for directive in response.headers["content-security-policy"].split("; ")
    )

    assert policy["default-src"] == "'none'"
    assert policy["connect-src"] == "'self'"
    assert policy["script-src"].startswith("'self' 'sha256-")  # the page's one inline script
    assert "unsafe-eval" not in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "no-cache"  # a new version shows at once


async def test_every_file_the_page_loads_is_served_as_vendored(client: httpx.AsyncClient) -> None:
    html = (await page(client)).text
    bundle = load_bundle()
    media_types = {"js": "text/javascript; charset=utf-8", "css": "text/css; charset=utf-8"}

    for ref in references(html):
        if ref.startswith("data:"):
            continue
        url = urljoin("http://testserver/graphql", ref)
        response = await client.get(url, headers={"Accept-Encoding": "identity"})
        name = ref.rsplit("/", 1)[1]
        assert response.status_code == 200, url
        assert response.headers["content-type"] == media_types[name.rsplit(".", 1)[1]]
        assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert "content-encoding" not in response.headers
        assert hashlib.sha256(response.content).hexdigest() == bundle.assets[name].sha256


async def test_files_are_gzipped_for_browsers_that_take_it(client: httpx.AsyncClient) -> None:
    bundle = load_bundle()
    url = f"/static/graphiql/{bundle.version}/graphiql.min.js"
    headers = {"Accept-Encoding": "gzip, deflate, br"}
    async with client.stream("GET", url, headers=headers) as response:
        raw = b"".join([chunk async for chunk in response.aiter_raw()])

    assert response.headers["content-encoding"] == "gzip"
    assert response.headers["vary"] == "Accept-Encoding"
    assert len(raw) < len(bundle.assets["graphiql.min.js"].body) / 3
    assert (
        hashlib.sha256(gzip.decompress(raw)).hexdigest() == bundle.assets["graphiql.min.js"].sha256
    )


async def test_a_browser_that_has_a_file_is_told_it_has_not_changed(
    client: httpx.AsyncClient,
) -> None:
    url = f"/static/graphiql/{load_bundle().version}/react.production.min.js"
    etag = (await client.get(url)).headers["etag"]

    response = await client.get(url, headers={"If-None-Match": etag})

    assert response.status_code == 304
    assert response.content == b""


@pytest.mark.parametrize(
    "path",
    [
        "/static/graphiql/0000000000000000/graphiql.min.js",  # another version
        "/static/graphiql/{version}/SHA256SUMS",
        "/static/graphiql/{version}/nothing.js",
        "/static/graphiql/{version}/..%2F..%2Fide.py",
        "/static/graphiql/{version}/../../ide.py",
    ],
)
async def test_nothing_else_is_served(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path.format(version=load_bundle().version))
    assert response.status_code == 404


async def test_json_clients_still_get_json(client: httpx.AsyncClient) -> None:
    response = await client.post("/graphql", json={"query": "{ __typename }"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert "content-security-policy" not in response.headers
    assert response.json()["data"] == {"__typename": "Query"}
