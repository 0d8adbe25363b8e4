"""The `omnishelf` command line: serve, worker, migrate, seed, and admin tasks."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from domain.errors import DomainError
from infra.settings import Settings, SettingsError


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except SettingsError as error:
        sys.exit(f"omnishelf: configuration error: {error}")


def _with_runtime(action: Callable[[Any], Awaitable[int]]) -> int:
    """Run one admin task against the configured database and report domain errors plainly."""
    from infra.runtime import Runtime

    async def main() -> int:
        runtime = Runtime(_settings())
        await runtime.start()
        try:
            return await action(runtime)
        except DomainError as error:
            print(f"omnishelf: {error.code.value}: {error.message}", file=sys.stderr)
            return 2
        finally:
            await runtime.stop()

    return asyncio.run(main())


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    settings = _settings()
    if settings.is_sqlite and args.workers > 1:
        sys.exit("omnishelf: --workers > 1 needs PostgreSQL (SQLite is single-writer).")
    uvicorn.run(
        "api.app:create_app",
        factory=True,
        host=args.host or settings.host,
        port=args.port or settings.port,
        workers=args.workers,
        log_config=None,
        access_log=False,
        proxy_headers=True,
    )
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from arq.worker import run_worker

    from infra.jobs import worker_settings
    from infra.logging import configure_logging

    settings = _settings()
    if not settings.redis_url:
        sys.exit("omnishelf worker needs REDIS_URL; without it `serve` runs the jobs in-process.")
    configure_logging(settings.log_level)
    if args.metrics_port:
        from prometheus_client import start_http_server

        from api.metrics import METRICS

        # The job counters of this process; plain HTTP without METRICS_TOKEN: bind it privately.
        start_http_server(args.metrics_port, addr=settings.host, registry=METRICS.registry)
    run_worker(worker_settings(settings))
    return 0


def cmd_jobs_list(_: argparse.Namespace) -> int:
    from infra.jobs import JOBS, schedule_text

    width = max(len(job.name) for job in JOBS)
    for job in JOBS:
        print(f"{job.name:<{width}}  {schedule_text(job.every_seconds)}")
        print(f"{'':<{width}}  {job.does}")
    return 0


def cmd_jobs_run(args: argparse.Namespace) -> int:
    import time

    from infra.jobs import JOBS, find_job, run_job

    job = find_job(args.name)
    if job is None:
        names = "\n  ".join(j.name for j in JOBS)
        print(f"omnishelf: no job named {args.name!r}; the jobs are:\n  {names}", file=sys.stderr)
        return 2

    from infra.logging import configure_logging

    configure_logging(_settings().log_level)  # the job's own lines, as the worker writes them

    async def action(runtime: Any) -> int:
        started = time.perf_counter()
        try:
            affected = await run_job(runtime, job)
        except Exception as error:  # logged with its trace by run_job
            print(f"omnishelf: {job.name} failed: {type(error).__name__}", file=sys.stderr)
            return 1
        took = (time.perf_counter() - started) * 1000
        print(f"{job.name}: {job.does}: {affected} affected ({took:.0f} ms)")
        return 0

    return _with_runtime(action)


def cmd_migrate(args: argparse.Namespace) -> int:
    from infra.db.connection import downgrade, migrate

    settings = _settings()
    if args.downgrade:
        downgrade(settings.database_url, args.downgrade)
    else:
        migrate(settings.database_url, args.revision)
    print(f"omnishelf: database at {args.downgrade or args.revision}")
    return 0


def cmd_seed(_: argparse.Namespace) -> int:
    from infra.seed import seed

    if _settings().is_production:
        sys.exit(
            "omnishelf: seed creates demo staff with published passwords; it does not run with "
            "OMNISHELF_ENV=production. Create real staff with `omnishelf create-staff`."
        )
    return _with_runtime(seed)


def cmd_import_stock(args: argparse.Namespace) -> int:
    from infra.stock_import import ImportFileError, Progress, import_stock, inspect_file

    try:
        plan = inspect_file(Path(args.file))
    except ImportFileError as error:
        print(f"omnishelf: {error}", file=sys.stderr)
        return 2

    async def action(runtime: Any) -> int:
        progress = Progress(plan.total, sys.stderr, sys.stdout)
        try:
            summary = await import_stock(
                runtime.inventory,
                plan,
                batch_size=args.batch_size,
                on_problem=lambda problem: progress.say(str(problem)),
                on_progress=progress.update,
            )
        finally:
            progress.finish()
        print(summary.line())
        return 0

    return _with_runtime(action)


def _day(text: str) -> Any:
    from datetime import date

    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a day like 2026-12-01: {text!r}") from None


def cmd_metrics_rollup(args: argparse.Namespace) -> int:
    from domain.engagement.metrics_rollup import rebuild_range

    def progress(day: Any, rank: int, count: int) -> None:
        print(f"{day.isoformat()}: rebuilt ({rank}/{count})", file=sys.stderr, flush=True)

    async def action(runtime: Any) -> int:
        count = await rebuild_range(runtime.metrics, args.day, args.to or args.day, progress)
        print(f"rebuilt the metrics rollups of {count} day(s)")
        return 0

    return _with_runtime(action)


def cmd_facts_rebuild(_: argparse.Namespace) -> int:
    from domain.engagement.facts import rebuild_member_facts

    async def action(runtime: Any) -> int:
        done = await rebuild_member_facts(runtime.member_facts)  # no budget: a whole cycle
        print(
            f"rebuilt the facts of {done.members} member(s): {done.scored} scored, "
            f"{done.tags_changed} automatic tag change(s)"
        )
        return 0

    return _with_runtime(action)


def _batch_size(text: str) -> int:
    from domain.inventory.stock import MAX_BATCH

    try:
        size = int(text)
    except ValueError:
        size = 0
    if not 1 <= size <= MAX_BATCH:
        raise argparse.ArgumentTypeError(f"a whole number from 1 to {MAX_BATCH}, got {text!r}")
    return size


def _read_password(from_stdin: bool) -> str:
    """From standard input (one line) or a prompt, never from the command line, where every
    user of the machine could read it in the process list."""
    import getpass

    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        sys.exit("omnishelf: no terminal to ask for the password: use --password-stdin.")
    password = getpass.getpass("Password (at least 10 characters): ")
    if getpass.getpass("Again: ") != password:
        sys.exit("omnishelf: the passwords differ.")
    return password


def cmd_create_staff(args: argparse.Namespace) -> int:
    from domain.identity.model import StaffRole
    from domain.identity.services import create_staff

    if args.password is not None:
        print(
            "omnishelf: --password would show the password in the process list: "
            "use --password-stdin, or leave both out to be asked.",
            file=sys.stderr,
        )
        return 2
    password = _read_password(args.password_stdin)

    async def action(runtime: Any) -> int:
        store_ids = []
        for code in args.store or []:
            location = await runtime.repos.locations.get_by_code(code.upper())
            if location is None:
                print(f"omnishelf: no location with code {code!r}", file=sys.stderr)
                return 2
            store_ids.append(location.id)
        staff = await create_staff(
            runtime.auth, args.username, password, StaffRole(args.role), store_ids
        )
        print(f"created {staff.role.value} {staff.username} ({staff.id})")
        return 0

    return _with_runtime(action)


def cmd_create_device(args: argparse.Namespace) -> int:
    from domain.identity.model import DeviceKind
    from domain.identity.services import create_device

    async def action(runtime: Any) -> int:
        location = await runtime.repos.locations.get_by_code(args.store.upper())
        if location is None:
            print(f"omnishelf: no location with code {args.store!r}", file=sys.stderr)
            return 2
        device, token = await create_device(
            runtime.auth, location.id, DeviceKind(args.kind), args.name
        )
        print(f"created {device.kind.value} device {device.name} ({device.id})")
        print(f"token (shown once): {token}")
        return 0

    return _with_runtime(action)


def cmd_index_phone_suffixes(args: argparse.Namespace) -> int:
    from domain.members.services import index_phone_suffixes

    async def action(runtime: Any) -> int:
        done = await index_phone_suffixes(runtime.members)
        print(f"indexed the last 4 digits of {done} phone number(s)")
        return 0

    return _with_runtime(action)


def cmd_create_api_key(args: argparse.Namespace) -> int:
    from domain.identity.model import ApiScope
    from domain.identity.services import create_api_key

    async def action(runtime: Any) -> int:
        key, secret = await create_api_key(
            runtime.auth, args.name, [ApiScope(s) for s in args.scope]
        )
        scopes = ", ".join(s.value for s in key.scopes)
        print(f"created API key {key.name} ({key.id}) with scopes {scopes}")
        print(f"key (shown once): {secret}")
        return 0

    return _with_runtime(action)


def cmd_devpay_pay(args: argparse.Namespace) -> int:
    import httpx

    from infra.devpay_tool import DevPayError, pending_notice

    if _settings().is_production:
        sys.exit("omnishelf: devpay pay forges provider notifications; not with production.")

    async def action(runtime: Any) -> int:
        try:
            notice = await pending_notice(runtime, args.order)
        except DevPayError as error:
            print(f"omnishelf: {error}", file=sys.stderr)
            return 2
        if args.print:
            print(notice.curl(args.url))
            return 0
        try:
            response = await notice.send(args.url)
        except httpx.TransportError as error:
            print(f"omnishelf: cannot reach {args.url}: {error}", file=sys.stderr)
            return 1
        print(f"order {notice.order_number}: HTTP {response.status_code} {response.text}")
        return 0 if response.status_code == 200 else 1

    return _with_runtime(action)


def cmd_reconcile(args: argparse.Namespace) -> int:
    from infra.reconcile_command import run

    return _with_runtime(lambda runtime: run(runtime, args))


def cmd_doctor(args: argparse.Namespace) -> int:
    from infra.doctor.command import main as doctor

    return doctor(args)


def cmd_persisted_add(args: argparse.Namespace) -> int:
    from infra.persisted_files import PersistedFileError, operations_in

    try:
        operations = operations_in([Path(f) for f in args.files], typename=args.typename)
    except PersistedFileError as error:
        print(f"omnishelf: {error} Nothing was registered.", file=sys.stderr)
        return 2
    if not operations:
        print("omnishelf: the files hold no operation.", file=sys.stderr)
        return 2

    async def action(runtime: Any) -> int:
        results = await runtime.persisted_queries.add(operations)
        for operation, new in results:
            state = "added" if new else "exists"
            print(f"{state:7}{operation.sha256}  {operation.name or '(anonymous)'}")
        added = sum(new for _, new in results)
        print(f"{added} added, {len(results) - added} already registered")
        return 0

    return _with_runtime(action)


def cmd_persisted_list(_: argparse.Namespace) -> int:
    async def action(runtime: Any) -> int:
        for query in await runtime.persisted_queries.all():
            added = query.added_at.isoformat(timespec="seconds")
            print(f"{query.sha256}  {added}  {query.name or '(anonymous)'}")
        return 0

    return _with_runtime(action)


def cmd_persisted_remove(args: argparse.Namespace) -> int:
    async def action(runtime: Any) -> int:
        if not await runtime.persisted_queries.remove(args.hash.lower()):
            print(f"omnishelf: no persisted query {args.hash}", file=sys.stderr)
            return 2
        print(f"removed {args.hash.lower()}")
        return 0

    return _with_runtime(action)


def cmd_export_schema(args: argparse.Namespace) -> int:
    from api.schema import schema_sdl

    sdl = schema_sdl()
    if args.output == "-":
        sys.stdout.write(sdl)
    else:
        Path(args.output).write_text(sdl, encoding="utf-8")
        print(f"omnishelf: wrote {args.output}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from domain.identity.model import ApiScope, DeviceKind, StaffRole
    from domain.inventory.stock import MAX_BATCH

    parser = argparse.ArgumentParser(
        prog="omnishelf",
        description="omnishelf: GraphQL backend for omnichannel retail. "
        "Configuration comes from the environment (see README.md).",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("serve", help="serve the GraphQL API (uvicorn)")
    p.add_argument("--host", help="bind address (default: HOST or 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default: PORT or 8000)")
    p.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("worker", help="run background jobs from Redis (arq); needs REDIS_URL")
    p.add_argument(
        "--metrics-port",
        type=int,
        metavar="PORT",
        help="serve this worker's job metrics (Prometheus text) on HOST:PORT",
    )
    p.set_defaults(func=cmd_worker)

    p = sub.add_parser(
        "jobs",
        help="list the background jobs, or run one now",
        description="The scheduled background jobs (infra/jobs.py). `omnishelf worker` runs "
        "them from Redis; without REDIS_URL `serve` runs them in-process.",
    )
    jobs = p.add_subparsers(dest="jobs_command", required=True, metavar="ACTION")
    q = jobs.add_parser(
        "list",
        help="every job: name, schedule and what it does",
        description="Each job's name, its interval and the arq cron entry it becomes (UTC), "
        "and what it does.",
    )
    q.set_defaults(func=cmd_jobs_list)
    q = jobs.add_parser(
        "run",
        help="run one job once, now, in this process",
        description="Run the job NAME once, now, in this process, against DATABASE_URL (and "
        "REDIS_URL), as the scheduler would: the same function, the same retry after a "
        "deadlock, the same log lines. Every job is idempotent, so running it beside the "
        "scheduler does no double harm. Prints how many rows it affected. Exit status 0 when "
        "it ran, 1 when it failed, 2 for an unknown NAME (the jobs are listed).",
    )
    q.add_argument("name", metavar="NAME", help="a job name from `omnishelf jobs list`")
    q.set_defaults(func=cmd_jobs_run)

    p = sub.add_parser("migrate", help="apply Alembic migrations to DATABASE_URL")
    p.add_argument("--revision", default="head", help="target revision (default head)")
    p.add_argument("--downgrade", metavar="REVISION", help="downgrade to REVISION (e.g. base)")
    p.set_defaults(func=cmd_migrate)

    p = sub.add_parser(
        "metrics",
        help="the engagement metrics' daily rollups",
        description="`metrics` reads daily rollups that the job roll_up_metrics builds every "
        "hour from the days changed since its last run.",
    )
    metrics = p.add_subparsers(dest="metrics_command", required=True, metavar="ACTION")
    q = metrics.add_parser(
        "rollup",
        help="rebuild the rollups of a day, or of every day of a range, now",
        description="Rebuild the metrics rollups of the store-local day D (every store, each "
        "on its own clock), or of every day from D to D2, from the orders, hand-overs, "
        "after-sales and subscriptions as they are now: each day deleted and inserted in one "
        "transaction, so running it again changes nothing. Prints each day as it is done. "
        "Exit status 0 when done, 2 for a bad range.",
    )
    q.add_argument("--day", required=True, type=_day, metavar="D", help="first day, 2026-12-01")
    q.add_argument("--to", type=_day, metavar="D2", help="last day (default: D)")
    q.set_defaults(func=cmd_metrics_rollup)

    p = sub.add_parser(
        "facts",
        help="the engagement member facts",
        description='Member facts (README "Engagement"): the job rebuild_member_facts '
        "recomputes them in cycles, one every 20 h, resumed across its 10-minute runs.",
    )
    facts = p.add_subparsers(dest="facts_command", required=True, metavar="ACTION")
    q = facts.add_parser(
        "rebuild",
        help="rebuild every member's facts, RFM scores and automatic tags now",
        description="Start a new cycle of the facts rebuild now and run it to its end in this "
        "process (every active member's row, then RFM scores and the automatic tags), whenever "
        "the last began; the job then starts its next cycle 20 h after this one. A job run "
        "beside it shares its batches. Exit status 0 when done.",
    )
    q.set_defaults(func=cmd_facts_rebuild)

    p = sub.add_parser("seed", help="load the demo data (idempotent)")
    p.set_defaults(func=cmd_seed)

    p = sub.add_parser(
        "import-stock",
        help="set on-hand stock from an ERP CSV file (idempotent)",
        description="Set absolute on-hand quantities from a CSV file with a header row naming "
        "the columns location_code, variant_code and on_hand (any case; other columns are "
        "ignored). Rows go through the ERP bulk sync in batches, one transaction each. Bad "
        "rows (and repeats of a location and variant already in the file) are reported with "
        "their line number and skipped; the rest are applied. "
        "Running the same file again changes nothing. Exit status 0 once the file was "
        "processed, 2 if it cannot be read or lacks a column.",
    )
    p.add_argument("file", metavar="FILE.csv", help="the CSV file (UTF-8)")
    p.add_argument(
        "--batch-size",
        type=_batch_size,
        default=MAX_BATCH,
        metavar="N",
        help=f"rows per transaction, 1 to {MAX_BATCH} (default {MAX_BATCH})",
    )
    p.set_defaults(func=cmd_import_stock)

    p = sub.add_parser("create-staff", help="create a staff user")
    p.add_argument("--username", required=True)
    p.add_argument("--password", help=argparse.SUPPRESS)  # refused, with the way to do it
    p.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password (at least 10 characters) from standard input; "
        "without it, you are asked for it",
    )
    p.add_argument("--role", required=True, choices=[r.value for r in StaffRole])
    p.add_argument("--store", action="append", metavar="CODE", help="store code (repeatable)")
    p.set_defaults(func=cmd_create_staff)

    p = sub.add_parser(
        "index-phone-suffixes",
        help="backfill the CS search index of phones' last 4 digits (once, after 0023_cs_desk)",
    )
    p.set_defaults(func=cmd_index_phone_suffixes)

    p = sub.add_parser("create-device", help="register a kiosk or POS and print its token")
    p.add_argument("--store", required=True, metavar="CODE", help="store code")
    p.add_argument("--kind", required=True, choices=[k.value for k in DeviceKind])
    p.add_argument("--name", help="display name")
    p.set_defaults(func=cmd_create_device)

    p = sub.add_parser("create-api-key", help="create an integration key and print it")
    p.add_argument("--name", required=True)
    p.add_argument(
        "--scope",
        required=True,
        action="append",
        choices=[s.value for s in ApiScope],
        help="scope (repeatable)",
    )
    p.set_defaults(func=cmd_create_api_key)

    p = sub.add_parser(
        "devpay",
        help="development payments: pay an order as the devpay provider would",
        description="The development payment provider's side (refused in production).",
    )
    dev = p.add_subparsers(dest="devpay_command", required=True, metavar="ACTION")
    q = dev.add_parser(
        "pay",
        help="send the signed 'payment succeeded' notification of an order's pending payment",
        description="Find ORDER (its id, global id or number) in DATABASE_URL, take its newest "
        'pending devpay payment (started with payOrder(provider: "devpay")), and POST the '
        "notification DevPay would send, {paymentRef, amount, currency, status: SUCCEEDED}, "
        "signed with PAYMENT_WEBHOOK_SECRET (X-Devpay-Signature: hex HMAC-SHA256 of the raw "
        "body), to URL/webhooks/payments/devpay. Exit status 0 when the server answered 200, "
        "1 otherwise, 2 when the order or its pending payment is not found.",
    )
    q.add_argument("order", metavar="ORDER", help="order id, global id or order number")
    q.add_argument(
        "--url",
        default="http://127.0.0.1:8000",
        help="the running server (default http://127.0.0.1:8000)",
    )
    q.add_argument(
        "--print",
        action="store_true",
        help="print the signed request as a curl command instead of sending it",
    )
    q.set_defaults(func=cmd_devpay_pay)

    from infra.reconcile_command import DESCRIPTION
    from infra.reconcile_command import configure as configure_reconcile

    p = sub.add_parser(
        "reconcile",
        help="compare a provider's daily bill with our payments and refunds",
        description=DESCRIPTION,
    )
    configure_reconcile(p)
    p.set_defaults(func=cmd_reconcile)

    from infra.wechatpay_tool import configure as configure_wechatpay

    p = sub.add_parser(
        "wechatpay",
        help="WeChat Pay administration: download the platform certificates",
        description="WeChat Pay API v3 tasks for the merchant (docs/payments.md).",
    )
    configure_wechatpay(p)

    from infra.doctor.command import configure as configure_doctor

    p = sub.add_parser("doctor", help="check the database's invariants (exit 1 on a violation)")
    configure_doctor(p)
    p.set_defaults(func=cmd_doctor)

    p = sub.add_parser(
        "persisted-queries",
        help="register the operations a client may run (PERSISTED_QUERIES=allowlist)",
        description="The operations registered here run by their SHA-256 alone in every mode, "
        "and are the only ones that run with PERSISTED_QUERIES=allowlist. Every API process "
        "sees a change within a second (0.1 s with REDIS_URL, 5 s without).",
    )
    persisted = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    q = persisted.add_parser(
        "add",
        help="register the operations of .graphql files or JSON manifests (idempotent)",
        description="Register every operation of the files, in one transaction: nothing is "
        "registered if a file cannot be read. A .graphql file may hold several operations and "
        "fragments (looked up across all the files); each operation is registered with the "
        "fragments it spreads, printed as Apollo Client sends it (graphql-js print, __typename "
        "added as InMemoryCache does). A .json file is an Apollo persisted-query manifest "
        "(@apollo/generate-persisted-query-manifest) or a {sha256: document} map, registered "
        "as it is. Prints each operation's hash and name; one already registered is left as it "
        "is. Exit status 2 if a file is unreadable or holds an error.",
    )
    q.add_argument("files", nargs="+", metavar="FILE", help=".graphql, .gql or .json")
    q.add_argument(
        "--no-typename",
        dest="typename",
        action="store_false",
        help="register .graphql operations without adding __typename (clients that send "
        "documents as written, without Apollo's cache)",
    )
    q.set_defaults(func=cmd_persisted_add)
    q = persisted.add_parser("list", help="print every registered operation: hash, added, name")
    q.set_defaults(func=cmd_persisted_list)
    q = persisted.add_parser("remove", help="unregister an operation by its hash")
    q.add_argument("hash", metavar="HASH", help="the SHA-256 that `list` prints")
    q.set_defaults(func=cmd_persisted_remove)

    p = sub.add_parser("export-schema", help="write the GraphQL SDL")
    p.add_argument("--output", default="schema.graphql", help="file, or - for stdout")
    p.set_defaults(func=cmd_export_schema)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
