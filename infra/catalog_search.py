"""The text a product is found by, written with the product (`index_for_search`) and matched
with LIKE on PostgreSQL and SQLite alike (infra/repositories/catalog.py).

Two columns of `product`, both in `search_key` form (NFKC, lower case, single spaces), each
term between line breaks so that a pattern can tell a whole term or its start:

- `search_names`: the product's names, display name and every translation
  ("\\n芒果多多\\nmango juice\\n"). A hit here ranks first: the whole name, then its start,
  then anywhere in it.
- `search_text`: its variants' names and translations and their SKU codes, and for every
  name with Chinese characters its pinyin, whole and by initials ("mangguoduoduo",
  "mgdd"), so a shopper typing on a Latin keyboard finds 芒果多多 with "mg".

Barcodes are not in the text: a barcode matches whole (its own unique index).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

_SPACES = re.compile(r"\s+")
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
LIKE_ESCAPE = "\\"


def search_key(text: str) -> str:
    """How both the stored text and a query are compared: full-width letters and digits as
    ASCII (NFKC), lower case, runs of white space (line breaks too) as one space."""
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", text).lower()).strip()


def pinyin_forms(text: str) -> list[str]:
    """The pinyin of the Chinese characters of `text`, whole and by initials (芒果多多 500ml:
    "mangguoduoduo", "mgdd"); nothing for text without them."""
    if not _HAN.search(text):
        return []
    from pypinyin import Style, lazy_pinyin  # its dictionaries load on first use

    whole = "".join(lazy_pinyin(text, errors="ignore"))
    initials = "".join(lazy_pinyin(text, style=Style.FIRST_LETTER, errors="ignore"))
    return [whole, initials]


def _terms(texts: Iterable[str]) -> str:
    keys = [k for k in dict.fromkeys(search_key(t) for t in texts) if k]
    return "\n" + "\n".join(keys) + "\n" if keys else ""


def search_columns(
    product_names: Iterable[str], variant_names: Iterable[str], codes: Iterable[str]
) -> tuple[str, str]:
    """(`search_names`, `search_text`) of a product."""
    names = list(product_names)
    others = list(variant_names)
    pinyin = [form for text in [*names, *others] for form in pinyin_forms(text)]
    return _terms(names), _terms([*others, *codes, *pinyin])


def _escaped(key: str) -> str:
    return (
        key.replace(LIKE_ESCAPE, LIKE_ESCAPE * 2)
        .replace("%", LIKE_ESCAPE + "%")
        .replace("_", LIKE_ESCAPE + "_")
    )


def like_patterns(query: str) -> tuple[str, str, str] | None:
    """LIKE patterns (escaped with LIKE_ESCAPE) of a query: (whole term, start of a term,
    anywhere). None when nothing is left to search for."""
    key = search_key(query)
    if not key:
        return None
    escaped = _escaped(key)
    return f"%\n{escaped}\n%", f"%\n{escaped}%", f"%{escaped}%"
