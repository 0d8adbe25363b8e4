"""Loyalty: a points ledger per member (lots with expiry, two-phase holds, reversals, debt)
and growth-value tiers."""
