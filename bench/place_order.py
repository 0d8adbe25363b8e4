"""Moved: placeOrder is the `place_order` scenario of `python -m bench run` (docs/performance.md).

These names stay importable for bench.chaos, which shares the set-up helpers; new code
imports them from bench.database, bench.processes and bench.seed."""

from __future__ import annotations

from bench.database import Secrets, drop_database, recreate_database
from bench.database import dsn as _asyncpg_dsn
from bench.processes import ROOT
from bench.processes import free_port as _free_port
from bench.seed import HOURS

__all__ = [
    "HOURS",
    "ROOT",
    "Secrets",
    "_asyncpg_dsn",
    "_free_port",
    "drop_database",
    "recreate_database",
]
