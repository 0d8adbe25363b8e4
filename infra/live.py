"""Live event buses: in this process (the embedded default) or across processes through Redis.

Both fan events out to one bounded buffer per subscriber. A subscriber that falls
`max_pending` events behind is cut off with SLOW_CONSUMER instead of losing its oldest events
quietly: a pickup board that skipped an order's READY would be wrong with nothing to show it,
while a cut-off subscription tells the screen to refetch the board and subscribe again. One
stuck screen therefore costs at most `max_pending` events of memory and never slows the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from domain.live import LiveEvent, LiveEventsError

log = logging.getLogger("omnishelf.live")

CHANNEL_PREFIX = "omnishelf:live:"
MAX_PENDING = 256
IDLE_PING_SECONDS = 30.0
SLOW_CONSUMER = "SLOW_CONSUMER"
UNAVAILABLE = "LIVE_EVENTS_UNAVAILABLE"


def _unavailable(why: str) -> LiveEventsError:
    return LiveEventsError(UNAVAILABLE, f"Live events are unavailable ({why}); subscribe again.")


class _Subscriber:
    """One subscription: a bounded buffer read with `async for`."""

    def __init__(self, max_pending: int):
        self._pending: deque[LiveEvent] = deque()
        self._max_pending = max_pending
        self._wake = asyncio.Event()
        self._ended: LiveEventsError | None = None

    def offer(self, event: LiveEvent) -> None:
        if self._ended is not None:
            return
        if len(self._pending) >= self._max_pending:
            self.end(
                LiveEventsError(
                    SLOW_CONSUMER,
                    f"More than {self._max_pending} events were waiting for this subscriber; "
                    "refetch and subscribe again.",
                )
            )
            return
        self._pending.append(event)
        self._wake.set()

    def end(self, error: LiveEventsError) -> None:
        """Stop at once: what is still buffered is dropped, the reader gets `error`."""
        if self._ended is None:
            self._ended = error
            self._pending.clear()
            self._wake.set()

    def __aiter__(self) -> _Subscriber:
        return self

    async def __anext__(self) -> LiveEvent:
        while not self._pending:
            if self._ended is not None:
                raise self._ended
            self._wake.clear()
            await self._wake.wait()
        return self._pending.popleft()


class _Fanout:
    """The subscribers of this process, by topic."""

    def __init__(self, max_pending: int):
        self._max_pending = max_pending
        self._topics: dict[str, set[_Subscriber]] = {}

    def add(self, topic: str) -> _Subscriber:
        subscriber = _Subscriber(self._max_pending)
        self._topics.setdefault(topic, set()).add(subscriber)
        return subscriber

    def remove(self, topic: str, subscriber: _Subscriber) -> None:
        subscribers = self._topics.get(topic)
        if subscribers is not None:
            subscribers.discard(subscriber)
            if not subscribers:
                del self._topics[topic]

    def count(self, topic: str) -> int:
        return len(self._topics.get(topic, ()))

    def deliver(self, event: LiveEvent) -> None:
        for subscriber in list(self._topics.get(event.topic, ())):
            subscriber.offer(event)

    def end_all(self, error: LiveEventsError) -> None:
        for subscribers in self._topics.values():
            for subscriber in subscribers:
                subscriber.end(error)
        self._topics.clear()


class InProcessLiveEvents:
    """Delivers to subscribers of this process only: right for one embedded process."""

    def __init__(self, max_pending: int = MAX_PENDING):
        self._fanout = _Fanout(max_pending)

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        self._fanout.end_all(_unavailable("the server is shutting down"))

    async def publish(self, event: LiveEvent) -> None:
        self._fanout.deliver(event)

    @contextlib.asynccontextmanager
    async def subscribe(self, topic: str) -> AsyncIterator[AsyncIterator[LiveEvent]]:
        subscriber = self._fanout.add(topic)
        try:
            yield subscriber
        finally:
            self._fanout.remove(topic, subscriber)

    def subscriber_count(self, topic: str) -> int:
        return self._fanout.count(topic)


class RedisLiveEvents:
    """Redis pub/sub: every process publishes to `omnishelf:live:<topic>` with a JSON payload
    and holds ONE subscriber connection, whatever its number of subscriptions; a reader task
    fans the messages out to the local subscribers.

    The reader reconnects with backoff. Events published while it was disconnected are gone
    (pub/sub keeps nothing), so a lost connection ends every subscription with
    LIVE_EVENTS_UNAVAILABLE: clients refetch and subscribe again.
    """

    def __init__(
        self,
        redis: Redis,
        *,
        max_pending: int = MAX_PENDING,
        prefix: str = CHANNEL_PREFIX,
        timeout: float = 5.0,
    ):
        self._redis = redis
        self._prefix = prefix
        self._timeout = timeout
        self._fanout = _Fanout(max_pending)
        self._pubsub = redis.pubsub()
        self._connected = asyncio.Event()
        self._lock = asyncio.Lock()  # one SUBSCRIBE/UNSUBSCRIBE decision at a time
        self._channels: set[str] = set()  # topics Redis confirmed we listen to
        self._confirmations: dict[str, asyncio.Future[None]] = {}
        self._reader: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self._reader is None:
            self._reader = asyncio.create_task(self._read(), name="omnishelf-live-events")

    async def stop(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
            self._reader = None
        self._lose(_unavailable("the server is shutting down"))
        await self._pubsub.aclose()  # type: ignore[no-untyped-call]  # redis-py: untyped

    async def publish(self, event: LiveEvent) -> None:
        try:
            await self._redis.publish(self._prefix + event.topic, json.dumps(event.payload))
        except (RedisError, OSError) as error:
            log.warning(
                "live event not published", extra={"topic": event.topic, "error": repr(error)}
            )

    @contextlib.asynccontextmanager
    async def subscribe(self, topic: str) -> AsyncIterator[AsyncIterator[LiveEvent]]:
        subscriber = await self._join(topic)
        try:
            yield subscriber
        finally:
            # Local state first and without awaiting, so a cancelled task cannot leak it.
            self._fanout.remove(topic, subscriber)
            await self._release(topic)

    def subscriber_count(self, topic: str) -> int:
        """Subscribers that will receive what is published now."""
        return self._fanout.count(topic) if topic in self._channels else 0

    async def _join(self, topic: str) -> _Subscriber:
        try:
            async with asyncio.timeout(self._timeout):
                await self._connected.wait()
        except TimeoutError:
            raise _unavailable("no connection to Redis") from None
        async with self._lock:
            subscriber = self._fanout.add(topic)
            if topic not in self._channels:
                try:
                    await self._listen(topic)
                except BaseException:
                    self._fanout.remove(topic, subscriber)
                    raise
            return subscriber

    async def _listen(self, topic: str) -> None:
        if not self._connected.is_set():
            raise _unavailable("the connection to Redis was lost")
        channel = self._prefix + topic
        confirmed = asyncio.get_running_loop().create_future()
        self._confirmations[channel] = confirmed
        try:
            async with asyncio.timeout(self._timeout):
                await self._pubsub.subscribe(channel)
                await confirmed
        except (RedisError, OSError, TimeoutError) as error:
            raise _unavailable(type(error).__name__) from error
        finally:
            if self._confirmations.get(channel) is confirmed:
                del self._confirmations[channel]
        self._channels.add(topic)

    async def _release(self, topic: str) -> None:
        async with self._lock:
            if self._fanout.count(topic) or topic not in self._channels:
                return
            self._channels.discard(topic)
            try:
                await self._pubsub.unsubscribe(self._prefix + topic)
            except (RedisError, OSError) as error:  # the reader notices the broken connection
                log.debug("unsubscribe failed", extra={"topic": topic, "error": repr(error)})

    async def _read(self) -> None:
        delay, failures = 0.1, 0
        while True:
            try:
                await self._pubsub.connect()  # type: ignore[no-untyped-call]
                self._connected.set()
                if failures:
                    log.info("live events reconnected to Redis")
                delay, failures = 0.1, 0
                while True:
                    message = await self._pubsub.get_message(timeout=IDLE_PING_SECONDS)
                    if message is None:  # idle: a dead connection fails the ping, not hangs
                        await self._pubsub.ping()
                    else:
                        self._dispatch(message)
            except Exception as error:  # whatever broke, the reader must live on
                was_connected = self._connected.is_set()
                self._lose(_unavailable("the connection to Redis was lost"))
                with contextlib.suppress(Exception):
                    await self._pubsub.aclose()  # type: ignore[no-untyped-call]
                level = logging.WARNING if was_connected or not failures else logging.DEBUG
                log.log(level, "live events: Redis connection failed", extra={"error": repr(error)})
                failures += 1
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    def _lose(self, error: LiveEventsError) -> None:
        """Forget every subscription at once; nothing here awaits."""
        self._connected.clear()
        self._channels.clear()
        for confirmed in self._confirmations.values():
            if not confirmed.done():
                confirmed.set_exception(error)
        self._confirmations.clear()
        self._fanout.end_all(error)

    def _dispatch(self, message: dict[str, Any]) -> None:
        channel = _text(message.get("channel"))
        if channel is None or not channel.startswith(self._prefix):
            return
        if message["type"] == "subscribe":
            confirmed = self._confirmations.pop(channel, None)
            if confirmed is not None and not confirmed.done():
                confirmed.set_result(None)
        elif message["type"] == "message":
            payload = _payload(message.get("data"))
            if payload is None:
                log.warning("malformed live event dropped", extra={"channel": channel})
                return
            self._fanout.deliver(LiveEvent(channel.removeprefix(self._prefix), payload))


def _text(value: object) -> str | None:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value if isinstance(value, str) else None


def _payload(data: object) -> dict[str, str] | None:
    try:
        payload = json.loads(data) if isinstance(data, str | bytes) else None
    except ValueError:
        return None
    if not isinstance(payload, dict):
        return None
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in payload.items()):
        return None
    return payload


LiveBus = InProcessLiveEvents | RedisLiveEvents
