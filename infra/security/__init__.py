"""Passwords (argon2), access tokens (JWT) and request rate limits."""
