"""`/`, `/docs` and `/redoc` in a real browser (headless Chromium, as tests/graphql/
test_graphiql_browser.py drives it) on a real server: every request each page makes is recorded
(and one to another host refused, so an offline machine does not wait for it); all must be to the
server itself. The pages must also render: the landing page's links, Swagger UI's operations,
ReDoc's menu. Blocked by the pages' Content-Security-Policy, ReDoc's Redocly logo (its bundle
asks their CDN for it) is never requested: the violations the browser reports are recorded too,
so what the policy stops stays visible."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.graphql.test_graphiql_browser import WAIT_MS, browser  # noqa: F401 (a fixture)
from tests.served import Served, running

# What each page shows once it has rendered (it has then made the requests it makes on load).
PAGES = {
    "/": "a[href='/redoc']",
    "/docs": ".swagger-ui .opblock-summary-path",
    "/redoc": "h2 >> text=One academic plan",
}
REDOCLY_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"


@pytest.fixture
def server(database_url: str) -> Iterator[Served]:
    with running(Served(database_url, GRAPHIQL="true", DOCS_ENABLED="true")) as served:
        yield served


async def _visit(chromium: Any, server: Served, path: str) -> tuple[list[str], list[str]]:
    """(every request that left the page for the network, every one the browser stopped: its
    URL and why, with the URLs the page's Content-Security-Policy reported blocking)."""
    page = await chromium.new_page()
    sent: list[str] = []
    stopped: list[str] = []
    page.on("requestfailed", lambda r: stopped.append(f"{r.url} ({r.failure})"))

    async def only_the_server(route: Any) -> None:
        sent.append(route.request.url)
        if route.request.url.startswith(server.url):
            await route.continue_()
        else:
            await route.abort()

    await page.route("**/*", only_the_server)
    await page.add_init_script(
        """window.__blocked = [];
        document.addEventListener("securitypolicyviolation",
            e => window.__blocked.push(e.blockedURI));"""
    )
    response = await page.goto(f"{server.url}{path}")
    assert response is not None and response.status == 200
    await page.locator(PAGES[path]).first.wait_for(timeout=WAIT_MS)
    await page.wait_for_load_state("networkidle")
    blocked: list[str] = await page.evaluate("window.__blocked")
    await page.close()
    return sent, sorted(set(stopped) | {f"{url} (csp)" for url in blocked})


@pytest.mark.parametrize("path", list(PAGES))
async def test_every_request_is_to_the_server_itself(browser, server, path):  # noqa: F811
    sent, stopped = await _visit(browser, server, path)
    assert sent and sent[0] == f"{server.url}{path}"
    outside = [url for url in sent if not url.startswith(f"{server.url}/")]
    assert outside == [], f"{path} asked another host"
    # The one request the browser did not send: the logo ReDoc's bundle asks a CDN for.
    expected = [f"{REDOCLY_LOGO} (csp)"] if path == "/redoc" else []
    assert stopped == expected, f"{path}: stopped {stopped}"
    if path == "/redoc":
        assert f"{server.url}/docs/static/redoc.standalone.js" in sent
        assert f"{server.url}/openapi.json" in sent


async def test_the_landing_page_links_every_page(browser, server):  # noqa: F811
    page = await browser.new_page()
    await page.goto(server.url)
    hrefs = await page.eval_on_selector_all("a", "links => links.map(a => a.getAttribute('href'))")
    assert hrefs == ["/graphql", "/docs", "/redoc", "/openapi.json"]
    for href in hrefs:
        response = await page.request.get(f"{server.url}{href}", headers={"Accept": "text/html"})
        assert response.status == 200, href
    assert "make docs" in await page.inner_text("body")
    await page.close()
