"""Promotions: member prices, coupons, flash sales, and the one pricing of a cart."""
