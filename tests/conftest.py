"""Fixtures: one migrated test database per run, emptied between tests; the app over ASGI
(and served over a socket for WebSockets); stores and staff. Helpers live in tests/support."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from tortoise import connections

from api.app import create_app
from domain.identity.model import StaffRole
from domain.locations.model import LocationType
from domain.locations.services import LocationDraft, create_location
from infra.db.connection import migrate
from infra.runtime import Runtime
from infra.settings import Settings
from tests.support import MovableClock, PiiWatch, is_postgres, table_names, test_database_url
from tests.support.api import Api, staff_api
from tests.support.ws import serve, ws_url

# Fixtures shared by a family of test modules (test modules never import one another).
pytest_plugins = ("tests.support.automations",)

HOURS = {d: [("09:00", "22:00")] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


def _reset_postgres(url: str) -> None:
    import psycopg2

    conn = psycopg2.connect(url.replace("postgres://", "postgresql://", 1))
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    conn.close()


@pytest.fixture(scope="session")
def database_url() -> str:
    url = test_database_url()
    if is_postgres(url):
        _reset_postgres(url)
    migrate(url)
    return url


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    import os

    return Settings(
        env="test",
        database_url=database_url,
        redis_url=os.environ.get("TEST_REDIS_URL") or None,
        login_limit_per_username=5,
        login_limit_per_address=20,
        run_jobs_in_process=False,
    )


@pytest.fixture(scope="session")
def clock() -> MovableClock:
    return MovableClock()


@pytest.fixture(scope="session")
async def runtime(settings: Settings, clock: MovableClock) -> AsyncIterator[Runtime]:
    rt = Runtime(settings, clock=clock, fast_password_hashing=True)
    await rt.start()
    yield rt
    await rt.stop()


@pytest.fixture(scope="session")
def pii_watch(runtime: Runtime) -> Iterator[PiiWatch]:
    watch = PiiWatch()
    watch.watch(runtime.vault)
    root = logging.getLogger()
    root.addHandler(watch)
    old_level = root.level
    root.setLevel(logging.INFO)  # production's default LOG_LEVEL
    yield watch
    root.setLevel(old_level)
    root.removeHandler(watch)


@pytest.fixture(autouse=True)
def personal_data_is_never_logged(pii_watch: PiiWatch) -> Iterator[None]:
    """Issue 12, 5: no phone number, openid or card a test used may appear in a log line
    (documents are logged by operation name and hash, recipients masked)."""
    pii_watch.forget()
    yield
    assert pii_watch.leaks() == [], "personal data in the logs"


@pytest.fixture(autouse=True)
async def clean_state(runtime: Runtime, clock: MovableClock) -> AsyncIterator[None]:
    yield
    clock.reset()
    conn = connections.get("default")
    tables = table_names()
    if is_postgres(runtime.settings.database_url):
        await conn.execute_script(f"TRUNCATE {', '.join(tables)} CASCADE")
    else:
        await conn.execute_script(
            "PRAGMA foreign_keys=OFF;"
            + "".join(f'DELETE FROM "{t}";' for t in tables)
            + "PRAGMA foreign_keys=ON;"
        )
    runtime.caches.clear()  # the tables were emptied behind the unit of work's back
    if runtime.redis is not None:
        await runtime.redis.flushdb()
        runtime.caches.share(runtime.redis)  # the counters are gone: read them anew
    else:
        runtime.limiter._windows.clear()  # type: ignore[attr-defined]


@pytest.fixture
async def client(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(runtime=runtime)
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@pytest.fixture
def api(client: httpx.AsyncClient) -> Api:
    return Api(client)


@pytest.fixture
async def stores(runtime: Runtime) -> dict[str, Any]:
    """Two stores in Shanghai and one warehouse."""
    made = {}
    for code, lat, lon, kind, pickup in (
        ("SH-A", 31.2304, 121.4737, LocationType.STORE, True),
        ("SH-B", 31.1880, 121.4365, LocationType.STORE, True),
        ("WH-1", 31.3800, 120.9800, LocationType.WAREHOUSE, False),
    ):
        made[code] = await create_location(
            runtime.locations,
            LocationDraft(
                code=code,
                name=f"Store {code}",
                type=kind,
                address="1 Test Rd",
                city="Shanghai",
                latitude=lat,
                longitude=lon,
                opening_hours=HOURS,
                pickup_enabled=pickup,
                ships_online=kind is LocationType.WAREHOUSE,
            ),
        )
    return made


@pytest.fixture
async def admin(api: Api, runtime: Runtime) -> Api:
    return await staff_api(api, runtime, "admin", StaffRole.ADMIN, [])


@pytest.fixture
async def manager_a(api: Api, runtime: Runtime, stores: dict[str, Any]) -> Api:
    return await staff_api(api, runtime, "manager-a", StaffRole.STORE_MANAGER, [stores["SH-A"]])


@pytest.fixture
async def clerk_a(api: Api, runtime: Runtime, stores: dict[str, Any]) -> Api:
    return await staff_api(api, runtime, "clerk-a", StaffRole.STORE_CLERK, [stores["SH-A"]])


@pytest.fixture
async def server(runtime: Runtime) -> AsyncIterator[str]:
    """The app served by uvicorn inside the test's loop: the WebSocket URL to connect to."""
    async with serve(runtime) as address:
        yield ws_url(address)
