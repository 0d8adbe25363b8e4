"""Repositories: the domain ports implemented on Tortoise, converting rows to domain objects."""
