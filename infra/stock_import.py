"""`omnishelf import-stock`: an ERP's stock file (CSV) applied through `stock.bulk_set`.

The file is read twice: a first pass checks the header, that the whole file decodes and
counts the rows (nothing is written if it cannot be read); the second pass streams the rows
in batches of at most `MAX_BATCH`, one transaction each. Bad rows never stop the import:
each is reported with its CSV line number, and the rest are applied. Setting absolute
quantities makes a second run of the same file change nothing (a level named twice in one
file is set from its first row; the later rows are reported and skipped).
"""

from __future__ import annotations

import csv
import re
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO, TypeVar
from uuid import UUID

from domain.identity.model import Principal, PrincipalKind, StaffRole
from domain.inventory.deps import InventoryDeps
from domain.inventory.model import MAX_QUANTITY
from domain.inventory.stock import MAX_BATCH, BulkOutcome, BulkRow, bulk_set

COLUMNS = ("location_code", "variant_code", "on_hand")
ENCODING = "utf-8-sig"  # spreadsheets often start the file with a byte-order mark
_INTEGER = re.compile(r"[+-]?[0-9]+")

# The ERP sync runs as the system: an ADMIN that may write stock at every location.
SYSTEM_ACTOR = Principal(kind=PrincipalKind.STAFF, id=UUID(int=0), role=StaffRole.ADMIN)

T = TypeVar("T")


class ImportFileError(Exception):
    """The file cannot be imported at all: missing, unreadable, or without the columns."""


@dataclass(frozen=True)
class Problem:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


@dataclass(frozen=True)
class Record:
    """One data row of the file, with the line it ends on (quoted fields may span lines)."""

    line: int
    fields: list[str]


@dataclass(frozen=True)
class FilePlan:
    """What the first pass learnt: where the columns are, how wide a row is, how many rows."""

    path: Path
    columns: dict[str, int]
    width: int
    total: int


@dataclass
class ImportSummary:
    rows: int = 0
    changed: int = 0
    unchanged: int = 0
    batches: int = 0
    problems: list[Problem] = field(default_factory=list)

    def line(self) -> str:
        return (
            f"stock import: {self.rows} rows: {self.changed} set, {self.unchanged} unchanged, "
            f"{len(self.problems)} problems"
        )


# --- reading the file -------------------------------------------------------------------------


def _open(path: Path) -> TextIO:
    try:
        return path.open(encoding=ENCODING, newline="")
    except FileNotFoundError:
        raise ImportFileError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ImportFileError(f"{path}: is a directory") from None
    except OSError as error:
        raise ImportFileError(f"{path}: cannot read: {error.strerror or error}") from None


def records(stream: TextIO) -> Iterator[Record]:
    """Every non-blank row after the header, numbered by its line in the file."""
    reader = csv.reader(stream)
    next(reader, None)
    for fields in reader:
        if any(value.strip() for value in fields):
            yield Record(reader.line_num, fields)


def header_columns(header: Sequence[str]) -> dict[str, int]:
    """Where each required column is; names match case-insensitively, extras are ignored."""
    names = [name.strip().lower() for name in header]
    missing = [column for column in COLUMNS if column not in names]
    if missing:
        raise ImportFileError(
            f"the header row needs the columns {', '.join(COLUMNS)}; missing {', '.join(missing)}"
        )
    doubled = [column for column in COLUMNS if names.count(column) > 1]
    if doubled:
        raise ImportFileError(f"the header row names {', '.join(doubled)} more than once")
    return {column: names.index(column) for column in COLUMNS}


def inspect_file(path: Path) -> FilePlan:
    """The first pass: check the header and that every row decodes, and count the rows."""
    with _open(path) as stream:
        try:
            header = next(csv.reader(stream), None)
            if header is None:
                raise ImportFileError(f"{path}: the file is empty (no header row)")
            try:
                columns = header_columns(header)
            except ImportFileError as error:
                raise ImportFileError(f"{path}: {error}") from None
            stream.seek(0)
            total = sum(1 for _ in records(stream))
        except UnicodeDecodeError as error:
            raise ImportFileError(f"{path}: not UTF-8 text ({error.reason})") from None
        except csv.Error as error:
            raise ImportFileError(f"{path}: not a readable CSV file ({error})") from None
        except OSError as error:
            raise ImportFileError(f"{path}: cannot read: {error.strerror or error}") from None
    return FilePlan(path, columns, len(header), total)


def parse_quantity(text: str) -> int | None:
    """A whole number in plain ASCII digits (no "1_000", "3.0" or "1e3"); None otherwise."""
    value = text.strip()
    if not _INTEGER.fullmatch(value):
        return None
    try:
        return int(value)
    except ValueError:  # more digits than Python converts
        return None


def parse_record(record: Record, plan: FilePlan) -> BulkRow | Problem:
    """A row `bulk_set` can judge, or the reason it is malformed."""
    if len(record.fields) != plan.width:
        return Problem(
            record.line,
            f"malformed row: {len(record.fields)} columns, the header has {plan.width}",
        )
    raw = record.fields[plan.columns["on_hand"]]
    on_hand = parse_quantity(raw)
    if on_hand is None:
        return Problem(record.line, f"malformed row: on_hand {raw.strip()!r} is not a whole number")
    return BulkRow(
        location_code=record.fields[plan.columns["location_code"]].strip(),
        variant_code=record.fields[plan.columns["variant_code"]].strip(),
        on_hand=on_hand,
    )


def chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Consecutive lists of at most `size` items."""
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


# --- applying it ------------------------------------------------------------------------------


def outcome_problem(line: int, row: BulkRow, outcome: BulkOutcome) -> Problem | None:
    """What a rejected `bulk_set` outcome means, in the operator's words; None if applied."""
    if outcome.status == "UNKNOWN_LOCATION":
        return Problem(line, f"unknown location code {row.location_code!r}")
    if outcome.status == "UNKNOWN_VARIANT":
        return Problem(line, f"unknown variant code {row.variant_code!r}")
    if outcome.status == "INVALID_QUANTITY":
        return Problem(line, f"invalid quantity {row.on_hand} (must be 0 to {MAX_QUANTITY})")
    if outcome.status in ("SET", "UNCHANGED"):
        return None
    return Problem(line, f"not applied ({outcome.status})")


def row_key(row: BulkRow) -> tuple[str, str]:
    """The stock level a row sets, normalised as `bulk_set` looks the codes up."""
    return row.location_code.upper(), row.variant_code


async def apply_batch(
    deps: InventoryDeps,
    actor: Principal,
    batch: Sequence[Record],
    plan: FilePlan,
    seen: dict[tuple[str, str], int],
) -> tuple[int, int, list[Problem]]:
    """Parse one batch, send its good rows in one `bulk_set`; (set, unchanged, problems).

    `seen` maps each stock level already in the file to its first line: a later row for the
    same level is reported and skipped, so the file sets one value and a rerun sets nothing."""
    problems: list[Problem] = []
    lines: list[int] = []
    rows: list[BulkRow] = []
    for record in batch:
        parsed = parse_record(record, plan)
        if isinstance(parsed, Problem):
            problems.append(parsed)
            continue
        first = seen.setdefault(row_key(parsed), record.line)
        if first != record.line:
            problems.append(Problem(record.line, f"duplicate of line {first}; skipped"))
            continue
        lines.append(record.line)
        rows.append(parsed)
    outcomes = await bulk_set(deps, actor, rows) if rows else []
    changed = sum(1 for outcome in outcomes if outcome.status == "SET")
    unchanged = sum(1 for outcome in outcomes if outcome.status == "UNCHANGED")
    for outcome in outcomes:
        problem = outcome_problem(lines[outcome.index], rows[outcome.index], outcome)
        if problem is not None:
            problems.append(problem)
    problems.sort(key=lambda p: p.line)
    return changed, unchanged, problems


async def import_stock(
    deps: InventoryDeps,
    plan: FilePlan,
    *,
    actor: Principal = SYSTEM_ACTOR,
    batch_size: int = MAX_BATCH,
    on_problem: Callable[[Problem], None] = lambda problem: None,
    on_progress: Callable[[int], None] = lambda done: None,
) -> ImportSummary:
    """The second pass: stream the rows in batches, each one `bulk_set` transaction."""
    if not 1 <= batch_size <= MAX_BATCH:
        raise ValueError(f"batch_size is 1 to {MAX_BATCH}")
    summary = ImportSummary()
    seen: dict[tuple[str, str], int] = {}
    with _open(plan.path) as stream:
        for batch in chunks(records(stream), batch_size):
            changed, unchanged, problems = await apply_batch(deps, actor, batch, plan, seen)
            summary.rows += len(batch)
            summary.changed += changed
            summary.unchanged += unchanged
            summary.batches += 1
            summary.problems.extend(problems)
            for problem in problems:
                on_problem(problem)
            on_progress(summary.rows)
    return summary


# --- progress ---------------------------------------------------------------------------------


class Progress:
    """Progress on `stream`: a bar redrawn in place on a terminal, else a line every so often.

    Messages written through `say` (to `out`) first clear the bar so they do not mix with it.
    """

    WIDTH = 30

    def __init__(self, total: int, stream: TextIO, out: TextIO) -> None:
        self.total = total
        self.stream = stream
        self.out = out
        self.tty = stream.isatty()
        self.done = 0
        self.reported = 0
        self.step = max(MAX_BATCH, total // 20)
        self.drawn = False
        self.last_draw = 0.0

    def update(self, done: int) -> None:
        self.done = done
        if self.tty:
            if done >= self.total or time.monotonic() - self.last_draw >= 0.1:
                self._draw()
        elif done >= self.total or done - self.reported >= self.step:
            self.reported = done
            print(f"imported {done}/{self.total} rows", file=self.stream, flush=True)

    def say(self, message: str) -> None:
        if self.drawn:
            self.stream.write("\r\033[K")
            self.stream.flush()
        print(message, file=self.out, flush=True)
        if self.drawn:
            self._draw()

    def finish(self) -> None:
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()
            self.drawn = False

    def _draw(self) -> None:
        fraction = self.done / self.total if self.total else 1.0
        filled = round(self.WIDTH * fraction)
        bar = "#" * filled + "-" * (self.WIDTH - filled)
        self.stream.write(f"\r[{bar}] {fraction:4.0%} {self.done}/{self.total} rows")
        self.stream.flush()
        self.drawn = True
        self.last_draw = time.monotonic()
