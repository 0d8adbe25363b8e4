"""`omnishelf reconcile`: one bill day of a provider against our payments and refunds, printed
as a table of the differences (with order numbers) and a summary line."""

from __future__ import annotations

import argparse
import sys
from datetime import date
from typing import Any

from domain.ordering.reconcile import (
    BillUnavailable,
    Difference,
    ReconciliationRun,
    Totals,
    reconcile,
)

DESCRIPTION = (
    "Download PROVIDER's trade bill of DATE (a Beijing day; WeChat Pay publishes it after "
    "10:00 the next day), compare it with the payments and refunds completed that day, store "
    "the run and print the differences: MISSING_OURS (in the bill, not succeeded with us), "
    "MISSING_THEIRS (succeeded with us, not in the bill), AMOUNT, STATE. Running a day again "
    "replaces its unresolved differences; resolved ones stay resolved. Exit status 0 when "
    "nothing is unresolved, 1 when differences are, 2 when the bill cannot be had."
)
COLUMNS = ("KIND", "NUMBER", "ORDER", "OURS", "THEIRS", "RESOLVED")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--date",
        required=True,
        type=date.fromisoformat,
        metavar="YYYY-MM-DD",
        help="the bill day (Beijing time)",
    )
    parser.add_argument(
        "--provider", default="wechatpay", help="the provider whose bill (default wechatpay)"
    )


async def run(runtime: Any, args: argparse.Namespace) -> int:
    try:
        found, differences = await reconcile(runtime.reconciliation, args.provider, args.date)
    except BillUnavailable as error:
        print(f"omnishelf: the {args.provider} bill of {args.date}: {error}", file=sys.stderr)
        return 2
    print(report(found, differences))
    return 1 if found.unresolved else 0


def _yuan(fen: int | None) -> str:
    return "-" if fen is None else f"{fen // 100}.{fen % 100:02d}"


def _side(amount: int | None, state: str | None) -> str:
    if amount is None and state is None:
        return "-"
    return f"{state or '?'} {_yuan(amount)}"


def _totals(totals: Totals) -> str:
    return (
        f"{totals.payments} payments {_yuan(totals.paid)}, "
        f"{totals.refunds} refunds {_yuan(totals.refunded)}"
    )


def report(run: ReconciliationRun, differences: list[Difference]) -> str:
    rows = [
        (
            d.kind.value,
            d.reference,
            d.order_number or "-",
            _side(d.our_amount, d.our_state),
            _side(d.their_amount, d.their_state),
            "yes" if d.resolved_at else "",
        )
        for d in differences
    ]
    lines = [f"{run.provider} {run.day.isoformat()} (Beijing day), amounts in yuan"]
    if rows:
        widths = [max(len(r[i]) for r in [COLUMNS, *rows]) for i in range(len(COLUMNS))]
        for row in [COLUMNS, *rows]:
            lines.append("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())
    lines.append(f"bill: {_totals(run.bill)}")
    lines.append(f"ours: {_totals(run.ours)}")
    resolved = len(differences) - run.unresolved
    lines.append(f"{run.unresolved} unresolved differences, {resolved} resolved")
    return "\n".join(lines)
