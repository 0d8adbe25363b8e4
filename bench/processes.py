"""The production topology and where the CPU goes.

`omnishelf serve --workers N` and `omnishelf worker` run as separate process groups in
production mode (the environment a deployment would set: fresh secrets, PostgreSQL, Redis,
no fakes), each started and stopped cleanly. CPU is read from /proc per process group
(the server's master and workers; the arq worker), for PostgreSQL (its postmaster and every
process it started), Redis, the load generator and the machine as a whole, so each run can
say how many CPU milliseconds each part spent per operation."""

from __future__ import annotations

import asyncio
import contextlib
import os
import platform
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench.database import Secrets

ROOT = Path(__file__).resolve().parents[1]
TICK = os.sysconf("SC_CLK_TCK")
# Unpaid benchmark orders would otherwise be cancelled by the worker in the middle of later
# scenarios (their stock released in bulk); real shoppers mostly pay.
PAYMENT_TIMEOUT = 3 * 3600


def production_env(
    database_url: str,
    redis_url: str,
    keys: Secrets,
    pool_size: int,
    wechatpay: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """`wechatpay`: the WECHATPAY_* settings of bench.wechatpay.server_env (WeChat Pay is the
    fake server on this machine), for the scenarios that pay with it."""
    return {
        **os.environ,
        "OMNISHELF_ENV": "production",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "JWT_SECRET": keys.jwt,
        "PII_MASTER_KEY": keys.pii_master,
        "PII_HASH_KEY": keys.pii_hash,
        "PAYMENT_WEBHOOK_SECRET": keys.payment,
        # The scenarios and the crash test pay with devpay's signed notifications, which
        # production refuses unless told this is a benchmark; the wechatpay_* scenarios add
        # WeChat Pay (its fake server on this machine) through `wechatpay`.
        "PAYMENT_PROVIDERS": "devpay",
        "DEVPAY_IN_PRODUCTION": "1",
        "WECHAT_FAKE": "0",
        "WECHAT_APPS": "wx1:bench-app-secret",
        "SMS_PROVIDER": "disabled",
        "NOTIFIER": "disabled",  # no WeChat to reach from here: messages are kept as FAILED
        "DB_POOL_SIZE": str(pool_size),
        "PAYMENT_TIMEOUT": str(PAYMENT_TIMEOUT),
        "LOG_LEVEL": "WARNING",
        **(wechatpay or {}),
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Group:
    """A process started in its own session: its pid is the process group id."""

    name: str
    process: asyncio.subprocess.Process
    log: Path

    @property
    def pgid(self) -> int:
        return self.process.pid

    async def stop(self, grace: float = 30) -> None:
        if self.process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pgid, signal.SIGINT)  # uvicorn and arq shut down cleanly on it
        try:
            await asyncio.wait_for(self.process.wait(), grace)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pgid, signal.SIGKILL)
            await self.process.wait()


async def _start(name: str, args: list[str], env: dict[str, str], log: Path) -> Group:
    with log.open("ab") as out:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "infra.cli", *args,
            cwd=ROOT, env=env, stdout=out, stderr=out, start_new_session=True,
        )  # fmt: skip
    return Group(name, process, log)


@contextlib.asynccontextmanager
async def production(
    env: dict[str, str], workers: int, logs: Path
) -> AsyncIterator[tuple[str, Group, Group]]:
    """The server (uvicorn, `workers` processes) and one arq worker; yields (base url,
    server, worker) once /readyz says the database and Redis answer."""
    port = free_port()
    server = await _start(
        "server",
        ["serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)],
        env,
        logs / "server.log",
    )
    worker = await _start("worker", ["worker"], env, logs / "worker.log")
    base = f"http://127.0.0.1:{port}"
    try:
        await _ready(base, server, worker)
        yield base, server, worker
    finally:
        await server.stop()
        await worker.stop()


async def _ready(base: str, *groups: Group) -> None:
    deadline = time.monotonic() + 90
    async with httpx.AsyncClient(base_url=base, timeout=2) as client:
        while True:
            for group in groups:
                if group.process.returncode is not None:
                    tail = group.log.read_text(errors="replace")[-2000:]
                    raise RuntimeError(f"{group.name} exited ({group.process.returncode}):\n{tail}")
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get("/readyz")).status_code == 200:
                    return
            if time.monotonic() > deadline:
                raise RuntimeError(f"the server did not become ready; see {groups[0].log}")
            await asyncio.sleep(0.3)


# ---------------------------------------------------------------- CPU


def _stat(pid: int) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def _processes() -> list[tuple[int, list[str]]]:
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            fields = _stat(int(entry.name))
            if fields is not None:
                found.append((int(entry.name), fields))
    return found


def _cpu(fields: list[str]) -> float:
    return (int(fields[11]) + int(fields[12])) / TICK


def host_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine, all cores (/proc/stat)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    total = sum(values[:8])
    return (total - idle) / TICK, total / TICK


Sample = dict[Any, float]  # (part, pid) -> CPU seconds; "runner", "host"... -> seconds


@dataclass
class Meter:
    """CPU seconds per part: process groups by pgid, PostgreSQL by postmaster pid, single
    processes (Redis, the load generator) by pid. Counted per process, so one that starts
    in the window counts from zero and one that ends in it (an autovacuum worker) takes
    nothing away."""

    groups: dict[str, int] = field(default_factory=dict)
    trees: dict[str, int] = field(default_factory=dict)  # a parent and its children
    pids: dict[str, int] = field(default_factory=dict)

    def parts(self) -> list[str]:
        return [*self.groups, *self.trees, *self.pids]

    def sample(self) -> Sample:
        by_pgid = {pgid: name for name, pgid in self.groups.items()}
        by_parent = {pid: name for name, pid in self.trees.items()}
        by_pid = {pid: name for name, pid in self.pids.items()}
        found: Sample = {}
        for pid, fields in _processes():
            ppid, pgrp = int(fields[1]), int(fields[2])
            name = by_pgid.get(pgrp) or by_parent.get(pid) or by_parent.get(ppid) or by_pid.get(pid)
            if name is not None:
                found[(name, pid)] = _cpu(fields)
        found["runner"] = time.process_time()
        found["host"], found["host_total"] = host_cpu()
        return found

    def rates(self, before: Sample, after: Sample, wall: float) -> dict[str, float]:
        """CPU seconds per wall second in the window, per part, and `other`: what every
        process not listed took (on a shared machine: the neighbours)."""
        out = dict.fromkeys(self.parts(), 0.0)
        for key, value in after.items():
            if isinstance(key, tuple):
                out[key[0]] = out.get(key[0], 0.0) + (value - before.get(key, 0.0)) / wall
        out["runner"] = (after["runner"] - before["runner"]) / wall
        span = after["host_total"] - before["host_total"]
        busy = (after["host"] - before["host"]) / span * (os.cpu_count() or 1) if span else 0.0
        out["other"] = busy - sum(out.values())
        out["host"] = busy
        return out


def postmaster_of(backend_pid: int) -> int | None:
    fields = _stat(backend_pid)
    return int(fields[1]) if fields else None


# ---------------------------------------------------------------- the machine


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _memory_gib() -> float:
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    return 0.0


def _git(*args: str) -> str:
    try:
        return subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def machine(postgres: str, redis: str) -> dict[str, Any]:
    dirty = bool(_git("status", "--porcelain", "--untracked-files=no"))
    return {
        "cpu_model": _cpu_model(),
        "nproc": os.cpu_count(),
        "memory_gib": _memory_gib(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "postgresql": postgres,
        "redis": redis,
        "commit": _git("rev-parse", "--short", "HEAD")
        + (" (with uncommitted changes)" if dirty else ""),
        "load_average_before": [round(x, 2) for x in os.getloadavg()],
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
