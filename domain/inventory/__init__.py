"""Inventory: one stock picture per (location, variant), reservations that never oversell,
and an append-only movement ledger that always sums to the levels."""
