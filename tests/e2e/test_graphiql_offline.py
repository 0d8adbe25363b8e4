"""GraphiQL with no internet, in a real browser (issue 14).

Debian's Chromium, driven by Playwright, opens GET /graphql of the app served by uvicorn on a
free local port. Every request to another origin is aborted and counted, and the browser's
proxy is a closed local port, so only loopback traffic could succeed at all. The page must
render GraphiQL from the app's own files, run a query typed into its editor and show the
answer, and reach the WebSocket on the same path for a subscription; with no request
elsewhere, no console error and no Content-Security-Policy violation.

No browser is downloaded (`playwright install` is never run): scripts/with-services.sh installs
Debian's `chromium` when /usr/bin/chromium is missing. Without it this test fails: it never
skips.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from playwright.async_api import (
    Browser,
    ConsoleMessage,
    Error,
    Page,
    Route,
    WebSocket,
    async_playwright,
)
from playwright.async_api import TimeoutError as PlaywrightTimeoutError

from api.relay import encode_id
from domain.identity.model import DeviceKind, StaffRole
from domain.identity.services import create_device
from domain.live import pickup_board_event, pickup_board_topic
from infra.runtime import Runtime
from tests.support.api import Api, staff_api
from tests.support.catalog import create_product, variant
from tests.support.ws import serve, subscribed

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--proxy-server=http://127.0.0.1:9",  # the discard port: anything not on loopback fails
]
QUERY = "{ products(first: 1) { edges { node { name } } } }"
QUERY_EDITOR = ".graphiql-query-editor .CodeMirror"
HEADERS_EDITOR = ".graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror"  # once shown
RESPONSE = ".graphiql-response .CodeMirror"


@pytest.fixture(scope="module")
def chromium() -> Path:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: install Debian's `chromium` package "
            "(scripts/with-services.sh does when it can)"
        )
    return CHROMIUM


@pytest.fixture(scope="module")
async def browser(chromium: Path) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield launched
        await launched.close()


@pytest.fixture
async def served(runtime: Runtime) -> AsyncIterator[str]:
    """The app behind uvicorn on 127.0.0.1: its origin."""
    async with serve(runtime) as address:
        yield f"http://{address}"


@dataclass
class Offline:
    """A page that may reach only `origin`; what it tried elsewhere and what went wrong."""

    page: Page
    origin: str
    elsewhere: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    sockets: list[str] = field(default_factory=list)

    async def gate(self, route: Route) -> None:
        url = route.request.url
        if url.startswith(f"{self.origin}/"):
            await route.continue_()
        else:
            self.elsewhere.append(url)
            await route.abort("internetdisconnected")

    def socket(self, ws: WebSocket) -> None:
        self.sockets.append(ws.url)
        if not ws.url.startswith(self.origin.replace("http://", "ws://", 1) + "/"):
            self.elsewhere.append(ws.url)

    def console(self, message: ConsoleMessage) -> None:
        if message.type == "error":  # CSP violations among them (see `offline`)
            self.problems.append(message.text)

    def crashed(self, error: Error) -> None:
        self.problems.append(str(error))

    async def edit(self, editor: str, text: str) -> None:
        await self.page.evaluate(
            "([selector, text]) => document.querySelector(selector).CodeMirror.setValue(text)",
            [editor, text],
        )

    async def start(self, query: str) -> None:
        """Put `query` in GraphiQL's editor and press its run button. GraphiQL parses the
        editor 100 ms after a change (a person takes longer to reach the button): until then
        it would run the document it had before."""
        await self.edit(QUERY_EDITOR, query)
        await self.page.wait_for_function(
            """([selector, query]) => {
                 const ast = document.querySelector(selector).CodeMirror.documentAST;
                 return ast && ast.loc.source.body === query;
               }""",
            arg=[QUERY_EDITOR, query],
        )
        await self.page.click(".graphiql-execute-button")

    async def shown(self) -> dict[str, Any]:
        """The JSON in GraphiQL's result pane, once there is some."""
        handle = await self.page.wait_for_function(
            """selector => {
                 const text = document.querySelector(selector).CodeMirror.getValue();
                 try { return JSON.parse(text); } catch { return null; }
               }""",
            arg=RESPONSE,
        )
        result: dict[str, Any] = await handle.json_value()
        return result


@asynccontextmanager
async def offline(browser: Browser, origin: str) -> AsyncIterator[Offline]:
    """GraphiQL at `origin`/graphql, rendered, in a browser context that can reach nothing else."""
    context = await browser.new_context()
    page = await context.new_page()
    watched = Offline(page, origin)
    await context.route("**/*", watched.gate)
    page.on("websocket", watched.socket)
    page.on("console", watched.console)
    page.on("pageerror", watched.crashed)
    await page.add_init_script(
        """document.addEventListener("securitypolicyviolation", e =>
             console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`));"""
    )
    try:
        response = await page.goto(f"{origin}/graphql")
        assert response is not None and response.status == 200
        try:
            await page.wait_for_selector(QUERY_EDITOR, timeout=15_000)
        except PlaywrightTimeoutError:
            pytest.fail(
                f"GraphiQL did not render; asked elsewhere: {watched.elsewhere}; "
                f"errors: {watched.problems}"
            )
        yield watched
    finally:
        await context.close()


async def test_graphiql_runs_a_query_with_the_internet_unreachable(
    browser: Browser, served: str, api: Api, runtime: Runtime
) -> None:
    admin = await staff_api(api, runtime, "graphiql-admin", StaffRole.ADMIN, [])
    await create_product(admin, "Offline Mango", variant("OFF-MANGO"))

    async with offline(browser, served) as ide:
        await ide.start(QUERY)
        result = await ide.shown()

        assert "errors" not in result, result
        assert result["data"] == {"products": {"edges": [{"node": {"name": "Offline Mango"}}]}}
        assert ide.elsewhere == [], "GraphiQL asked another origin"
        assert ide.problems == []


async def test_graphiql_subscribes_over_the_websocket_on_the_same_path(
    browser: Browser, served: str, runtime: Runtime, stores: dict[str, Any]
) -> None:
    """The kiosk's token goes in GraphiQL's Headers pane; GraphiQL sends the headers as the
    `connection_init` payload of the graphql-transport-ws socket on /graphql, where the app
    takes the token, and the board's next event appears in the result pane."""
    store = stores["SH-A"]
    _, token = await create_device(runtime.auth, store.id, DeviceKind.KIOSK)
    topic = pickup_board_topic(store.id)
    order = uuid4()

    async with offline(browser, served) as ide:
        await ide.page.click('.graphiql-editor-tools button[data-name="headers"]')
        await ide.edit(HEADERS_EDITOR, json.dumps({"Authorization": f"Bearer {token}"}))
        location = encode_id("Location", store.id)
        await ide.start(
            f'subscription {{ pickupBoard(locationId: "{location}") {{ '
            "orderNumber pickupNumber status } }"
        )
        await subscribed(runtime, topic)
        await runtime.live.publish(
            pickup_board_event(
                store.id,
                order_id=order,
                order_number="A-0042",
                pickup_number="A042",
                status="READY_FOR_PICKUP",
                customer_name=None,
                at=runtime.clock.now(),
            )
        )
        result = await ide.shown()

        assert "errors" not in result, result
        assert result["data"] == {
            "pickupBoard": {
                "orderNumber": "A-0042",
                "pickupNumber": "A042",
                "status": "READY_FOR_PICKUP",
            }
        }
        assert ide.sockets == [served.replace("http://", "ws://", 1) + "/graphql"]
        assert ide.elsewhere == []
        assert ide.problems == []
