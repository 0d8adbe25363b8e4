"""The console script as an operator uses it, in a subprocess against a fresh SQLite file."""

from __future__ import annotations

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
    "export-schema",
]


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "infra.cli", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command: str) -> None:
    result = _run([command, "--help"], {})
    assert result.returncode == 0
    assert "usage: omnishelf" in result.stdout


def test_admin_tasks_on_a_fresh_database(tmp_path: Path) -> None:
    env = {"DATABASE_URL": f"sqlite://{tmp_path}/cli.sqlite3", "REDIS_URL": ""}
    assert _run(["migrate"], env).returncode == 0
    staff = _run(
        ["create-staff", "--username", "ops", "--password", "long-enough-pw", "--role", "ADMIN"],
        env,
    )
    assert staff.returncode == 0, staff.stderr
    assert "created ADMIN ops" in staff.stdout
    again = _run(
        ["create-staff", "--username", "ops", "--password", "long-enough-pw", "--role", "ADMIN"],
        env,
    )
    assert again.returncode == 2 and "DUPLICATE_USERNAME" in again.stderr
    missing = _run(["create-device", "--store", "NOPE", "--kind", "KIOSK"], env)
    assert missing.returncode == 2 and "no location" in missing.stderr
    key = _run(["create-api-key", "--name", "erp", "--scope", "catalog:write"], env)
    assert key.returncode == 0 and "key (shown once): key_" in key.stdout
    out = tmp_path / "schema.graphql"
    assert _run(["export-schema", "--output", str(out)], env).returncode == 0
    assert "type Query" in out.read_text()


def test_production_refuses_to_start_with_dev_secrets() -> None:
    result = _run(["migrate"], {"OMNISHELF_ENV": "production", "JWT_SECRET": ""})
    assert result.returncode != 0
    assert "configuration error" in result.stderr
