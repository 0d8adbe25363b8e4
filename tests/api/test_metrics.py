"""/metrics (issue 14): webhooks by provider and outcome on their route template, open
WebSockets, the outbox backlog and payments read from the database at scrape time (cached),
bounded operation labels, and the optional METRICS_TOKEN."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from api.app import create_app
from api.metrics import MAX_OPERATION_NAMES, METRICS, Metrics
from domain.outbox import Notification, enqueue
from infra.runtime import Runtime
from infra.settings import Settings
from tests.support import MovableClock
from tests.support.api import Api
from tests.support.orders import lid, make_variants, order_input, pay_online, placed, receive
from tests.support.shoppers import shopper
from tests.support.ws import serve, session, until, ws_url

TOKEN = "scrape-token-0123456789"


def client_for(runtime: Runtime, **changes: Any) -> httpx.AsyncClient:
    settings: Settings = replace(runtime.settings, **changes)
    transport = httpx.ASGITransport(app=create_app(settings, runtime=runtime))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


@pytest.fixture
async def fresh(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    """An app whose scrapes always read the database (METRICS_REFRESH_SECONDS=0)."""
    async with client_for(runtime, metrics_refresh_seconds=0) as c:
        yield c


async def scrape(client: httpx.AsyncClient, **headers: str) -> dict[tuple[str, str], float]:
    """{(sample name, its labels as k=v,...): value}."""
    response = await client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for s in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(s.labels.items()))
            samples[(s.name, labels)] = s.value
    return samples


async def test_webhooks_count_by_provider_and_outcome_on_the_route_template(
    fresh: httpx.AsyncClient,
) -> None:
    before = await scrape(fresh)
    await fresh.post("/webhooks/payments/devpay", content=b"{}")  # unsigned
    await fresh.post("/webhooks/payments/evil-13900007777", content=b"{}")
    after = await scrape(fresh)

    def grew(name: str, labels: str) -> float:
        return after.get((name, labels), 0) - before.get((name, labels), 0)

    assert grew("omnishelf_payment_webhooks_total", "outcome=rejected,provider=devpay") == 1
    unknown = "outcome=rejected,provider=unknown_provider"
    assert grew("omnishelf_payment_webhooks_total", unknown) == 1
    route = "route=/webhooks/payments/{provider},status=401"
    assert grew("omnishelf_http_requests_total", route) == 2
    assert not any("13900007777" in labels for _, labels in after)


async def test_outbox_backlog_and_payments_are_read_at_scrape_time(
    api: Api,
    client: httpx.AsyncClient,
    fresh: httpx.AsyncClient,
    runtime: Runtime,
    stores: dict[str, Any],
    clock: MovableClock,
) -> None:
    empty = await scrape(fresh)
    assert empty[("omnishelf_outbox_undelivered", "")] == 0
    assert empty[("omnishelf_outbox_oldest_undelivered_age_seconds", "")] == 0

    (mango,) = await make_variants(runtime, ("M-1", "1kg", 1990))
    await receive(runtime, stores["SH-A"].id, mango, 5)
    member = await shopper(api, "metrics-payer")
    order = await placed(member.api, order_input([(mango, 1)], pickup=lid(stores, "SH-A")))
    await pay_online(client, runtime, member, order)  # writes ORDER_PAID to the outbox
    clock.advance(timedelta(seconds=90))
    paid = await scrape(fresh)
    assert paid[("omnishelf_payments", "kind=PAYMENT,status=SUCCEEDED")] == 1
    assert paid[("omnishelf_outbox_undelivered", "")] >= 1
    assert paid[("omnishelf_outbox_oldest_undelivered_age_seconds", "")] >= 90


async def test_database_gauges_are_cached_between_scrapes(runtime: Runtime) -> None:
    async with client_for(runtime, metrics_refresh_seconds=3600) as cached:
        first = await scrape(cached)
        deps = runtime.outbox_deps
        async with deps.uow() as uow:
            note = Notification("ORDER_PAID", None, None, {}, "metrics:cache:1")
            assert await enqueue(uow, deps.clock, [note]) == 1
        second = await scrape(cached)
    key = ("omnishelf_outbox_undelivered", "")
    read_at = ("omnishelf_metrics_database_read_timestamp_seconds", "")
    assert (second[key], second[read_at]) == (first[key], first[read_at])  # not read again
    async with client_for(runtime, metrics_refresh_seconds=0) as fresh:
        assert (await scrape(fresh))[key] == 1


async def test_open_websockets_are_a_gauge(
    api: Api, fresh: httpx.AsyncClient, runtime: Runtime
) -> None:
    member = await shopper(api, "metrics-ws")
    gauge = ("omnishelf_websockets_open", "")
    before = (await scrape(fresh))[gauge]
    async with serve(runtime) as address:
        async with session(ws_url(address), member.api.token):
            assert (await scrape(fresh))[gauge] == before + 1
        await until(
            lambda: METRICS.registry.get_sample_value("omnishelf_websockets_open") == before
        )
    assert (await scrape(fresh))[gauge] == before


async def test_metrics_token_guards_the_endpoint(runtime: Runtime) -> None:
    async with client_for(runtime, metrics_token=TOKEN) as guarded:
        assert (await guarded.get("/metrics")).status_code == 401
        wrong = await guarded.get("/metrics", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401 and "omnishelf_" not in wrong.text
        assert (await scrape(guarded, Authorization=f"Bearer {TOKEN}")) != {}


def test_operation_labels_are_bounded_and_sanitised() -> None:
    metrics = Metrics()
    for n in range(MAX_OPERATION_NAMES):
        metrics.operation(f"Op{n}", 0.001, "ok")
    metrics.operation("OneTooMany", 0.001, "ok")
    metrics.operation("Op7", 0.001, "ok")  # a name already seen keeps its series
    metrics.operation("has space; 13900007777", 0.001, "ok")
    metrics.operation("x" * 65, 0.001, "ok")
    labels = {
        s.labels["operation"]
        for family in text_string_to_metric_families(metrics.render().decode())
        for s in family.samples
        if s.name == "omnishelf_graphql_requests_total"
    }
    assert len(labels) == MAX_OPERATION_NAMES + 2
    assert {"other", "anonymous", "Op7"} <= labels and "OneTooMany" not in labels


def test_the_token_is_long_enough() -> None:
    from infra.settings import SettingsError

    with pytest.raises(SettingsError, match="METRICS_TOKEN"):
        Settings.from_env({"METRICS_TOKEN": "short"})
    assert Settings.from_env({"METRICS_TOKEN": TOKEN}).metrics_token == TOKEN
