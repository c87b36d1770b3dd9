"""docs/assets/graphiql.png: GraphiQL on a served instance, a token pasted into Headers and the
editor's own query run, taken with Debian's headless Chromium (as the GraphiQL browser test
drives it). Not part of `python -m tools.docs` (it needs a server and a browser):

    studentgraph serve --port 8765 &   # with the demo data (make run does it)
    python -m tools.docs.screenshot --url http://127.0.0.1:8765 --token "$TOKEN"
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
from pathlib import Path

from playwright.async_api import async_playwright

OUTPUT = Path(__file__).resolve().parents[2] / "docs" / "assets" / "graphiql.png"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"]
QUERY = '{\n  student(netid: "f000abc") {\n    name\n    classYear\n    terms { termId }\n  }\n}\n'


async def shoot(url: str, token: str, output: Path) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("headless Chromium is not installed (apt-get install chromium)")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        page = await browser.new_page(viewport={"width": 1100, "height": 560})
        await page.goto(f"{url}/graphql")
        editor = ".graphiql-query-editor .CodeMirror"
        await page.wait_for_selector(editor)
        await page.get_by_role("button", name="Headers").click()
        await page.click(".graphiql-editor-tool .CodeMirror-lines >> visible=true")
        await page.keyboard.press("Control+A")
        await page.keyboard.insert_text(json.dumps({"Authorization": f"Bearer {token}"}))
        await page.eval_on_selector(editor, "(e, q) => e.CodeMirror.setValue(q)", QUERY)
        await page.wait_for_timeout(300)  # GraphiQL parses an edit 100 ms after it
        await page.get_by_role("button", name="Execute query (Ctrl-Enter)").click()
        await page.wait_for_function(
            """() => document.querySelector(".graphiql-response .CodeMirror")
                .CodeMirror.getValue().includes("termId")"""
        )
        await page.get_by_role("button", name="Hide editor tools").click()  # the token away
        await page.get_by_role("button", name="Show Documentation Explorer").click()
        await page.locator(".graphiql-doc-explorer").get_by_text("Query", exact=True).wait_for()
        output.parent.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(output))
        await browser.close()


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.docs.screenshot", description=__doc__)
    parser.add_argument("--url", required=True, help="a served instance with the demo data")
    parser.add_argument("--token", required=True, help="a token with every scope")
    parser.add_argument("--output", type=Path, default=OUTPUT, help="default: %(default)s")
    args = parser.parse_args()
    asyncio.run(shoot(args.url.rstrip("/"), args.token, args.output))
    print(args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
