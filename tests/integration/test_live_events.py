"""The live event buses: in process, and across processes through Redis pub/sub."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID, uuid4

import pytest
from redis.asyncio import Redis

from domain.live import (
    Freshness,
    LiveEvent,
    LiveEventsError,
    order_topic,
    order_update_event,
    pickup_board_event,
    pickup_board_topic,
)
from infra import live
from infra.live import CHANNEL_PREFIX, InProcessLiveEvents, RedisLiveEvents

ROOT = Path(__file__).resolve().parents[2]


async def next_event(events: AsyncIterator[LiveEvent]) -> LiveEvent:
    return await asyncio.wait_for(anext(events), 5)


async def nothing_arrives(events: AsyncIterator[LiveEvent]) -> None:
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(anext(events), 0.2)


def event(topic: str, n: int = 0) -> LiveEvent:
    return LiveEvent(topic, {"n": str(n)})


# ---------------------------------------------------------------- in process


async def test_in_process_subscriber_gets_what_is_published_then_unsubscribes() -> None:
    bus = InProcessLiveEvents()
    topic = pickup_board_topic(uuid4())
    async with bus.subscribe(topic) as events:
        assert bus.subscriber_count(topic) == 1
        await bus.publish(event(topic, 1))
        await bus.publish(event(topic, 2))
        assert (await next_event(events)).payload == {"n": "1"}
        assert (await next_event(events)).payload == {"n": "2"}
    assert bus.subscriber_count(topic) == 0
    await bus.publish(event(topic, 3))  # nobody listens: nothing to do, no error


async def test_in_process_topics_are_isolated_and_fan_out() -> None:
    bus = InProcessLiveEvents()
    store_a, store_b = pickup_board_topic(uuid4()), pickup_board_topic(uuid4())
    async with (
        bus.subscribe(store_a) as first,
        bus.subscribe(store_a) as second,
        bus.subscribe(store_b) as other,
    ):
        await bus.publish(event(store_b, 1))
        await bus.publish(event(store_a, 2))
        assert (await next_event(first)).payload == {"n": "2"}
        assert (await next_event(second)).payload == {"n": "2"}
        assert (await next_event(other)).payload == {"n": "1"}
        await nothing_arrives(other)


async def test_a_slow_consumer_is_cut_off_and_the_others_go_on() -> None:
    bus = InProcessLiveEvents(max_pending=3)
    topic = order_topic(uuid4())
    async with bus.subscribe(topic) as slow, bus.subscribe(topic) as fast:
        for n in range(4):
            await bus.publish(event(topic, n))
            assert (await next_event(fast)).payload == {"n": str(n)}
        with pytest.raises(LiveEventsError) as lost:
            await next_event(slow)
        assert lost.value.code == "SLOW_CONSUMER"
        await bus.publish(event(topic, 4))
        assert (await next_event(fast)).payload == {"n": "4"}


async def test_stopping_the_bus_ends_its_subscriptions() -> None:
    bus = InProcessLiveEvents()
    topic = order_topic(uuid4())
    async with bus.subscribe(topic) as events:
        waiting = asyncio.create_task(next_event(events))
        await asyncio.sleep(0)
        await bus.stop()
        with pytest.raises(LiveEventsError) as lost:
            await waiting
        assert lost.value.code == "LIVE_EVENTS_UNAVAILABLE"


def test_event_helpers_mask_the_name_and_agree_on_topics() -> None:
    location, order, at = uuid4(), uuid4(), datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
    board = pickup_board_event(
        location,
        order_id=order,
        order_number="A-0042",
        pickup_number="A042",
        status="READY_FOR_PICKUP",
        customer_name="王小明",
        at=at,
    )
    assert board.topic == pickup_board_topic(location) == f"pickup-board:{location}"
    assert board.payload == {
        "order_id": str(order),
        "order_number": "A-0042",
        "pickup_number": "A042",
        "status": "READY_FOR_PICKUP",
        "customer_label": "王**",
        "at": "2026-03-01T09:30:00+00:00",
    }
    update = order_update_event(order, status="PICKED_UP", previous="READY_FOR_PICKUP", at=at)
    assert update.topic == order_topic(order) == f"order:{order}"
    assert update.payload == {
        "order_id": str(order),
        "status": "PICKED_UP",
        "from": "READY_FOR_PICKUP",
        "at": "2026-03-01T09:30:00+00:00",
    }


def test_freshness_passes_each_change_of_an_order_once_and_in_order() -> None:
    order, at = uuid4(), datetime(2026, 3, 1, 9, 30, tzinfo=UTC)

    def change(status: str, seconds: int, of: UUID = order) -> LiveEvent:
        return order_update_event(of, status=status, at=at + timedelta(seconds=seconds))

    fresh = Freshness()
    assert fresh.admit(change("PREPARING", 0))  # what the snapshot showed
    assert not fresh.admit(change("PREPARING", 0))  # its late copy
    assert not fresh.admit(change("PAID", -5))  # older than what is shown
    assert fresh.admit(change("READY_FOR_PICKUP", 0))  # another change in the same instant
    assert fresh.admit(change("PICKED_UP", 7))
    assert not fresh.admit(change("READY_FOR_PICKUP", 3))  # delivered behind a newer one
    assert fresh.admit(change("PREPARING", 0, uuid4()))  # other orders are their own


# ---------------------------------------------------------------- Redis


@pytest.fixture
def redis_url() -> str:
    url = os.environ.get("TEST_REDIS_URL")
    if not url:
        pytest.fail(
            "TEST_REDIS_URL is not set: these tests need a Redis server. Run them through "
            "`scripts/with-services.sh .venv/bin/pytest ...` (or `make test`).",
            pytrace=False,
        )
    return url


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


async def redis_bus(url: str, name: str) -> RedisLiveEvents:
    """A bus with its own connections, as another process would have."""
    bus = RedisLiveEvents(Redis.from_url(url, client_name=name), timeout=3.0)
    await bus.start()
    return bus


async def close(bus: RedisLiveEvents) -> None:
    await bus.stop()
    await bus._redis.aclose()


@pytest.fixture
async def buses(redis_url: str) -> AsyncIterator[tuple[RedisLiveEvents, RedisLiveEvents]]:
    publisher = await redis_bus(redis_url, "live-test-publisher")
    subscriber = await redis_bus(redis_url, "live-test-subscriber")
    yield publisher, subscriber
    await close(publisher)
    await close(subscriber)


async def numsub(redis: Redis, topic: str) -> int:
    [(_, count)] = await redis.pubsub_numsub(CHANNEL_PREFIX + topic)
    return int(count)


async def subscriber_connections(redis: Redis) -> list[dict[str, str]]:
    """The pub/sub connections of the `subscriber` bus, as Redis lists them."""
    clients = await redis.client_list(_type="pubsub")
    return [c for c in clients if c.get("name") == "live-test-subscriber"]


async def eventually(check: Callable[[], Awaitable[bool]]) -> None:
    async with asyncio.timeout(3):
        while not await check():  # noqa: ASYNC110 - Redis has no event for it: poll
            await asyncio.sleep(0.02)


async def test_redis_event_published_by_one_bus_reaches_the_other(
    buses: tuple[RedisLiveEvents, RedisLiveEvents], redis: Redis
) -> None:
    publisher, subscriber = buses
    topic = pickup_board_topic(uuid4())
    async with subscriber.subscribe(topic) as events:
        assert subscriber.subscriber_count(topic) == 1
        assert await numsub(redis, topic) == 1
        await publisher.publish(LiveEvent(topic, {"order_number": "A-1", "status": "READY"}))
        received = await next_event(events)
        assert received == LiveEvent(topic, {"order_number": "A-1", "status": "READY"})

    async def unsubscribed() -> bool:
        return await numsub(redis, topic) == 0

    await eventually(unsubscribed)
    assert subscriber.subscriber_count(topic) == 0


async def test_redis_topics_are_isolated(buses: tuple[RedisLiveEvents, RedisLiveEvents]) -> None:
    publisher, subscriber = buses
    mine, theirs = order_topic(uuid4()), order_topic(uuid4())
    async with subscriber.subscribe(mine) as events, subscriber.subscribe(mine) as again:
        await publisher.publish(event(theirs, 1))
        await publisher.publish(event(mine, 2))
        assert (await next_event(events)).payload == {"n": "2"}
        assert (await next_event(again)).payload == {"n": "2"}
        await nothing_arrives(events)


async def test_one_redis_connection_serves_every_subscription_of_a_process(
    buses: tuple[RedisLiveEvents, RedisLiveEvents], redis: Redis
) -> None:
    _, subscriber = buses
    topics = [pickup_board_topic(uuid4()) for _ in range(3)]

    async with (
        subscriber.subscribe(topics[0]),
        subscriber.subscribe(topics[1]),
        subscriber.subscribe(topics[2]),
    ):
        [connection] = await subscriber_connections(redis)
        assert connection["sub"] == "3"


async def test_redis_subscription_ends_when_the_connection_drops_and_the_bus_recovers(
    buses: tuple[RedisLiveEvents, RedisLiveEvents], redis: Redis
) -> None:
    publisher, subscriber = buses
    topic = order_topic(uuid4())
    async with subscriber.subscribe(topic) as events:
        [connection] = await subscriber_connections(redis)
        await redis.client_kill_filter(_id=connection["id"])
        with pytest.raises(LiveEventsError) as lost:
            await next_event(events)
        assert lost.value.code == "LIVE_EVENTS_UNAVAILABLE"
    async with subscriber.subscribe(topic) as events:  # waits for the reader to reconnect
        await publisher.publish(event(topic, 7))
        assert (await next_event(events)).payload == {"n": "7"}


async def test_an_idle_bus_pings_redis_and_keeps_delivering(
    buses: tuple[RedisLiveEvents, RedisLiveEvents], redis: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    publisher, subscriber = buses
    monkeypatch.setattr(live, "IDLE_PING_SECONDS", 0.05)
    topic = order_topic(uuid4())
    async with subscriber.subscribe(topic) as events:
        await nothing_arrives(events)  # a few idle rounds, each ending with a PING
        [connection] = await subscriber_connections(redis)
        assert connection["cmd"] == "ping"
        await publisher.publish(event(topic, 1))
        assert (await next_event(events)).payload == {"n": "1"}


async def test_malformed_messages_are_dropped(
    buses: tuple[RedisLiveEvents, RedisLiveEvents], redis: Redis
) -> None:
    publisher, subscriber = buses
    topic = order_topic(uuid4())
    async with subscriber.subscribe(topic) as events:
        await redis.publish(CHANNEL_PREFIX + topic, b"not json")
        await redis.publish(CHANNEL_PREFIX + topic, b'{"n": 1}')
        await publisher.publish(event(topic, 2))
        assert (await next_event(events)).payload == {"n": "2"}


PUBLISH_FROM_ANOTHER_PROCESS = """
import asyncio, os, sys
from redis.asyncio import Redis
from domain.live import LiveEvent
from infra.live import RedisLiveEvents

async def main() -> None:
    redis = Redis.from_url(sys.argv[1])
    await RedisLiveEvents(redis).publish(LiveEvent(sys.argv[2], {"pid": str(os.getpid())}))
    await redis.aclose()

asyncio.run(main())
"""


async def test_an_event_published_by_another_process_arrives(
    buses: tuple[RedisLiveEvents, RedisLiveEvents], redis_url: str
) -> None:
    _, subscriber = buses
    topic = pickup_board_topic(uuid4())
    async with subscriber.subscribe(topic) as events:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            PUBLISH_FROM_ANOTHER_PROCESS,
            redis_url,
            topic,
            cwd=ROOT,
            stderr=asyncio.subprocess.PIPE,
        )
        _, stderr = await asyncio.wait_for(process.communicate(), 30)
        assert process.returncode == 0, stderr.decode()
        received = await next_event(events)
    assert received.topic == topic
    assert received.payload == {"pid": str(process.pid)}
    assert process.pid != os.getpid()
