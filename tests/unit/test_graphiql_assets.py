"""GraphiQL's vendored files (api/static/graphiql/, written by scripts/vendor-graphiql.sh) are
the ones SHA256SUMS records, the page loads exactly those, and the install ships them."""

from __future__ import annotations

import fnmatch
import hashlib
import re
import shutil
import tomllib
from pathlib import Path

import pytest

from api.ide import ASSETS, PAGE, STATIC, TamperedAssets, load_bundle

ROOT = Path(__file__).resolve().parents[2]


def test_the_committed_files_match_their_recorded_sums() -> None:
    listed = {}
    for line in (ASSETS / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split()
        listed[name] = digest
    actual = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in ASSETS.iterdir()}
    assert actual.pop("SHA256SUMS") and actual.pop("SOURCES")
    assert actual == listed
    assert set(load_bundle().assets) == set(listed)


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    return Path(shutil.copytree(ASSETS, tmp_path / "graphiql"))


def test_a_tampered_file_is_refused(copy: Path) -> None:
    script = copy / "graphiql.min.js"
    script.write_bytes(script.read_bytes().replace(b"GraphiQL", b"GraphiQl", 1))
    with pytest.raises(TamperedAssets, match=r"graphiql\.min\.js: sha256 differs"):
        load_bundle(copy)


def test_a_missing_or_unlisted_file_is_refused(copy: Path) -> None:
    (copy / "plugin-explorer.css").unlink()
    (copy / "extra.js").write_text("alert(1)")
    with pytest.raises(TamperedAssets) as refused:
        load_bundle(copy)
    assert "extra.js: not in SHA256SUMS" in str(refused.value)
    assert "plugin-explorer.css: missing" in str(refused.value)


def test_the_version_in_the_urls_changes_with_the_files(copy: Path) -> None:
    assert load_bundle(copy).version == load_bundle().version
    body = b"// another react"
    (copy / "react.production.min.js").write_bytes(body)
    sums = copy / "SHA256SUMS"
    old = hashlib.sha256((ASSETS / "react.production.min.js").read_bytes()).hexdigest()
    sums.write_text(sums.read_text().replace(old, hashlib.sha256(body).hexdigest()))
    assert load_bundle(copy).version != load_bundle().version


def test_the_page_loads_every_script_and_stylesheet_and_nothing_else() -> None:
    page = PAGE.read_text()
    referenced = set(re.findall(r'(?:src|href)="\{\{static\}\}/([^"]+)"', page))
    served = {name for name in load_bundle().assets if name.endswith((".js", ".css"))}
    assert referenced == served
    assert "integrity=" not in page and "crossorigin" not in page


def test_the_install_ships_the_page_and_the_files() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["package-data"]["api"]
    files = [
        p.relative_to(STATIC.parent).as_posix()
        for p in STATIC.rglob("*")
        if p.is_file() and not p.name.startswith(".")  # .gitattributes
    ]
    assert files
    unshipped = [f for f in files if not any(fnmatch.fnmatch(f, pat) for pat in patterns)]
    assert unshipped == []
