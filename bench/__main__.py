"""`python -m bench`: the benchmarks' one entry point (`make bench` runs `run`).

    python -m bench run [--scenarios a,b] [--concurrency 1,8,32] [--seconds N] [--quick]
                        [--server-workers N] ...
    python -m bench report      # docs/performance.md and its charts from bench/results/*.json
    python -m bench list        # the scenarios

`run` needs PostgreSQL and Redis of its own: `scripts/with-services.sh` provides them
(PG_ADMIN_URL, TEST_REDIS_URL), e.g.

    scripts/with-services.sh .venv/bin/python -m bench run --quick
"""

from __future__ import annotations

import argparse
import os
import sys

from bench.catalogue import SCENARIOS


def _ints(text: str) -> list[int]:
    try:
        values = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"comma-separated whole numbers, got {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError("at least one level, each 1 or more")
    return values


def _scenarios(text: str) -> list[str]:
    names = [x.strip() for x in text.split(",") if x.strip()]
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown {', '.join(unknown)}; choose from {', '.join(SCENARIOS)}"
        )
    return names


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="omnishelf benchmarks: the production topology driven over HTTP by a "
        "separate load generator, raw asyncpg baselines, and the report in docs/performance.md.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = sub.add_parser(
        "run",
        help="run scenarios, write bench/results/*.json and the report",
        description="Fresh database (its name must contain 'bench'), seeded world, every "
        "request checked once, then each scenario at each concurrency: HTTP against "
        "`omnishelf serve` in production mode (plus `omnishelf worker`) and its raw asyncpg "
        "baseline, or the domain services and theirs. Full run ~16 min; --quick ~3 min.",
    )
    run.add_argument(
        "--scenarios",
        type=_scenarios,
        help=f"comma-separated (default: all): {','.join(SCENARIOS)}",
    )
    run.add_argument("--concurrency", type=_ints, help="client counts (default 1,8,32; --quick: 8)")
    run.add_argument(
        "--seconds", type=float, help="measured seconds per run (default 5; quick 1.5)"
    )
    run.add_argument("--warmup", type=float, help="unmeasured seconds first (default 2; quick 0.5)")
    run.add_argument("--quick", action="store_true", help="a smaller world and short runs")
    run.add_argument(
        "--server-workers",
        type=int,
        default=os.cpu_count() or 1,
        help="uvicorn worker processes (default: the number of CPUs)",
    )
    run.add_argument("--pool-size", type=int, default=20, help="PostgreSQL connections per process")
    run.add_argument(
        "--admin-url",
        default=os.environ.get("PG_ADMIN_URL"),
        help="PostgreSQL database to create the bench database from (default $PG_ADMIN_URL)",
    )
    run.add_argument(
        "--redis-url",
        default=os.environ.get("REDIS_URL") or os.environ.get("TEST_REDIS_URL"),
        help="Redis for the server and worker (default $REDIS_URL, else $TEST_REDIS_URL)",
    )
    run.add_argument("--database", default="omnishelf_bench", help="name (must contain 'bench')")
    run.add_argument("--keep", action="store_true", help="keep the database afterwards")
    run.add_argument("--results", help="where the JSON goes (default bench/results)")
    run.add_argument("--no-report", action="store_true", help="do not regenerate the report")
    run.add_argument(
        "--no-bombs", action="store_true", help="skip bench.bombs (run when present on full runs)"
    )
    report = sub.add_parser("report", help="regenerate docs/performance.md and its charts")
    report.add_argument("--output", default=None, help="default docs/performance.md")
    sub.add_parser("list", help="list the scenarios")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "list":
        for scenario in SCENARIOS.values():
            print(f"{scenario.name:20} {scenario.kind:7} {scenario.title}")
        return 0
    if args.command == "report":
        from bench.report import write_report

        print(write_report(args.output))
        return 0

    from pathlib import Path

    from bench.runner import RESULTS, Plan, command_line, run

    if not args.admin_url or not args.redis_url:
        parser.error(
            "needs PostgreSQL and Redis: run under scripts/with-services.sh, or give "
            "--admin-url and --redis-url"
        )
    if "bench" not in args.database:
        parser.error("the database is dropped and created again: its name must contain 'bench'")
    quick = args.quick
    plan = Plan(
        scenarios=[SCENARIOS[n] for n in (args.scenarios or SCENARIOS)],
        concurrency=args.concurrency or ([8] if quick else [1, 8, 32]),
        seconds=args.seconds or (1.5 if quick else 5.0),
        warmup=args.warmup if args.warmup is not None else (0.5 if quick else 2.0),
        server_workers=args.server_workers,
        pool_size=args.pool_size,
        quick=quick,
        admin_url=args.admin_url,
        redis_url=args.redis_url,
        database=args.database,
        keep=args.keep,
        results=Path(args.results or RESULTS),
        command=command_line(),
    )
    code = run(plan, with_bombs=not (args.no_bombs or args.scenarios or quick))
    if code == 0 and not args.no_report and not args.results:
        from bench.report import write_report

        print(write_report(None))
    return code


if __name__ == "__main__":
    sys.exit(main())
