"""Promotions: coupon templates and coupons, member prices, flash sales."""
