"""Engagement: knowing members and acting on it (issue 19)."""
