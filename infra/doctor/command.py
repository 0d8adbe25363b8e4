"""`omnishelf doctor`: the command-line face of the checks (exit 0 clean, 1 violations,
2 configuration or connection trouble, or a check that could not run)."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import textwrap
from datetime import timedelta

from infra.doctor.checks import CHECKS, NAMES

DESCRIPTION = (
    "Check every invariant the project promises on the configured database (DATABASE_URL) "
    "and report each violation with the ids and the numbers that disagree. All checks read "
    "one consistent snapshot (PostgreSQL: REPEATABLE READ, READ ONLY), so running it on a "
    "busy database is safe and finds nothing a writer is half-way through. Exit status: 0 "
    "when every check passes, 1 when one finds a violation, 2 when the configuration or the "
    "connection is wrong or a check could not run (e.g. its statement timed out)."
)


def _epilog() -> str:
    width = max(len(name) for name in NAMES)
    lines = ["checks:"]
    for check in CHECKS:
        wrapped = textwrap.wrap(check.summary, 96 - width - 4)
        lines.append(f"  {check.name:<{width}}  {wrapped[0]}")
        lines.extend(f"  {'':<{width}}  {more}" for more in wrapped[1:])
    return "\n".join(lines)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1
    if value <= 0:
        raise argparse.ArgumentTypeError(f"a positive number of seconds, got {text!r}")
    return value


def _sample(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= 10_000:
        raise argparse.ArgumentTypeError(f"a whole number from 1 to 10000, got {text!r}")
    return value


def configure(parser: argparse.ArgumentParser) -> None:
    parser.description = textwrap.fill(DESCRIPTION, 88)
    parser.epilog = _epilog()
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument(
        "--check",
        action="append",
        choices=NAMES,
        metavar="NAME",
        help="run only this check (repeatable; default: all, listed below)",
    )
    parser.add_argument("--json", action="store_true", help="print a machine-readable report")
    parser.add_argument(
        "--sample",
        type=_sample,
        default=20,
        metavar="N",
        help="offending rows shown per check (default 20; the count is always complete)",
    )
    parser.add_argument(
        "--statement-timeout",
        type=_seconds,
        metavar="SECONDS",
        help="PostgreSQL: give up a check after this long (reported as an error, exit 2)",
    )
    parser.add_argument(
        "--outbox-grace",
        type=_seconds,
        default=3600,
        metavar="SECONDS",
        help="a waiting outbox message overdue by more than this is a violation (default 3600)",
    )


async def _diagnose(args: argparse.Namespace) -> int:
    from infra.db.connection import start_database, stop_database
    from infra.doctor.runner import run_checks
    from infra.settings import Settings, SettingsError

    try:
        settings = Settings.from_env()
    except SettingsError as error:
        print(f"omnishelf doctor: configuration error: {error}", file=sys.stderr)
        return 2
    path = settings.sqlite_path()
    if path is not None and not path.is_file():
        print(f"omnishelf doctor: no database at {path} (DATABASE_URL)", file=sys.stderr)
        return 2
    try:
        await start_database(settings)
    except Exception as error:
        print(f"omnishelf doctor: cannot connect to the database: {error}", file=sys.stderr)
        return 2
    try:
        report = await run_checks(
            args.check,
            sample=args.sample,
            statement_timeout=(
                timedelta(seconds=args.statement_timeout) if args.statement_timeout else None
            ),
            outbox_grace=timedelta(seconds=args.outbox_grace),
        )
    except Exception as error:
        print(f"omnishelf doctor: cannot read the database: {error}", file=sys.stderr)
        return 2
    finally:
        await stop_database()
    try:
        print(report.json_text() if args.json else report.text(), flush=True)
    except BrokenPipeError:  # `omnishelf doctor | head`: the exit status still tells
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    failed = [r.name for r in report.results if r.error is not None]
    if failed:
        print(
            f"omnishelf doctor: could not run {', '.join(failed)} (errors above; a missing "
            "table means the database is not migrated: omnishelf migrate)",
            file=sys.stderr,
        )
    return report.exit_code


def main(args: argparse.Namespace) -> int:
    return asyncio.run(_diagnose(args))
