"""A minimal HTTP/1.1 keep-alive client for the load generator, over asyncio streams.

The load generator shares the machine with the server, so every microsecond it spends per
request is taken from the server. httpx costs ~2.5 ms of client CPU per request here; this
costs a few tens of microseconds: requests are pre-encoded templates whose only variable
parts (ids, tokens, idempotency keys) are spliced in as bytes, and a response is read as a
status line, a Content-Length (or chunks) and the body, nothing more.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import Sequence
from typing import Any

_HOLE = re.compile(rb'"@@@(\d+)@@@"|@@(\d+)@@')
_ERRORS = re.compile(rb'"errors"\s*:\s*\[\s*\{')


def hole(n: int) -> str:
    """A placeholder inside a JSON string for `Template`: the n-th value given to `render`."""
    return f"@@{n}@@"


def value_hole(n: int) -> str:
    """A placeholder for a whole JSON value (a number): the n-th value, spliced unquoted."""
    return f"@@@{n}@@@"


class Template:
    """A POST whose body is JSON with holes (`hole(n)` inside strings), encoded once."""

    def __init__(self, path: str, payload: Any, headers: Sequence[tuple[str, str]] = ()):
        body = json.dumps(payload, separators=(",", ":")).encode()
        pieces = _HOLE.split(body)  # text, (value hole, string hole), text, ...
        self.parts = pieces[0::3]
        self.holes = [int(a or b) for a, b in zip(pieces[1::3], pieces[2::3], strict=True)]
        extra = "".join(f"{k}: {v}\r\n" for k, v in headers)
        self.head = (
            f"POST {path} HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n{extra}"
        ).encode()

    def body(self, values: Sequence[bytes]) -> bytes:
        parts = self.parts
        out = [parts[0]]
        for i, n in enumerate(self.holes):
            out.append(values[n])
            out.append(parts[i + 1])
        return b"".join(out)

    def render(self, auth: bytes, values: Sequence[bytes] = ()) -> bytes:
        """`auth` is a pre-encoded header line (`auth_line(token)`) or b""."""
        body = self.body(values)
        return b"".join((self.head, auth, b"Content-Length: %d\r\n\r\n" % len(body), body))


def auth_line(token: str) -> bytes:
    return f"Authorization: Bearer {token}\r\n".encode()


def raw_post(path: str, headers: Sequence[tuple[str, str]], body: bytes) -> bytes:
    extra = "".join(f"{k}: {v}\r\n" for k, v in headers)
    return (
        f"POST {path} HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n{extra}"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


class ResponseError(Exception):
    """A response that is not a success: HTTP status other than 200, or GraphQL errors."""

    def __init__(self, status: int, body: bytes, why: str):
        super().__init__(f"{why} (HTTP {status}): {body[:400].decode(errors='replace')}")
        self.status = status
        self.body = body


def has_errors(body: bytes) -> bool:
    """Top-level GraphQL `errors`, or a mutation payload's non-empty `errors`."""
    return _ERRORS.search(body) is not None


def check(status: int, body: bytes) -> bytes:
    if status != 200:
        raise ResponseError(status, body, "HTTP error")
    if has_errors(body):
        raise ResponseError(status, body, "GraphQL errors")
    return body


def data(status: int, body: bytes) -> Any:
    """The response's JSON, after `check`; also refuses a body without `data`."""
    parsed = json.loads(check(status, body))
    if "data" in parsed and not parsed["data"]:
        raise ResponseError(status, body, "no data")
    return parsed


HEALTH = b"GET /healthz HTTP/1.1\r\nHost: bench\r\n\r\n"


class Connection:
    """One keep-alive connection; reopened once if the server closed it between requests."""

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    def local_port(self) -> int:
        assert self.writer is not None
        return int(self.writer.get_extra_info("sockname")[1])

    async def reopen(self) -> None:
        """A new connection, accepted by a worker (one request answered) before it returns."""
        await self.close()
        await self.open()
        await self.request(HEALTH)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await self.writer.wait_closed()
            self.reader = self.writer = None

    async def request(self, data: bytes) -> tuple[int, bytes]:
        """Send one request, return (status, body)."""
        if self.writer is None:
            await self.open()
        try:
            return await self._exchange(data)
        except (ConnectionError, asyncio.IncompleteReadError) as error:
            if isinstance(error, asyncio.IncompleteReadError) and error.partial:
                raise
            await self.close()  # the server closed an idle keep-alive connection: once more
            await self.open()
            return await self._exchange(data)

    async def _exchange(self, data: bytes) -> tuple[int, bytes]:
        reader, writer = self.reader, self.writer
        assert reader is not None and writer is not None
        writer.write(data)
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        lower = head.lower()
        at = lower.find(b"\r\ncontent-length:")
        if at >= 0:
            end = lower.index(b"\r\n", at + 2)
            body = await reader.readexactly(int(lower[at + 17 : end]))
        elif b"\r\ntransfer-encoding: chunked" in lower:
            body = await self._chunks(reader)
        else:
            body = b""
        if b"\r\nconnection: close" in lower:
            await self.close()
        return status, body

    @staticmethod
    async def _chunks(reader: asyncio.StreamReader) -> bytes:
        parts: list[bytes] = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await reader.readuntil(b"\r\n")
                return b"".join(parts)
            parts.append(await reader.readexactly(size))
            await reader.readexactly(2)
