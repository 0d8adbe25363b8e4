"""Latency percentiles and throughput: one definition for every table and chart."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any


def percentile(ordered: Sequence[float], q: float) -> float:
    """Nearest rank of an ascending sequence (q in 0..1); NaN when empty."""
    if not ordered:
        return math.nan
    rank = max(1, math.ceil(q * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def summary(latencies: Sequence[float]) -> dict[str, Any]:
    """Count and milliseconds: p50, p95, p99, mean, max."""
    ordered = sorted(latencies)
    count = len(ordered)
    ms = 1000.0
    return {
        "count": count,
        "p50_ms": round(percentile(ordered, 0.50) * ms, 3) if count else None,
        "p95_ms": round(percentile(ordered, 0.95) * ms, 3) if count else None,
        "p99_ms": round(percentile(ordered, 0.99) * ms, 3) if count else None,
        "mean_ms": round(sum(ordered) / count * ms, 3) if count else None,
        "max_ms": round(ordered[-1] * ms, 3) if count else None,
    }


def rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else 0.0
