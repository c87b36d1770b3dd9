"""GraphiQL in a real browser: headless Chromium (Debian's `chromium`, driven by Playwright) on a
real server (`python -m app serve`) with the demo data. A token pasted into Headers loads the
schema (Docs lists Query), autocomplete offers fields, the explorer plugin lists them, a query
answers in the result pane, and a subscription run from the page shows a task going from
ACCEPTED to COMPLETE while a worker process applies it. Screenshots of each step are saved under
test-artifacts/graphiql/ (gitignored); the path is printed.

Skipped, with the reason, where Chromium or Playwright is missing; a failure in CI (CI=true),
where .ci/run installs Chromium, so a missing browser can never pass as a skip there."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.served import Served, running

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "graphiql"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# Chromium as the workplace runs it: no sandbox as root, and no background calls to the internet.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WAIT_MS = 30_000

SUBSCRIPTION = """subscription FollowTask($taskId: String!) {
  taskUpdated(taskId: $taskId) { taskId status resourceId }
}"""
SET_DPLANS = """mutation { setDplans(netid: "f0027k4",
  dplans: [{termCode: "202301", dplanId: "R", dplanSourceId: "PHL"}]) { taskId status } }"""


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() in ("1", "true"):
        pytest.fail(f"{reason}; CI must run the browser test (.ci/run installs chromium)")
    pytest.skip(reason)


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    if CHROMIUM is None:
        _unavailable("headless Chromium is not installed (apt-get install chromium)")
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        _unavailable("Playwright is not installed (make install brings it as a dev dependency)")
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        await chromium.close()


class Server(Served):
    """GraphiQL on, with no worker of its own: tasks wait until the test starts one
    (`start_worker`), so the page can watch them change."""

    def __init__(self, database_url: str) -> None:
        super().__init__(
            database_url,
            demo=True,
            GRAPHIQL="true",
            WORKER_IN_PROCESS="false",
            WORKER_POLL_SECONDS="1",
        )

    async def graphql(self, query: str) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self.token}"}
        async with httpx.AsyncClient(base_url=self.url) as client:
            response = await client.post("/graphql", json={"query": query}, headers=headers)
        body: dict[str, Any] = response.json()
        assert body.get("errors") is None, body
        return body


@pytest.fixture
def server(database_url: str) -> Iterator[Server]:
    with running(Server(database_url)) as served:
        yield served


class Screenshots:
    def __init__(self, page: Any, backend: str) -> None:
        self.page, self.folder = page, ARTIFACTS / backend
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder.mkdir(parents=True)

    async def take(self, name: str) -> None:
        await self.page.screenshot(path=str(self.folder / f"{name}.png"))


async def _editor_text(page: Any, selector: str) -> str:
    editor = f"{selector} .CodeMirror >> visible=true"
    text: str = await page.eval_on_selector(editor, "e => e.CodeMirror.getValue()")
    return text


async def _set_editor(page: Any, selector: str, text: str) -> None:
    script = "(e, text) => e.CodeMirror.setValue(text)"
    await page.eval_on_selector(f"{selector} .CodeMirror >> visible=true", script, text)


async def _set_query(page: Any, text: str) -> None:
    """Replace the query, then wait until GraphiQL has parsed it (it does so 100 ms after an
    edit, and Run sends the operation it parsed last: a subscription run sooner goes over HTTP)."""
    await _set_editor(page, ".graphiql-query-editor", text)
    await page.wait_for_function(
        """text => {
            const cm = document.querySelector(".graphiql-query-editor .CodeMirror").CodeMirror;
            return cm.documentAST && cm.documentAST.loc.source.body === text;
        }""",
        arg=text,
        timeout=WAIT_MS,
    )


async def _paste_into_headers(page: Any, headers: str) -> None:
    """Replace the Headers editor's text as a person does: click, select all, paste (typed key by
    key, the editor would close each bracket and quote a second time)."""
    await page.get_by_role("button", name="Headers").click()
    await page.click(".graphiql-editor-tool .CodeMirror-lines >> visible=true")
    await page.keyboard.press("Control+A")
    await page.keyboard.insert_text(headers)


async def _wait_for_response(page: Any, predicate: str) -> Any:
    """The response pane's JSON once `predicate` (JS, on `r`, the parsed response) holds."""
    try:
        await page.wait_for_function(
            """predicate => {
                const cm = document.querySelector(".graphiql-response .CodeMirror");
                try { const r = JSON.parse(cm.CodeMirror.getValue()); return eval(predicate); }
                catch { return false; }
            }""",
            arg=predicate,
            timeout=WAIT_MS,
        )
    except Exception as exc:
        shown = await _editor_text(page, ".graphiql-response")
        raise AssertionError(f"waited for {predicate}; the response pane shows {shown!r}") from exc
    return json.loads(await _editor_text(page, ".graphiql-response"))


async def _outside_requests(page: Any, origin: str) -> list[str]:
    """Every request the page makes to anything but the server: refused, and recorded."""
    outside: list[str] = []

    async def route(r: Any) -> None:
        if r.request.url.startswith(origin):
            await r.continue_()
        else:
            outside.append(r.request.url)
            await r.abort()

    await page.route("**/*", route)
    return outside


async def _schema_loads_once_the_token_is_pasted(page: Any, server: Server, shots: Any) -> None:
    await page.goto(f"{server.url}/graphql")
    await page.wait_for_selector(".graphiql-query-editor .CodeMirror", timeout=WAIT_MS)
    await shots.take("1-placeholder-header")
    # With the placeholder there is nothing to fetch: no error, Docs just waits for a token.
    assert await _editor_text(page, ".graphiql-response") == ""

    await _paste_into_headers(page, json.dumps({"Authorization": f"Bearer {server.token}"}))
    await page.get_by_role("button", name="Show Documentation Explorer").click()
    docs = page.locator(".graphiql-doc-explorer")
    await docs.get_by_text("Query", exact=True).wait_for(timeout=WAIT_MS)
    assert "Error fetching schema" not in await docs.inner_text()
    assert "Subscription" in await docs.inner_text()
    await shots.take("2-docs-after-pasting-the-token")


async def _autocomplete_and_explorer_know_the_fields(page: Any, shots: Any) -> None:
    await _set_editor(page, ".graphiql-query-editor", "{ ")
    await page.click(".graphiql-query-editor .CodeMirror-line")
    await page.keyboard.press("End")
    await page.keyboard.type("stud")
    hints = page.locator(".CodeMirror-hints")
    await hints.get_by_text("students", exact=True).wait_for(timeout=WAIT_MS)
    await shots.take("3-autocomplete")
    await page.keyboard.press("Escape")

    await page.get_by_role("button", name="Show GraphiQL Explorer").click()
    explorer = page.locator(".graphiql-explorer-root")
    await explorer.get_by_text("dplanCodes", exact=True).first.wait_for(timeout=WAIT_MS)
    await shots.take("4-explorer-plugin")


async def _run(page: Any) -> None:
    await page.get_by_role("button", name="Execute query (Ctrl-Enter)").click()


async def _a_query_answers(page: Any, shots: Any) -> None:
    await _set_query(page, '{ student(netid: "f000abc") { netid name } }')
    await _run(page)
    result = await _wait_for_response(page, "r.data && r.data.student")
    assert result["data"] == {"student": {"netid": "f000abc", "name": "Avery J Abbott"}}
    await shots.take("5-query-result")


async def _a_subscription_follows_a_task(page: Any, server: Server, shots: Any) -> None:
    task_id = (await server.graphql(SET_DPLANS))["data"]["setDplans"]["taskId"]
    await _set_query(page, SUBSCRIPTION)
    await page.get_by_role("button", name="Variables").click()
    await _set_editor(page, ".graphiql-editor-tool", json.dumps({"taskId": task_id}))
    await _run(page)
    first = await _wait_for_response(page, "r.data && r.data.taskUpdated")
    assert first["data"]["taskUpdated"] == {
        "taskId": task_id,
        "status": "ACCEPTED",  # no worker runs yet: the task waits
        "resourceId": "f0027k4",
    }
    await shots.take("6-subscription-accepted")

    server.start_worker()
    last = await _wait_for_response(page, "r.data && r.data.taskUpdated.status === 'COMPLETE'")
    assert last["data"]["taskUpdated"]["taskId"] == task_id
    await shots.take("7-subscription-complete")


async def test_graphiql_works_from_the_first_click(browser, server, database_url, capsys):
    page = await browser.new_page(viewport={"width": 1400, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    outside = await _outside_requests(page, server.url)
    shots = Screenshots(page, backend=database_url.split(":", 1)[0].split("+", 1)[0])

    await _schema_loads_once_the_token_is_pasted(page, server, shots)
    await _autocomplete_and_explorer_know_the_fields(page, shots)
    await _a_query_answers(page, shots)
    await _a_subscription_follows_a_task(page, server, shots)

    assert outside == [], "the page asked another host"
    assert errors == [], "the page raised"
    await page.close()
    with capsys.disabled():
        print(f"\nGraphiQL screenshots: {shots.folder}")
