"""What a refused bomb costs the server, next to a normal query (issue 8).

    scripts/with-services.sh sh -c '.venv/bin/python -m bench.bombs \
        --database-url "${PG_ADMIN_URL%/postgres}/omnishelf_bench_bombs" \
        --admin-url "$PG_ADMIN_URL" [--requests 200] [--json-out bench/results/bombs.json]'

In process: the ASGI app (`api.app.create_app`, production logging to /dev/null: strawberry
logs every refused document) behind httpx's ASGI transport, on a fresh PostgreSQL database
(dropped and created again, so its name must contain "bench"; migrated; 20 products of 3
variants; dropped at the end unless --keep). Each scenario sends `--requests` requests one
after another, anonymously, after 10 to warm up, and reports this process's CPU per request
(`time.process_time`: the server's work plus httpx's, which is the same small amount for
every scenario; PostgreSQL's own CPU is not in it) and the wall-clock p50.

`normal` is the shopper's product list, sent as the same document every time, as clients
do (parsed and validated once, then cached). Every bomb differs from the one before (a
counter in a comment), so each is lexed and checked anew: an attacker's best case. The
ratio is bomb CPU / normal CPU. Not a test: the tests prove that bombs are refused before
anything runs (tests/api/test_abuse_limits.py); this measures what refusing costs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
NORMAL = "{ products(first: 20) { edges { node { name variants { code price { amount } } } } } }"
SEND = 'requestPhoneCode(input: {phone: "13900139000"}) { expiresInSeconds }'
DEEP = (
    'mutation { loginWithWechat(input: {appId: "wx-demo", code: "test:bomb"}) { member { '
    "orders { edges { node { lines { variant { product { variants { product { variants { "
    "product { variants { product { name } } } } } } } } } } } } } } }"
)
COSTLY = (
    "{ products(first: 100) { edges { node { variants { product { variants { product { "
    "variants { product { name } } } } } } } } } }"
)

Body = Callable[[int], bytes]  # request number -> body


def _graphql(query: str, variables: dict[str, Any] | None = None) -> bytes:
    return json.dumps({"query": query, "variables": variables or {}}).encode()


def _fresh(query: str) -> Body:
    """A new document every time: a counter in a trailing comment defeats the caches."""
    return lambda n: _graphql(f"{query} # {n}")


def _fragments_doubling(levels: int) -> str:
    spreads = [f"fragment F{i} on Mutation {{ ...F{i + 1} ...F{i + 1} }}" for i in range(levels)]
    last = f"fragment F{levels} on Mutation {{ {SEND} }}"
    return f"mutation {{ ...F0 }} {' '.join(spreads)} {last}"


ROWS = [{"locationCode": "S-1", "variantCode": "B-0-0", "onHand": 1}] * 50_000

SCENARIOS: dict[str, tuple[str, Body, int]] = {
    # name: (what it is, body, expected HTTP status)
    "normal": ("products(first: 20), variants and prices", lambda n: _graphql(NORMAL), 200),
    "normal-cold": ("the same, a new document each time", _fresh(NORMAL), 200),
    "depth": ("15 levels under loginWithWechat", _fresh(DEEP), 200),
    "cost": ("products(first: 100) nested 7 deep: cost 1.1M", _fresh(COSTLY), 200),
    "aliases-31": (
        "31 aliased requestPhoneCode",
        _fresh("mutation { " + " ".join(f"a{i}: {SEND}" for i in range(31)) + " }"),
        200,
    ),
    "aliases-10k": (
        "10,000 aliases (229 kB)",
        _fresh("{ " + " ".join(f"a{i}: viewer {{ kind }}" for i in range(10_000)) + " }"),
        200,
    ),
    "tokens": (
        "4,000 tokens in 16 kB",
        _fresh(
            '{ stockLevels(locationId: "x", variantIds: ['
            + '"a" ' * 4000
            + "]) { nodes { onHand } } }"
        ),
        200,
    ),
    "fragments": (
        "30 fragments, each spreading the next twice",
        _fresh(_fragments_doubling(30)),
        200,
    ),
    "repeats": (
        "one field 700 times (11 kB)",
        _fresh("{ " + "viewer { kind } " * 700 + "}"),
        200,
    ),
    "long-string": (
        "a 900 kB string literal",
        _fresh(
            'mutation { requestPhoneCode(input: {phone: "'
            + "1" * 900_000
            + '"}) { errors { code } } }'
        ),
        200,
    ),
    "variables": (
        "50,000 bulk rows in the variables (3.4 MB: 413 first; see variables-small)",
        lambda n: _graphql(
            "mutation($r: [StockRowInput!]!) { inventoryBulkSet(input: {rows: $r}) "
            f"{{ errors {{ code }} }} }} # {n}",
            {"r": ROWS},
        ),
        413,
    ),
    "variables-small": (
        "14,000 bulk rows in the variables (0.9 MB)",
        lambda n: _graphql(
            "mutation($r: [StockRowInput!]!) { inventoryBulkSet(input: {rows: $r}) "
            f"{{ errors {{ code }} }} }} # {n}",
            {"r": ROWS[:14_000]},
        ),
        200,
    ),
    "huge-body": (
        "a 2 MB body",
        lambda n: _graphql(f"{{ viewer {{ kind }} }} # {n}", {"pad": "x" * 2_000_000}),
        413,
    ),
    "batch": (
        "a JSON array of 1,000 operations",
        lambda n: json.dumps([{"query": f"{{ viewer {{ kind }} }} # {n}"}] * 1000).encode(),
        400,
    ),
}


@dataclass
class Result:
    scenario: str
    what: str
    status: int
    code: str
    requests: int
    cpu_ms: float
    p50_ms: float
    ratio: float = 0.0


async def seed(runtime: Any) -> None:
    from domain.catalog.services import ProductDraft, VariantDraft, create_product

    for p in range(20):
        variants = [
            VariantDraft(code=f"B-{p}-{v}", name=f"{v + 1} kg", price=990) for v in range(3)
        ]
        await create_product(runtime.catalog, ProductDraft(name=f"Mango {p}", variants=variants))


def _code(response: httpx.Response) -> str:
    try:
        errors = response.json().get("errors") or []
    except ValueError:
        return "(not JSON)"
    return str((errors[0].get("extensions") or {}).get("code")) if errors else "-"


async def measure(
    client: httpx.AsyncClient, name: str, body: Body, status: int, requests: int
) -> Result:
    headers = {"content-type": "application/json"}
    for n in range(10):  # warm-up
        await client.post("/graphql", content=body(-1 - n), headers=headers)
    bodies = [body(n) for n in range(requests)]
    walls: list[float] = []
    cpu_start = time.process_time()
    for payload in bodies:
        started = time.perf_counter()
        response = await client.post("/graphql", content=payload, headers=headers)
        walls.append(time.perf_counter() - started)
    cpu = (time.process_time() - cpu_start) / requests
    if response.status_code != status:
        raise SystemExit(
            f"{name}: HTTP {response.status_code}, expected {status}: {response.text[:300]}"
        )
    what = SCENARIOS[name][0]
    return Result(
        name,
        what,
        response.status_code,
        _code(response),
        requests,
        cpu * 1000,
        statistics.median(walls) * 1000,
    )


async def run(args: argparse.Namespace, log_sink: Any) -> list[Result]:
    from api.app import create_app
    from bench.database import FreshDatabase
    from infra.logging import configure_logging
    from infra.runtime import Runtime
    from infra.settings import Settings

    admin_url = (
        args.admin_url
        or os.environ.get("PG_ADMIN_URL")
        or args.database_url.rsplit("/", 1)[0] + "/postgres"
    )
    name = args.database_url.rsplit("/", 1)[1]
    async with FreshDatabase(admin_url, name, keep=args.keep) as url:
        runtime = Runtime(Settings(env="development", database_url=url, run_jobs_in_process=False))
        await runtime.start()
        configure_logging("INFO")  # as `omnishelf serve` does, into /dev/null
        for handler in logging.getLogger().handlers:
            if isinstance(handler, logging.StreamHandler):
                handler.setStream(log_sink)
        try:
            await seed(runtime)
            transport = httpx.ASGITransport(
                app=create_app(runtime=runtime), client=("203.0.113.9", 1)
            )
            async with httpx.AsyncClient(
                transport=transport, base_url="http://testserver"
            ) as client:
                results = []
                for scenario in args.scenarios:
                    _, body, status = SCENARIOS[scenario]
                    count = max(5, args.requests // 10) if scenario in SLOW else args.requests
                    results.append(await measure(client, scenario, body, status, count))
                    print(f"  {scenario}: {results[-1].cpu_ms:.2f} ms", file=sys.stderr)
        finally:
            await runtime.stop()
    normal = next((r.cpu_ms for r in results if r.scenario == "normal"), None)
    for result in results:
        result.ratio = result.cpu_ms / normal if normal else 0.0
    return results


SLOW = {"variables", "variables-small", "huge-body", "long-string"}  # big bodies: fewer requests


def table(results: list[Result]) -> str:
    lines = [
        "| scenario | what | HTTP | code | requests | CPU ms/req | p50 ms | ratio to normal |",
        "|---|---|--:|---|--:|--:|--:|--:|",
    ]
    for r in results:
        lines.append(
            f"| {r.scenario} | {r.what} | {r.status} | {r.code} | {r.requests} | "
            f"{r.cpu_ms:.2f} | {r.p50_ms:.2f} | {r.ratio:.2f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", required=True, help="postgres://.../<name with bench>")
    parser.add_argument("--admin-url", help="a database to create it from (default $PG_ADMIN_URL)")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--json-out", type=Path, help="e.g. bench/results/bombs.json")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args(argv)
    args.scenarios = [s for s in args.scenarios.split(",") if s]
    unknown = set(args.scenarios) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    with open(os.devnull, "w") as log_sink:
        results = asyncio.run(run(args, log_sink))
    print(table(results))
    if args.json_out:
        report = {
            "scenario": "bombs",
            "title": "CPU per request of refused bombs against a normal query",
            "unit": "ms of this process's CPU per request",
            "command": " ".join(["python -m bench.bombs", *(argv or sys.argv[1:])]),
            "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": {
                "python": platform.python_version(),
                "cpus": os.cpu_count(),
                "load_average": list(os.getloadavg()),
            },
            "runs": [asdict(r) for r in results],
        }
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
