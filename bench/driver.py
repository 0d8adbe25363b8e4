"""The measuring loop shared by every implementation (http, raw, domain): N clients run an
operation back to back; after a warm-up, a window of `seconds` counts what completes in it.

An operation may make several requests (a pickup story makes seven): each is recorded as a
step with its own latency, the operation as a whole with the total."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

MAX_ERROR_SAMPLES = 5
TAIL_GRACE = 1.0  # seconds
MAX_WARMUP = 30.0  # seconds, waiting for every client's first operation


@dataclass
class Recorder:
    """Latencies of what completes inside the window; errors inside and outside it."""

    measuring: bool = False
    ops: list[float] = field(default_factory=list)
    steps: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: int = 0
    warmup_errors: int = 0
    error_steps: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    samples: list[str] = field(default_factory=list)

    def step(self, kind: str, seconds: float) -> None:
        if self.measuring:
            self.steps[kind].append(seconds)

    def error(self, kind: str, error: BaseException) -> None:
        if self.measuring:
            self.errors += 1
            self.error_steps[kind] += 1
        else:
            self.warmup_errors += 1
        if len(self.samples) < MAX_ERROR_SAMPLES:
            self.samples.append(f"{kind}: {type(error).__name__}: {error}"[:600])


@dataclass
class Client:
    """One of the N concurrent clients: its own connection (http) and random stream."""

    index: int
    rnd: random.Random
    rec: Recorder
    conn: Any = None  # httpclient.Connection for http
    state: dict[str, Any] = field(default_factory=dict)

    def step_name(self) -> str:
        return str(self.state.get("step", "op"))


Op = Callable[[Client, bool], Awaitable[None]]  # (client, strict)


async def drive(
    clients: list[Client],
    op: Op,
    warmup: float,
    seconds: float,
    on_window: Callable[[str], Awaitable[None]],
) -> float:
    """Run until the window closes; returns the window's length in seconds. `on_window` is
    awaited with "start" before the window opens and "end" once it has closed, while the
    clients keep going (the runner reads the CPU counters then)."""
    rec = clients[0].rec
    stop = False
    warmed: set[int] = set()
    all_warm = asyncio.Event()

    async def window() -> float:
        nonlocal stop
        await asyncio.sleep(warmup)
        # Steady state: every client has finished at least one operation (a pickup story
        # at 32 clients takes seconds), so the window does not start with a pipeline still
        # filling up.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(all_warm.wait(), MAX_WARMUP)
        await on_window("start")
        rec.measuring = True
        started = time.perf_counter()
        await asyncio.sleep(seconds)
        rec.measuring = False
        ended = time.perf_counter()
        await on_window("end")
        stop = True
        return ended - started

    async def loop(client: Client) -> None:
        while not stop:
            client.state["step"] = "op"
            t0 = time.perf_counter()
            try:
                await op(client, False)
            except Exception as error:
                rec.error(client.step_name(), error)
                await asyncio.sleep(0.01)  # a failing server should not become a busy loop
                continue
            finally:
                if client.index not in warmed:
                    warmed.add(client.index)
                    if len(warmed) == len(clients):
                        all_warm.set()
            if rec.measuring:
                rec.ops.append(time.perf_counter() - t0)

    timer = asyncio.create_task(window())
    loops = [asyncio.create_task(loop(c)) for c in clients]
    seconds_measured = await timer
    # What is still in flight no longer counts: a short grace, then it is cancelled (a
    # cancelled transaction rolls back), so a slow tail does not stretch the run.
    _, pending = await asyncio.wait(loops, timeout=TAIL_GRACE)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    return seconds_measured
