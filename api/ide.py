"""GraphiQL from the app itself: the page that GET /graphql shows a browser, and the files it
loads, so the IDE works with no internet (or behind a firewall that drops CDNs).

The files are those strawberry's own page loads from a CDN, at the same versions, vendored in
api/static/graphiql/ by scripts/vendor-graphiql.sh; SHA256SUMS there lists them with their
sums. They are served under a version taken from SHA256SUMS, so a browser may keep them for a
year: new files mean a new URL. The page names no other host, and its Content-Security-Policy
lets it load nothing from one.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response

STATIC = Path(__file__).with_name("static")
PAGE = STATIC / "graphiql.html"
ASSETS = STATIC / "graphiql"
# The page names its files relative to /graphql, which may sit under a proxy's path prefix.
ASSET_PREFIX = "static/graphiql"
ASSET_ROUTE = f"/{ASSET_PREFIX}/{{version}}/{{name}}"

MEDIA_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
}
IMMUTABLE = "public, max-age=31536000, immutable"
SAFETY_HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}


class TamperedAssets(Exception):
    """A vendored file is missing, unlisted, or differs from its sum in SHA256SUMS."""


@dataclass(frozen=True)
class Asset:
    body: bytes
    sha256: str
    media_type: str

    @property
    def etag(self) -> str:
        """Weak: the gzipped and the plain body are the same file."""
        return f'W/"{self.sha256[:32]}"'


@dataclass(frozen=True)
class Bundle:
    version: str
    assets: dict[str, Asset]


def load_bundle(directory: Path = ASSETS) -> Bundle:
    """Every file that SHA256SUMS lists, checked against its sum; the version names the set.
    Raises TamperedAssets when a file differs, is missing, or is there without being listed."""
    manifest = (directory / "SHA256SUMS").read_bytes()
    listed: dict[str, str] = {}
    for line in manifest.decode().splitlines():
        digest, name = line.split(maxsplit=1)
        listed[name.lstrip("*")] = digest
    present = {p.name for p in directory.iterdir()} - {"SHA256SUMS", "SOURCES"}
    problems = [f"{name}: not in SHA256SUMS" for name in sorted(present - listed.keys())]
    assets: dict[str, Asset] = {}
    for name, digest in sorted(listed.items()):
        path = directory / name
        if not path.is_file():
            problems.append(f"{name}: missing")
            continue
        body = path.read_bytes()
        if hashlib.sha256(body).hexdigest() != digest:
            problems.append(f"{name}: sha256 differs from SHA256SUMS")
            continue
        assets[name] = Asset(body, digest, MEDIA_TYPES.get(path.suffix, "application/octet-stream"))
    if problems:
        raise TamperedAssets(f"{directory}: " + "; ".join(problems))
    return Bundle(hashlib.sha256(manifest).hexdigest()[:16], assets)


@cache
def _bundle() -> Bundle:
    return load_bundle()


@cache
def _gzipped(name: str) -> bytes:
    return gzip.compress(_bundle().assets[name].body, compresslevel=9, mtime=0)


@cache
def _page() -> tuple[str, str]:
    """The page with its assets' URLs, and its Content-Security-Policy, which admits the
    page's one inline script by its hash."""
    static = f"{ASSET_PREFIX}/{_bundle().version}"
    html = PAGE.read_text(encoding="utf-8").replace("{{static}}", static)
    [script] = re.findall(r"<script>(.*?)</script>", html, flags=re.DOTALL)
    inline = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    policy = "; ".join(
        (
            "default-src 'none'",
            f"script-src 'self' 'sha256-{inline}'",
            "style-src 'self' 'unsafe-inline'",  # GraphiQL and CodeMirror set style attributes
            "font-src data:",  # graphiql.min.css embeds its fonts
            "img-src 'self' data:",
            "connect-src 'self'",  # POST /graphql and its WebSocket (same host)
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        )
    )
    return html, policy


def graphiql_page() -> Response:
    """GET /graphql for a browser."""
    html, policy = _page()
    headers = {"Content-Security-Policy": policy, "Cache-Control": "no-cache", **SAFETY_HEADERS}
    return HTMLResponse(html, headers=headers)


async def graphiql_asset(request: Request) -> Response:
    """One vendored file, under the current version only (a page of an older version reloads)."""
    name, version = request.path_params["name"], request.path_params["version"]
    bundle = _bundle()
    asset = bundle.assets.get(name)
    if asset is None or version != bundle.version:
        return PlainTextResponse("Not Found", status_code=404)
    headers = {"Cache-Control": IMMUTABLE, "ETag": asset.etag, "Vary": "Accept-Encoding"}
    headers |= SAFETY_HEADERS
    if asset.etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    if "gzip" in request.headers.get("accept-encoding", ""):
        headers["Content-Encoding"] = "gzip"
        return Response(_gzipped(name), media_type=asset.media_type, headers=headers)
    return Response(asset.body, media_type=asset.media_type, headers=headers)
