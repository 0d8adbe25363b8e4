"""Adapters: database, Redis, jobs, security, external services, settings and the CLI."""
