"""The four processes under test (2 x `omnishelf serve`, 2 x `omnishelf worker`), each in its
own process group, and the killer that SIGKILLs one of them every few seconds."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench.database import Secrets
from bench.processes import ROOT, free_port, production_env


def chaos_env(database_url: str, redis_url: str, keys: Secrets) -> dict[str, str]:
    """Production mode; a one-minute payment timeout, so the payment-timeout job cancels the
    orders left unpaid during the run."""
    return {**production_env(database_url, redis_url, keys, pool_size=8), "PAYMENT_TIMEOUT": "60"}


@dataclass
class Proc:
    name: str  # api-1, worker-2...
    kind: str  # "api" or "worker"
    args: list[str]
    log: Path
    port: int = 0
    process: asyncio.subprocess.Process | None = None
    ready: asyncio.Event = field(default_factory=asyncio.Event)  # up (an API: /readyz is 200)
    starts: int = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self, env: dict[str, str]) -> None:
        with self.log.open("ab") as out:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "infra.cli", *self.args,
                cwd=ROOT, env=env, stdout=out, stderr=out, start_new_session=True,
            )  # fmt: skip
        self.starts += 1
        if self.kind == "api":
            await self._until_ready()
        self.ready.set()

    async def _until_ready(self) -> None:
        deadline = time.monotonic() + 120
        async with httpx.AsyncClient(base_url=self.base_url, timeout=2) as client:
            while time.monotonic() < deadline:
                assert self.process is not None
                if self.process.returncode is not None:
                    raise RuntimeError(
                        f"{self.name} exited ({self.process.returncode}): {self.log}"
                    )
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get("/readyz")).status_code == 200:
                        return
                await asyncio.sleep(0.1)
        raise RuntimeError(f"{self.name} did not become ready; see {self.log}")

    async def stop(self, how: signal.Signals = signal.SIGINT) -> None:
        """SIGINT: a clean shutdown; SIGKILL (also after 20 s of SIGINT): no hook runs."""
        self.ready.clear()
        if self.process is None or self.process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, how)  # its own session: the pid is the group id
        try:
            await asyncio.wait_for(self.process.wait(), 20)
        except TimeoutError:
            if how is signal.SIGKILL:
                raise
            await self.stop(signal.SIGKILL)


@dataclass(frozen=True)
class Kill:
    at: float  # seconds into the load
    name: str
    kind: str


class Cluster:
    def __init__(self, env: dict[str, str], log_dir: Path):
        self.env = env
        self.apis = [
            Proc(f"api-{n}", "api", ["serve", "--port", str(port)], log_dir / f"api-{n}.log", port)
            for n, port in ((1, free_port()), (2, free_port()))
        ]
        workers = [
            Proc(f"worker-{n}", "worker", ["worker"], log_dir / f"worker-{n}.log") for n in (1, 2)
        ]
        self.procs = self.apis + workers
        self.kills: list[Kill] = []
        self._restarts: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        await asyncio.gather(*(p.start(self.env) for p in self.procs))

    async def kill_and_restart(self, victim: Proc, at: float) -> None:
        await victim.stop(signal.SIGKILL)
        self.kills.append(Kill(round(at, 2), victim.name, victim.kind))
        task = asyncio.create_task(victim.start(self.env))  # the killer does not wait for it
        self._restarts.add(task)
        task.add_done_callback(self._restarts.discard)

    async def all_up(self) -> None:
        """Every process running again (APIs ready); a restart that failed raises."""
        await asyncio.gather(*self._restarts)
        for p in self.procs:
            if p.process is None or p.process.returncode is not None:
                await p.start(self.env)

    async def stop(self) -> None:
        for task in self._restarts:
            task.cancel()
        await asyncio.gather(*(p.stop() for p in self.procs))

    @property
    def restarts(self) -> int:
        return sum(p.starts - 1 for p in self.procs)

    def logged_errors(self) -> dict[str, int]:
        """ERROR lines the processes logged (JSON logs), by logger, message and exception."""
        found: Counter[str] = Counter()
        for p in self.procs:
            for line in p.log.read_text(errors="replace").splitlines():
                with contextlib.suppress(ValueError, AttributeError):
                    entry = json.loads(line)
                    if entry.get("level") in ("ERROR", "CRITICAL"):
                        exc = (entry.get("exc") or "").strip().splitlines()[-1:]
                        what = [entry.get("logger"), entry.get("msg"), entry.get("job"), *exc]
                        found[" | ".join(str(x)[:200] for x in what if x)] += 1
                if line.startswith("Traceback"):
                    found[f"{p.name}: a traceback outside the JSON log"] += 1
        return dict(found)


async def killer(
    cluster: Cluster, rng: random.Random, every: tuple[float, float], seconds: float
) -> None:
    """Every `every` seconds (uniform, seeded) SIGKILL one running process and restart it;
    in the second half, a kind (api, worker) not killed yet goes first."""
    start = time.monotonic()
    while True:
        await asyncio.sleep(rng.uniform(*every))
        elapsed = time.monotonic() - start
        if elapsed >= seconds:
            return
        running = [p for p in cluster.procs if p.ready.is_set()]
        killed = {k.kind for k in cluster.kills}
        overdue = [p for p in running if p.kind not in killed]
        if overdue and elapsed > seconds / 2:
            running = overdue
        if running:
            await cluster.kill_and_restart(rng.choice(running), elapsed)
