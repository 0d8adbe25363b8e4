"""The console script as an operator uses it, in a subprocess against a fresh SQLite file."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

COMMANDS = [
    "serve",
    "worker",
    "migrate",
    "seed",
    "create-staff",
    "create-device",
    "create-api-key",
    "index-phone-suffixes",
    "export-schema",
    "jobs",
    "jobs list",
    "jobs run",
    "metrics",
    "metrics rollup",
    "facts",
    "facts rebuild",
    "devpay",
    "devpay pay",
    "persisted-queries",
    "persisted-queries add",
    "persisted-queries list",
    "persisted-queries remove",
]


def _run(
    args: list[str], env: dict[str, str], stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "infra.cli", *args],
        env={**os.environ, **env},
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command: str) -> None:
    result = _run([*command.split(), "--help"], {})
    assert result.returncode == 0
    assert "usage: omnishelf" in result.stdout


def test_admin_tasks_on_a_fresh_database(tmp_path: Path) -> None:
    env = {"DATABASE_URL": f"sqlite://{tmp_path}/cli.sqlite3", "REDIS_URL": ""}
    assert _run(["migrate"], env).returncode == 0
    staff = _run(
        ["create-staff", "--username", "ops", "--role", "ADMIN", "--password-stdin"],
        env,
        "long-enough-pw\n",
    )
    assert staff.returncode == 0, staff.stderr
    assert "created ADMIN ops" in staff.stdout
    again = _run(
        ["create-staff", "--username", "ops", "--role", "ADMIN", "--password-stdin"],
        env,
        "long-enough-pw\n",
    )
    assert again.returncode == 2 and "DUPLICATE_USERNAME" in again.stderr
    missing = _run(["create-device", "--store", "NOPE", "--kind", "KIOSK"], env)
    assert missing.returncode == 2 and "no location" in missing.stderr
    indexed = _run(["index-phone-suffixes"], env)
    assert indexed.returncode == 0 and "of 0 phone number(s)" in indexed.stdout, indexed.stderr
    key = _run(["create-api-key", "--name", "erp", "--scope", "catalog:write"], env)
    assert key.returncode == 0 and "key (shown once): key_" in key.stdout
    out = tmp_path / "schema.graphql"
    assert _run(["export-schema", "--output", str(out)], env).returncode == 0
    assert "type Query" in out.read_text()


def test_production_refuses_to_start_with_dev_secrets() -> None:
    result = _run(["migrate"], {"OMNISHELF_ENV": "production", "JWT_SECRET": ""})
    assert result.returncode != 0
    assert "configuration error" in result.stderr


def test_passwords_never_come_from_the_command_line(tmp_path: Path) -> None:
    env = {"DATABASE_URL": f"sqlite://{tmp_path}/cli.sqlite3", "REDIS_URL": ""}
    assert _run(["migrate"], env).returncode == 0
    as_argument = _run(
        ["create-staff", "--username", "ops", "--password", "long-enough-pw", "--role", "ADMIN"],
        env,
    )
    assert as_argument.returncode == 2 and "--password" in as_argument.stderr
    no_terminal = _run(["create-staff", "--username", "ops", "--role", "ADMIN"], env)
    assert no_terminal.returncode != 0 and "--password-stdin" in no_terminal.stderr
    short = _run(
        ["create-staff", "--username", "ops", "--role", "ADMIN", "--password-stdin"], env, "short\n"
    )
    assert short.returncode == 2, short.stderr


def test_seed_refuses_production(tmp_path: Path) -> None:
    env = {
        "OMNISHELF_ENV": "production",
        "DATABASE_URL": "postgres://nobody@127.0.0.1:1/none",
        "REDIS_URL": "redis://127.0.0.1:1/0",
        "JWT_SECRET": "x" * 40,
        "PII_MASTER_KEY": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
        "PII_HASH_KEY": "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA=",
        "PAYMENT_WEBHOOK_SECRET": "y" * 40,
        "WECHAT_APPS": "wx1:secret",
        "WECHAT_TEMPLATES_FILE": str(
            Path(__file__).parents[2] / "docs/wechat-templates.example.toml"
        ),
    }
    result = _run(["seed"], env)
    assert result.returncode != 0
    assert "does not run with OMNISHELF_ENV=production" in result.stderr, result.stderr


def test_jobs_are_listed_and_run_once_by_name(tmp_path: Path) -> None:
    from infra.jobs import JOBS, schedule_text

    env = {"DATABASE_URL": f"sqlite://{tmp_path}/cli.sqlite3", "REDIS_URL": ""}
    listed = _run(["jobs", "list"], env)
    assert listed.returncode == 0
    for job in JOBS:
        assert f"{job.name}  " in listed.stdout and job.does in listed.stdout
        assert schedule_text(job.every_seconds) in listed.stdout
    assert "every 10 s: cron hour * minute * second */10 (UTC)" in listed.stdout  # the outbox

    assert _run(["migrate"], env).returncode == 0
    ran = _run(["jobs", "run", "purge_phone_codes"], env)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.startswith(
        "purge_phone_codes: deletes SMS codes a day after expiry: 0 affected"
    )
    assert '"msg": "job done"' in ran.stderr and '"job": "purge_phone_codes"' in ran.stderr

    unknown = _run(["jobs", "run", "purge_everything"], env)
    assert unknown.returncode == 2
    assert "no job named 'purge_everything'" in unknown.stderr
    assert all(job.name in unknown.stderr for job in JOBS)


def test_metrics_rollups_are_rebuilt_for_a_range_of_days(tmp_path: Path) -> None:
    env = {"DATABASE_URL": f"sqlite://{tmp_path}/cli.sqlite3", "REDIS_URL": ""}
    assert _run(["migrate"], env).returncode == 0
    done = _run(["metrics", "rollup", "--day", "2026-12-01", "--to", "2026-12-03"], env)
    assert done.returncode == 0, done.stderr
    assert "rebuilt the metrics rollups of 3 day(s)" in done.stdout
    assert "2026-12-01: rebuilt (1/3)" in done.stderr and "2026-12-03: rebuilt (3/3)" in done.stderr
    backwards = _run(["metrics", "rollup", "--day", "2026-12-03", "--to", "2026-12-01"], env)
    assert backwards.returncode == 2 and "INVALID_INPUT" in backwards.stderr
    garbled = _run(["metrics", "rollup", "--day", "yesterday"], env)
    assert garbled.returncode == 2 and "not a day like 2026-12-01" in garbled.stderr


def test_facts_are_rebuilt_at_once_and_the_job_waits_for_its_next_cycle(tmp_path: Path) -> None:
    env = {"DATABASE_URL": f"sqlite://{tmp_path}/cli.sqlite3", "REDIS_URL": ""}
    assert _run(["migrate"], env).returncode == 0
    assert _run(["seed"], env).returncode == 0  # members and orders, their facts rebuilt
    done = _run(["facts", "rebuild"], env)  # at once, though a cycle has just finished
    assert done.returncode == 0, done.stderr
    members = int(done.stdout.split("rebuilt the facts of ")[1].split(" ")[0])
    assert members > 0 and "scored" in done.stdout
    job = _run(["jobs", "run", "rebuild_member_facts"], env)
    assert job.returncode == 0, job.stderr
    assert ": 0 affected" in job.stdout  # the job's next cycle begins 20 h after this one
    assert '"job": "rebuild_member_facts"' in job.stderr


OPERATIONS = """
query Stores($first: Int = 10) { locations(first: $first) { edges { node { ...Store } } } }
mutation Logout { logout { errors { code } } }
fragment Store on Location { id name }
fragment Unused on Location { code }
"""
# Apollo Client 3.14 (graphql-js 16.15) sends Stores as this text, with this hash: printed by
# InMemoryCache's `transformDocument` and graphql's `print`, hashed as its persisted-query link
# hashes (tests/unit/test_persisted_files.py compares a larger document).
STORES_AS_APOLLO_SENDS = (
    "query Stores($first: Int = 10) {\n  locations(first: $first) {\n    edges {\n      node {"
    "\n        ...Store\n        __typename\n      }\n      __typename\n    }\n    __typename"
    "\n  }\n}\n\nfragment Store on Location {\n  id\n  name\n  __typename\n}"
)


def test_persisted_queries_are_added_from_files_listed_and_removed(tmp_path: Path) -> None:
    env = {"DATABASE_URL": f"sqlite://{tmp_path}/cli.sqlite3", "REDIS_URL": ""}
    assert _run(["migrate"], env).returncode == 0
    source = tmp_path / "app.graphql"
    source.write_text(OPERATIONS)
    stores = hashlib.sha256(STORES_AS_APOLLO_SENDS.encode()).hexdigest()
    body = "query Ping { __typename }"
    ping = hashlib.sha256(body.encode()).hexdigest()
    manifest = tmp_path / "persisted-query-manifest.json"
    manifest.write_text(
        json.dumps(
            {
                "format": "apollo-persisted-query-manifest",
                "version": 1,
                "operations": [{"id": ping, "name": "Ping", "type": "query", "body": body}],
            }
        )
    )

    added = _run(["persisted-queries", "add", str(source), str(manifest)], env)
    assert added.returncode == 0, added.stderr
    lines = added.stdout.splitlines()
    assert f"added  {stores}  Stores" in lines and f"added  {ping}  Ping" in lines
    assert lines[-1] == "3 added, 0 already registered"

    again = _run(["persisted-queries", "add", str(source), str(manifest)], env)
    assert (
        again.returncode == 0 and again.stdout.splitlines()[-1] == "0 added, 3 already registered"
    )
    assert f"exists {stores}  Stores" in again.stdout

    listed = _run(["persisted-queries", "list"], env).stdout.splitlines()
    assert sorted(line.split()[0] for line in listed) == sorted(
        [stores, ping, line_hash(lines, "Logout")]
    )
    removed = _run(["persisted-queries", "remove", ping.upper()], env)
    assert removed.returncode == 0 and removed.stdout.strip() == f"removed {ping}"
    assert ping not in _run(["persisted-queries", "list"], env).stdout
    gone = _run(["persisted-queries", "remove", ping], env)
    assert gone.returncode == 2 and "no persisted query" in gone.stderr


def line_hash(lines: list[str], name: str) -> str:
    [line] = [line for line in lines if line.endswith(f"  {name}")]
    return line.split()[1]


@pytest.mark.parametrize(
    ("name", "content", "complaint"),
    [
        ("broken.graphql", "query { products ", "Expected Name"),
        ("missing.graphql", "query A { locations { ...Nowhere } }", "spreads fragment Nowhere"),
        (
            "manifest.json",
            '{"format": "apollo-persisted-query-manifest", "version": 2}',
            "version 1",
        ),
        ("wrong.json", json.dumps({"0" * 64: "query A { __typename }"}), "is not the SHA-256"),
        ("list.json", "[1, 2]", "neither an Apollo persisted-query manifest"),
    ],
)
def test_a_bad_file_registers_nothing(
    tmp_path: Path, name: str, content: str, complaint: str
) -> None:
    env = {"DATABASE_URL": f"sqlite://{tmp_path}/cli.sqlite3", "REDIS_URL": ""}
    assert _run(["migrate"], env).returncode == 0
    good = tmp_path / "good.graphql"
    good.write_text("query Ping { __typename }")
    bad = tmp_path / name
    bad.write_text(content)
    result = _run(["persisted-queries", "add", str(good), str(bad)], env)
    assert result.returncode == 2 and complaint in result.stderr, result.stderr
    assert "Nothing was registered" in result.stderr
    assert _run(["persisted-queries", "list"], env).stdout == ""
