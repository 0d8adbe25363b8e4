"""The benchmark's database: fresh (dropped and created again, so its name must contain
"bench"), migrated with Alembic, and the secrets shared by the bench process (which mints
tokens) and the production-mode server (which verifies them)."""

from __future__ import annotations

import asyncio
import base64
import os
import secrets
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg

WECHAT_APP = "wx-demo"  # the bench process logs members in through the fake gateway
TOKEN_TTL = 6 * 3600  # access tokens outlive the longest run


def dsn(url: str) -> str:
    """asyncpg spells the scheme postgresql://."""
    return url.replace("postgres://", "postgresql://", 1)


def with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


@dataclass(frozen=True)
class Secrets:
    """Production refuses development secrets: fresh ones per run."""

    jwt: str = field(default_factory=lambda: secrets.token_urlsafe(48))
    pii_master: str = field(default_factory=lambda: base64.b64encode(os.urandom(32)).decode())
    pii_hash: str = field(default_factory=lambda: base64.b64encode(os.urandom(32)).decode())
    payment: str = field(default_factory=lambda: secrets.token_urlsafe(32))

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def runtime_settings(url: str, keys: Secrets, pool_size: int = 20, wechatpay: Any = None) -> Any:
    """In-process settings (seeding, the checks before timing, the domain benchmarks):
    development mode with the fake WeChat gateway, the server's secrets, no jobs, no Redis;
    WeChat Pay too when given its WeChatPayConfig (bench.wechatpay.config)."""
    from infra.settings import Settings

    return Settings(
        payment_providers=("devpay", "wechatpay") if wechatpay else ("devpay",),
        wechatpay=wechatpay,
        env="development",
        database_url=url,
        redis_url=None,
        jwt_secret=keys.jwt,
        pii_master_key=keys.pii_master,
        pii_hash_key=keys.pii_hash,
        payment_secret=keys.payment,
        access_token_ttl=TOKEN_TTL,
        db_pool_size=pool_size,
        run_jobs_in_process=False,
        wechat_apps={WECHAT_APP: "unused"},
    )


async def _admin(admin_url: str, statement: str) -> None:
    conn = await asyncpg.connect(dsn(admin_url))
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


async def recreate_database(admin_url: str, name: str) -> None:
    """Drop (if it exists) and create `name`, from the server's `admin_url` database."""
    await _admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await _admin(admin_url, f'CREATE DATABASE "{name}"')


async def drop_database(admin_url: str, name: str) -> None:
    await _admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class FreshDatabase:
    """`async with FreshDatabase(admin_url, name) as url`: dropped if it exists, created,
    migrated to head; dropped again on the way out unless `keep`."""

    def __init__(self, admin_url: str, name: str, keep: bool = False):
        if "bench" not in name:
            raise ValueError(f"refusing to drop {name!r}: a bench database name contains 'bench'")
        self.admin_url, self.name, self.keep = admin_url, name, keep
        self.url = with_database(admin_url, name)

    async def __aenter__(self) -> str:
        from infra.db.connection import migrate

        await recreate_database(self.admin_url, self.name)
        await asyncio.to_thread(migrate, self.url)
        return self.url

    async def __aexit__(self, *_: object) -> None:
        if not self.keep:
            await drop_database(self.admin_url, self.name)


async def server_version(url: str) -> str:
    conn = await asyncpg.connect(dsn(url))
    try:
        return str(await conn.fetchval("SHOW server_version"))
    finally:
        await conn.close()
