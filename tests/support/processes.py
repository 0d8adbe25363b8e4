"""A second API process on the test database and Redis, for races that must hold across
processes: `omnishelf serve` in a subprocess, with the test run's settings."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx

from infra.settings import Settings

ROOT = Path(__file__).resolve().parents[2]  # the repository


def _clock_env() -> dict[str, str]:
    """Under libfaketime (scripts/run-tests.sh's date-sensitive suites) a child would start its
    own fake clock at the run's starting moment, behind this process's by the time the run
    has taken, and refuse the tokens issued here as not yet valid: start it at this process's
    moment (to the next second, in the local time zone faketime reads) instead."""
    if not os.environ.get("FAKETIME", "").startswith("@"):
        return {}
    return {"FAKETIME": time.strftime("@%Y-%m-%d %H:%M:%S", time.localtime(time.time() + 1))}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@asynccontextmanager
async def second_api(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of another `omnishelf serve` process sharing the database and Redis."""
    assert settings.redis_url, "a race across processes needs the shared Redis"
    port = _free_port()
    env = {
        **os.environ,
        "OMNISHELF_ENV": "test",
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "LOGIN_LIMIT_PER_USERNAME": str(settings.login_limit_per_username),
        "LOGIN_LIMIT_PER_ADDRESS": str(settings.login_limit_per_address),
        "LOG_LEVEL": "WARNING",
        **_clock_env(),
    }
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "infra.cli", "serve", "--host", "127.0.0.1", "--port", str(port)),
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base, timeout=60) as client:
            for _ in range(300):
                try:
                    if (await client.get("/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert process.returncode is None, "the second API process exited"
                await asyncio.sleep(0.1)
            else:
                raise AssertionError("the second API process did not start")
            yield client
    finally:
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), 10)
        except TimeoutError:
            process.kill()
            await process.wait()
