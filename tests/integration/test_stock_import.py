"""`omnishelf import-stock`: the ERP's CSV through the bulk sync, in-process and as a command."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from domain.catalog.services import ProductDraft, VariantDraft, create_category, create_product
from infra.runtime import Runtime
from infra.stock_import import (
    FilePlan,
    ImportFileError,
    ImportSummary,
    Problem,
    Progress,
    import_stock,
    inspect_file,
    parse_quantity,
)
from infra.stock_import import chunks as split

GOOD_AND_BAD = (
    "Location_Code,VARIANT_CODE,On_Hand,note\n"  # line 1: any case, an extra column
    "SH-A,TEA-1,12,ok\n"  # 2
    "sh-b,TEA-2,0,lower-case location\n"  # 3
    "NOPE,TEA-1,5,unknown location\n"  # 4
    "SH-A,NO-SUCH,5,unknown variant\n"  # 5
    "SH-A,TEA-2,-3,negative\n"  # 6
    "SH-B,TEA-1,1.5,not a whole number\n"  # 7
    "SH-A,TEA-1\n"  # 8: short row
    "\n"  # 9: blank lines are skipped
    "WH-1,TEA-2,400,ok\n"  # 10
    "sh-a,TEA-1,99,the same level as line 2\n"  # 11
)


def _write(tmp_path: Path, text: str, name: str = "stock.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


async def _variants(runtime: Runtime, count: int = 2) -> dict[str, Any]:
    """Variants TEA-1 .. TEA-n, in products of at most 100 variants each."""
    tea = await create_category(runtime.catalog, "Tea", "tea", None)
    made: dict[str, Any] = {}
    for first in range(1, count + 1, 100):
        numbers = range(first, min(first + 100, count + 1))
        product = await create_product(
            runtime.catalog,
            ProductDraft(
                name=f"Tea {first}",
                slug=f"tea-{first}",
                category_id=tea.id,
                variants=[
                    VariantDraft(code=f"TEA-{n}", name=f"Tea {n}", price=100) for n in numbers
                ],
            ),
        )
        for variant in await runtime.repos.catalog.variants_of([product.id]):
            made[variant.code] = variant
    return made


async def _on_hand(runtime: Runtime, location: Any, variant: Any) -> int | None:
    level = await runtime.repos.inventory.level(location.id, variant.id)
    return level.on_hand if level else None


async def _run(runtime: Runtime, path: Path, batch_size: int = 500) -> ImportSummary:
    return await import_stock(runtime.inventory, inspect_file(path), batch_size=batch_size)


def test_quantities_are_plain_whole_numbers() -> None:
    assert parse_quantity(" 12 ") == 12
    assert parse_quantity("-3") == -3
    for bad in ("1.5", "1_000", "1e3", "", "twelve", "\uff11\uff12"):
        assert parse_quantity(bad) is None


def test_chunks_split_at_the_batch_size() -> None:
    assert [len(c) for c in split(range(1200), 500)] == [500, 500, 200]
    assert list(split([], 500)) == []


async def test_good_rows_apply_and_bad_rows_are_reported_by_line(
    runtime: Runtime, stores: dict[str, Any], tmp_path: Path
) -> None:
    variants = await _variants(runtime)
    path = _write(tmp_path, GOOD_AND_BAD)

    summary = await _run(runtime, path)

    assert (summary.rows, summary.changed, summary.unchanged) == (9, 2, 1)
    assert [str(p) for p in summary.problems] == [
        "line 4: unknown location code 'NOPE'",
        "line 5: unknown variant code 'NO-SUCH'",
        "line 6: invalid quantity -3 (must be 0 to 1000000)",
        "line 7: malformed row: on_hand '1.5' is not a whole number",
        "line 8: malformed row: 2 columns, the header has 4",
        "line 11: duplicate of line 2; skipped",
    ]
    assert await _on_hand(runtime, stores["SH-A"], variants["TEA-1"]) == 12
    assert await _on_hand(runtime, stores["SH-B"], variants["TEA-2"]) == 0
    assert await _on_hand(runtime, stores["WH-1"], variants["TEA-2"]) == 400
    assert await _on_hand(runtime, stores["SH-A"], variants["TEA-2"]) is None  # row 6 refused

    again = await _run(runtime, path)
    assert (again.changed, again.unchanged, len(again.problems)) == (0, 3, 6)


async def test_large_files_go_in_batches(
    runtime: Runtime, stores: dict[str, Any], tmp_path: Path
) -> None:
    await _variants(runtime, 400)
    lines = [f"{code},TEA-{n},{n % 50}" for code in ("SH-A", "SH-B", "WH-1") for n in range(1, 401)]
    path = _write(tmp_path, "location_code,variant_code,on_hand\n" + "\n".join(lines) + "\n")
    seen: list[int] = []

    summary = await import_stock(
        runtime.inventory, inspect_file(path), batch_size=500, on_progress=seen.append
    )

    assert (summary.rows, summary.batches, summary.problems) == (1200, 3, [])
    assert summary.changed + summary.unchanged == 1200
    assert seen == [500, 1000, 1200]
    again = await _run(runtime, path, batch_size=500)
    assert (again.changed, again.unchanged, again.batches) == (0, 1200, 3)


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("location_code,sku,on_hand\nSH-A,TEA-1,1\n", "missing variant_code"),
        ("", "empty"),
        ("location_code,variant_code,on_hand,on_hand\n", "more than once"),
    ],
)
def test_a_file_without_the_columns_is_refused(tmp_path: Path, text: str, error: str) -> None:
    with pytest.raises(ImportFileError, match=error):
        inspect_file(_write(tmp_path, text))


def test_the_first_pass_counts_rows_and_reads_a_byte_order_mark(tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes("\ufeffLOCATION_CODE,variant_code,on_hand\nA,B,1\n\nC,D,2\n".encode())
    plan = inspect_file(path)
    assert (plan.total, plan.width, plan.columns["location_code"]) == (2, 3, 0)
    with pytest.raises(ImportFileError, match="no such file"):
        inspect_file(tmp_path / "missing.csv")
    latin1 = tmp_path / "latin1.csv"
    latin1.write_bytes(b"location_code,variant_code,on_hand\nCAF\xc9,X,1\n")
    with pytest.raises(ImportFileError, match="UTF-8"):
        inspect_file(latin1)


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_is_a_bar_on_a_terminal_and_lines_otherwise() -> None:
    plain, out = io.StringIO(), io.StringIO()
    progress = Progress(4000, plain, out)
    for done in range(500, 4001, 500):
        progress.update(done)
    progress.finish()
    assert plain.getvalue().splitlines()[2] == "imported 1500/4000 rows"
    assert "\r" not in plain.getvalue()

    tty, out = _Tty(), io.StringIO()
    progress = Progress(1000, tty, out)
    progress.update(500)
    progress.say(str(Problem(3, "unknown location code 'X'")))
    progress.update(1000)
    progress.finish()
    assert "\r[###############---------------]  50% 500/1000 rows" in tty.getvalue()
    assert tty.getvalue().endswith("100% 1000/1000 rows\n")
    assert out.getvalue() == "line 3: unknown location code 'X'\n"


def test_plan_is_what_the_first_pass_found(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD_AND_BAD)
    assert inspect_file(path) == FilePlan(
        path,
        {"location_code": 0, "variant_code": 1, "on_hand": 2},
        width=4,
        total=9,
    )


# --- the command, in a subprocess ------------------------------------------------------------


def _cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "infra.cli", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_import_stock_help() -> None:
    result = _cli(["import-stock", "--help"], {})
    assert result.returncode == 0
    assert "usage: omnishelf import-stock" in result.stdout
    assert "--batch-size" in result.stdout


def test_import_stock_command_on_a_seeded_database(tmp_path: Path) -> None:
    env = {"DATABASE_URL": f"sqlite://{tmp_path}/import.sqlite3", "REDIS_URL": ""}
    assert _cli(["migrate"], env).returncode == 0
    seeded = _cli(["seed"], env)
    assert seeded.returncode == 0, seeded.stderr
    assert "stock: " in seeded.stdout and "stock: 0 set" not in seeded.stdout
    reseeded = _cli(["seed"], env)
    assert "products: 0 created" in reseeded.stdout
    assert "stock: 0 set, 858 unchanged" in reseeded.stdout

    text = (
        "variant_code,location_code,on_hand\n"  # columns in another order
        "FRT-MANGO-1KG,SH-JAS,3\n"  # 2
        "FRT-MANGO-1KG,XX-NONE,3\n"  # 3
        "NO-SUCH-SKU,SH-JAS,3\n"  # 4
        "FRT-MANGO-1KG,WH-KS,-1\n"  # 5
        "FRT-MANGO-1KG,WH-KS,lots\n"  # 6
        "FRT-MANGO-1KG,WH-KS,1,extra\n"  # 7
        "FRT-MANGO-500G,SH-XJH,7\n"  # 8
        "FRT-BANANA-1KG,SH-XJH,8\n"  # 9
        "FRT-BANANA-2KG,SH-XJH,9\n"  # 10
    )
    path = _write(tmp_path, text)

    first = _cli(["import-stock", str(path), "--batch-size", "2"], env)
    assert first.returncode == 0, first.stderr
    assert "line 3: unknown location code 'XX-NONE'" in first.stdout
    assert "line 4: unknown variant code 'NO-SUCH-SKU'" in first.stdout
    assert "line 5: invalid quantity -1" in first.stdout
    assert "line 6: malformed row: on_hand 'lots' is not a whole number" in first.stdout
    assert "line 7: malformed row: 4 columns, the header has 3" in first.stdout
    assert first.stdout.rstrip().endswith("5 problems")
    assert "stock import: 9 rows:" in first.stdout
    assert "imported 9/9 rows" in first.stderr  # plain lines: stderr is not a terminal

    second = _cli(["import-stock", str(path)], env)
    assert second.returncode == 0, second.stderr
    assert "stock import: 9 rows: 0 set, 4 unchanged, 5 problems" in second.stdout

    missing_column = _write(tmp_path, "location,variant_code,on_hand\nSH-JAS,X,1\n", "bad.csv")
    refused = _cli(["import-stock", str(missing_column)], env)
    assert refused.returncode == 2
    assert "missing location_code" in refused.stderr
    absent = _cli(["import-stock", str(tmp_path / "absent.csv")], env)
    assert absent.returncode == 2 and "no such file" in absent.stderr
