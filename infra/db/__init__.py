"""Database: Tortoise models (mirroring the Alembic revisions), lifecycle and unit of work."""
