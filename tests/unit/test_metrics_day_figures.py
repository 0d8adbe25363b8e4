"""The day's figures that do not add up (`metrics_day_figures`), from the rollup's rows of a
day: each row counts in its store and in `*`, in its channel and in `*`; an order of no store
only in `*`; members are distinct per scope, percentiles are `percentile_cont`'s."""

from __future__ import annotations

from uuid import uuid4

from infra.repositories.metrics_day_figures import EVERY, day_figures


def test_each_scope_counts_its_members_once_and_its_own_percentiles() -> None:
    store, ann, bob = uuid4(), uuid4(), uuid4()
    members = [
        [store, "MINI_PROGRAM", ann, 2, 1],  # her first order ever, and a second
        [store, "POS", ann, 1, 0],
        [None, "MINI_PROGRAM", bob, 1, 1],  # a delivery of no store
    ]
    handovers = [
        [store, "MINI_PROGRAM", 1, 100, 2, 1],
        [store, "POS", 1, 300, 1, 0],
        [None, "MINI_PROGRAM", 0, None, 1, 0],  # delivered: counted, no pickup time
    ]
    found = {(r[0], r[1]): r[2:] for r in day_figures(members, handovers)}
    a = str(store)
    # active, repeat, new, pickups, handed over, with after-sale, median, p90
    assert found == {
        (EVERY, EVERY): [2, 1, 2, 3, 4, 1, 100, 260],
        (EVERY, "MINI_PROGRAM"): [2, 1, 2, 2, 3, 1, 100, 100],
        (EVERY, "POS"): [1, 0, 0, 1, 1, 0, 300, 300],
        (a, EVERY): [1, 1, 1, 3, 3, 1, 100, 260],
        (a, "MINI_PROGRAM"): [1, 1, 1, 2, 2, 1, 100, 100],
        (a, "POS"): [1, 0, 0, 1, 1, 0, 300, 300],
    }


def test_a_day_of_nothing_writes_no_row() -> None:
    assert day_figures([], []) == []
