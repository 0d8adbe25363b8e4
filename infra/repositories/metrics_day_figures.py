"""The day's figures that do not add up (issue 19 "Scale": a year by day from precomputed rows):
per store-local day, per store or `*` (every store, orders of no store included) and per channel
or `*`, the distinct active, repeat and new members, the hand-overs (pickups picked up, all handed
over, with an after-sale) and the hand-over median and p90. Computed
in Python from the rows the rollup is about to insert for the day (the same rows a multi-day
period reads), so a one-day period reads one row and agrees with them by construction."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from domain.engagement.metrics_model import Histogram, percentile_of_histogram

EVERY = "*"  # every store, or every channel
FIGURES_COLUMNS = (
    "id",
    "day",
    "store_key",
    "channel",
    "active_members",
    "repeat_members",
    "new_members",
    "handovers",
    "handed_over",
    "with_after_sale",
    "handover_median_seconds",
    "handover_p90_seconds",
)

Key = tuple[str, str]


def store_key(store_id: Any) -> str:
    return EVERY if store_id is None else str(store_id)


def scopes(store: Any, channel: str) -> list[Key]:
    """The scopes a row of (store, channel) counts in: an order of no store only in `*`."""
    stores = [EVERY] if store is None else [str(store), EVERY]
    return [(s, c) for s in stores for c in (channel, EVERY)]


def day_figures(
    members: Sequence[Sequence[Any]], handovers: Sequence[Sequence[Any]]
) -> list[list[Any]]:
    """The rows of FIGURES_COLUMNS but the id and the day, from the rollup's rows of the day:
    `members` [store, channel, member, orders, first_order], `handovers` [store, channel,
    pickup, seconds, handed_over, with_after_sale]."""
    bought: dict[Key, dict[Any, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    for store, channel, member, orders, first in members:
        for key in scopes(store, channel):
            seen = bought[key][member]
            seen[0] += orders
            seen[1] = max(seen[1], first)
    waited: dict[Key, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    counts: dict[Key, list[int]] = defaultdict(lambda: [0, 0, 0])
    for store, channel, pickup, seconds, handed, asked in handovers:
        for key in scopes(store, channel):
            into = counts[key]
            into[0] += handed if pickup == 1 else 0
            into[1] += handed
            into[2] += asked
            if pickup == 1 and seconds is not None:
                waited[key][seconds] += handed
    rows = []
    for key in sorted({*bought, *waited}):
        who = bought.get(key, {}).values()
        histogram: Histogram = sorted(waited.get(key, {}).items())
        rows.append(
            [
                *key,
                len(who),
                sum(1 for orders, _ in who if orders >= 2),
                sum(first for _, first in who),
                *counts.get(key, [0, 0, 0]),
                percentile_of_histogram(histogram, 50),
                percentile_of_histogram(histogram, 90),
            ]
        )
    return rows
