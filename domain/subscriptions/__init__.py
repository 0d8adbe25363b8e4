"""Subscriptions: recurring pickup or delivery orders at locked prices, and the renewal
engine that turns each due cycle into exactly one order."""
