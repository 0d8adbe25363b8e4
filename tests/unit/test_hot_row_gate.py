"""The hot-SKU admission gate (domain/ordering/hot_rows.py): at most `per_key` holders of one
(store, SKU) at once, other keys independent, keys taken in sorted order, released on errors,
and nothing kept once nobody holds or waits."""

from __future__ import annotations

import asyncio

import pytest

from domain.ids import new_id
from domain.ordering.hot_rows import HotKey, HotRowGate


async def _peak(gate: HotRowGate, keys: list[list[HotKey]]) -> dict[HotKey, int]:
    inside: dict[HotKey, int] = {}
    peak: dict[HotKey, int] = {}

    async def one(held: list[HotKey]) -> None:
        async with gate.hold(held):
            for key in held:
                inside[key] = inside.get(key, 0) + 1
                peak[key] = max(peak.get(key, 0), inside[key])
            await asyncio.sleep(0.001)
            for key in held:
                inside[key] -= 1

    await asyncio.gather(*(one(k) for k in keys))
    return peak


async def test_at_most_per_key_hold_one_key_and_other_keys_do_not_wait() -> None:
    gate = HotRowGate(per_key=3)
    hot, cold = (new_id(), new_id()), (new_id(), new_id())
    peak = await _peak(gate, [[hot]] * 20 + [[cold]] * 2)
    assert peak == {hot: 3, cold: 2}
    assert gate.waiting(hot) == gate.waiting(cold) == 0  # nothing kept


async def test_multi_key_holders_in_opposite_orders_do_not_deadlock() -> None:
    gate = HotRowGate(per_key=1)
    a, b = (new_id(), new_id()), (new_id(), new_id())
    peak = await asyncio.wait_for(_peak(gate, [[a, b], [b, a]] * 10), timeout=5)
    assert peak == {a: 1, b: 1}


async def test_a_failing_holder_lets_the_next_in() -> None:
    gate = HotRowGate(per_key=1)
    key = (new_id(), new_id())
    with pytest.raises(RuntimeError):
        async with gate.hold([key]):
            raise RuntimeError("checkout refused")
    async with gate.hold([key]):
        assert gate.waiting(key) == 1
    assert gate.waiting(key) == 0


async def test_zero_disables_the_gate() -> None:
    gate = HotRowGate(per_key=0)
    key = (new_id(), new_id())
    assert await _peak(gate, [[key]] * 5) == {key: 5}
