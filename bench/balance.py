"""Spread the load generator's keep-alive connections evenly over the server's workers.

uvicorn's workers share one listening socket, and a worker accepts every connection waiting
when it wakes: 8 or 32 connections opened together often all went to one of the two workers,
and the run measured half the machine (server CPU 1.0 of 2.0, half the throughput). In
production a proxy in front, or thousands of clients, spread the load; here this does: it
finds which worker process holds each connection (/proc/net/tcp and /proc/<pid>/fd, Linux)
and reopens connections of a busier worker until no worker has two more than another."""

from __future__ import annotations

import collections
import os
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Protocol

MAX_REOPENS = 200


class Reopenable(Protocol):
    def local_port(self) -> int: ...
    async def reopen(self) -> None: ...


def _inodes(server_port: int) -> dict[int, int]:
    """client port -> inode of the server side of each established connection to the port."""
    found: dict[int, int] = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, remote, state, inode = fields[1], fields[2], fields[3], int(fields[9])
            if state == "01" and int(local.rsplit(":", 1)[1], 16) == server_port:
                found[int(remote.rsplit(":", 1)[1], 16)] = inode
    return found


def _owners(inodes: set[int]) -> dict[int, int]:
    """socket inode -> pid of the process holding it (one scan of /proc/*/fd)."""
    owners: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            fds = os.scandir(f"/proc/{entry.name}/fd")
            for fd in fds:
                target = os.readlink(fd.path)
                if target.startswith("socket:["):
                    inode = int(target[8:-1])
                    if inode in inodes:
                        owners[inode] = int(entry.name)
        except OSError:
            continue
    return owners


def workers_of(connections: Sequence[Reopenable], server_port: int) -> list[int | None]:
    """The pid of the worker serving each connection (None: not found)."""
    by_port = _inodes(server_port)
    owners = _owners(set(by_port.values()))
    return [owners.get(by_port.get(c.local_port(), -1)) for c in connections]


async def balance(
    connections: Sequence[Reopenable],
    server_port: int,
    workers: int,
    log: Callable[[str], Awaitable[None] | None] | None = None,
) -> dict[int, int]:
    """Reopen connections until each of `workers` serves n/workers of them (±1). Returns
    connections per worker pid. Gives up quietly after MAX_REOPENS (the run then says how
    the connections were spread)."""
    for _ in range(MAX_REOPENS):
        pids = workers_of(connections, server_port)
        counts = collections.Counter(p for p in pids if p is not None)
        fair = len(connections) // workers
        if (
            None not in pids
            and len(counts) >= min(workers, len(connections))
            and all(fair <= n <= fair + 1 for n in counts.values())
        ):
            return dict(counts)
        busiest = max(counts, key=lambda pid: counts[pid]) if counts else None
        index = next(i for i, p in enumerate(pids) if p is None or p == busiest)
        await connections[index].reopen()
    return dict(collections.Counter(p for p in workers_of(connections, server_port) if p))
