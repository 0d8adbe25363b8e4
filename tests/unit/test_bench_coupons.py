"""place_order_coupon's bookkeeping without a database: the coupon supply hands each coupon
out once and says when none is left, and the report judges "with a coupon ≥ 80 % of without"
on the runs of the same invocation when it has them."""

from __future__ import annotations

import random
from typing import Any

import pytest

from bench.catalogue import SCENARIOS
from bench.coupons import SCENARIO, CouponSupply
from bench.report import judge, render


def test_the_supply_hands_out_each_coupon_once_then_says_none_is_left() -> None:
    supply = CouponSupply([("a", ["a1", "a2", "a3"]), ("b", ["b1"]), ("c", [])])
    rnd = random.Random(3)
    taken = [supply.take(rnd) for _ in range(4)]
    assert sorted(taken) == [("a", "a1"), ("a", "a2"), ("a", "a3"), ("b", "b1")]
    assert [c for m, c in taken if m == "a"] == ["a1", "a2", "a3"]  # each member's in order
    with pytest.raises(RuntimeError, match="no coupon left"):
        supply.take(rnd)


def _run(impl: str, clients: int, rate: float) -> dict[str, Any]:
    return {
        "impl": impl,
        "variant": "",
        "concurrency": clients,
        "throughput": rate,
        "ratio": None,
        "errors": 0,
        "warmup_errors": 0,
        "latency": {"p50_ms": 1.0, "p95_ms": 2.0, "p99_ms": 3.0},
        "cpu_ms_per_op": {},
        "cpu": {},
        "steps": {},
        "statements": {},
        "error_samples": [],
    }


def _document(name: str, rates: dict[tuple[str, int], float], **extra: Any) -> dict[str, Any]:
    return {
        "scenario": name,
        "runs": [_run(impl, n, rate) for (impl, n), rate in rates.items()],
        **extra,
    }


def test_the_ratio_to_place_order_is_taken_from_the_same_invocation_first() -> None:
    [target] = SCENARIOS[SCENARIO].targets
    assert (target.versus, target.min_ratio, target.concurrency) == ("place_order", 0.8, 32)
    same_run = [_run("http", 32, 400.0), _run("raw", 32, 1000.0)]
    coupon = _document(SCENARIO, {("http", 32): 340.0, ("raw", 32): 900.0})
    quiet = {"place_order": _document("place_order", {("http", 32): 800.0})}

    # alone, against place_order's own results (another run): 340 / 800
    assert judge(target, coupon, quiet) == ("32 clients: 42 % of place_order", "**not met**")
    # with the same invocation's place_order kept in the document: 340 / 400
    coupon["versus"] = {"place_order": same_run}
    assert judge(target, coupon, quiet) == ("32 clients: 85 % of place_order", "met")
    coupon["runs"][0]["throughput"] = 300.0  # 75 %
    assert judge(target, coupon, quiet)[1] == "**not met**"
    assert judge(target, coupon, {})[0] == "32 clients: 75 % of place_order"


def test_the_report_shows_the_share_of_place_order_under_the_table(tmp_path: Any) -> None:
    machine = {
        "cpu_model": "x", "nproc": 2, "memory_gib": 4, "kernel": "6", "python": "3.11",
        "postgresql": "16", "redis": "7", "commit": "abc", "started_at": "now",
        "load_average_before": [1.0], "load_average_after": [1.0],
    }  # fmt: skip
    settings = {"server_workers": 2, "pool_size": 20, "seconds": 5, "warmup": 2}
    coupon = _document(
        SCENARIO,
        {("http", 8): 90.0, ("raw", 8): 450.0},
        versus={"place_order": [_run("http", 8, 100.0), _run("raw", 8, 500.0)]},
        command="bench",
        machine=machine,
        settings=settings,
    )
    text = render({SCENARIO: coupon}, "# Performance", None)  # text only: no matplotlib
    assert (
        "Throughput as a share of place_order's (the same invocation's run): "
        "http x8 90 %, raw x8 90 %." in text
    )
