"""Ordering: checkout, payment, the order lifecycle and pickup in store (BOPIS)."""
