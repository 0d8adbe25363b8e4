"""Points arithmetic is integer (issue 13): tier multipliers and the redeem share are basis
points. With floats, int(100 * 1.15) is 114, and 2,501 of the first 100,000 yuan amounts lost
a point at such a tier."""

from __future__ import annotations

from domain.loyalty.model import MAX_POINTS, PointsPolicy, Tier


def test_a_x115_tier_earns_exactly_115_per_100_yuan() -> None:
    policy = PointsPolicy(tiers=(Tier("MEMBER", 0, 10_000), Tier("PLUS", 1, 11_500)))
    assert policy.earned_for(100 * 100, "PLUS") == 115
    lost = [y for y in range(1, 100_001) if policy.earned_for(y * 100, "PLUS") != y * 115 // 100]
    assert lost == []


def test_default_tiers_and_the_cap() -> None:
    policy = PointsPolicy()
    assert [policy.earned_for(99_99, t) for t in ("MEMBER", "SILVER", "GOLD", "DIAMOND")] == [
        99,
        118,
        148,
        198,
    ]
    assert policy.earned_for(10**15, "DIAMOND") == MAX_POINTS
    assert policy.earned_for(99, "DIAMOND") == 0  # whole yuan only
