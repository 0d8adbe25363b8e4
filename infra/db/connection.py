"""Database lifecycle: Tortoise configuration, start/stop, and Alembic migrations."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tortoise import Tortoise
from tortoise.backends.base.config_generator import expand_db_url

from infra.db.models import MODEL_MODULES
from infra.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


async def _keep_session(connection: Any) -> None:
    """What the pool does to a connection it takes back, instead of asyncpg's default reset
    (`SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL`: one more round trip
    per release, so per statement outside a transaction). Nothing here changes session state:
    no session SET (settings are SET LOCAL, in a transaction), LISTEN, cursors held past a
    transaction or session advisory locks. asyncpg still rolls back a transaction left open."""


def tortoise_config(database_url: str, pool_size: int = 20) -> dict[str, Any]:
    if database_url.startswith("sqlite://"):
        path = database_url.removeprefix("sqlite://").split("?", 1)[0]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        connection: dict[str, Any] | str = database_url
    else:
        url = database_url.replace("postgresql://", "postgres://", 1)
        sep = "&" if "?" in url else "?"
        connection = expand_db_url(f"{url}{sep}minsize=1&maxsize={pool_size}")
        connection["credentials"]["reset"] = _keep_session
    return {
        "connections": {"default": connection},
        "apps": {"models": {"models": MODEL_MODULES, "default_connection": "default"}},
        "use_tz": True,
        "timezone": "UTC",
    }


async def start_database(settings: Settings) -> None:
    """Initialise Tortoise with a global fallback context: requests run in other tasks."""
    await Tortoise.init(
        config=tortoise_config(settings.database_url, settings.db_pool_size),
        _enable_global_fallback=True,
    )


async def stop_database() -> None:
    await Tortoise.close_connections()


def sqlalchemy_url(database_url: str) -> str:
    """Alembic speaks SQLAlchemy URLs: sqlite:///path and postgresql+psycopg2://..."""
    if database_url.startswith("sqlite://"):
        path = database_url.removeprefix("sqlite://").split("?", 1)[0]
        return f"sqlite:///{path}"
    rest = database_url.split("://", 1)[1]
    return f"postgresql+psycopg2://{rest}"


def alembic_config(database_url: str) -> Any:
    from alembic.config import Config

    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "alembic"))
    config.set_main_option("sqlalchemy.url", sqlalchemy_url(database_url).replace("%", "%%"))
    return config


def migrate(database_url: str, revision: str = "head") -> None:
    from alembic import command

    path = Settings(database_url=database_url).sqlite_path()
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str = "base") -> None:
    from alembic import command

    command.downgrade(alembic_config(database_url), revision)
