"""`/`: where a person (or a script) who found the server starts: links to GraphiQL, Swagger UI,
ReDoc and the documentation, each only where this instance serves it (GRAPHIQL, DOCS_ENABLED,
DOCUMENTATION_URL). HTML for a browser, JSON for `Accept: application/json`; the page loads
nothing at all (its style is inline, and its Content-Security-Policy forbids the rest)."""

from __future__ import annotations

from html import escape

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from app.config import Settings

# The landing page needs nothing but its own inline style.
HOME_POLICY = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"
NO_SITE = "the docs/ folder of the source tree (`make docs` serves it as a site)"


def links(settings: Settings, root: str) -> list[tuple[str, str, str]]:
    """(name, href, what it is) for each page this instance serves."""
    found = []
    if settings.graphiql_enabled:
        found.append(
            ("GraphiQL", f"{root}/graphql", "write and run GraphQL queries in the browser")
        )
    else:
        found.append(("GraphQL", f"{root}/graphql", "the GraphQL endpoint (POST a query)"))
    if settings.serves_docs:
        found.append(("Swagger UI", f"{root}/docs", "the REST routes, tried from the browser"))
        found.append(("ReDoc", f"{root}/redoc", "the REST routes as a reference"))
        found.append(("OpenAPI", f"{root}/openapi.json", "the REST routes' OpenAPI document"))
    if settings.documentation_url:
        found.append(("Documentation", settings.documentation_url, "guides and reference"))
    return found


def _html(found: list[tuple[str, str, str]], documentation_url: str | None) -> str:
    items = "\n".join(
        f'<li><a href="{escape(href)}">{escape(name)}</a>: {escape(what)}</li>'
        for name, href, what in found
    )
    elsewhere = "" if documentation_url else f"<p>The documentation: {escape(NO_SITE)}.</p>"
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>studentgraph</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 42rem; margin: 3rem auto;
       padding: 0 1rem; line-height: 1.5; color: #222; }}
code {{ background: #f3f3f3; padding: 0 .2em; }}
</style>
</head>
<body>
<h1>studentgraph</h1>
<p>GraphQL over student records, with DartAPI-compatible REST routes under <code>/api</code>.
Every call needs a bearer token: <code>Authorization: Bearer &lt;jwt&gt;</code>.</p>
<ul>
{items}
</ul>
{elsewhere}
</body>
</html>
"""


def mount(app: FastAPI, settings: Settings) -> None:
    @app.get("/", include_in_schema=False)
    async def home(request: Request) -> Response:
        root = request.scope.get("root_path", "")
        found = links(settings, root)
        accept = request.headers.get("accept", "")
        if "application/json" in accept and "html" not in accept:  # a script, not a browser
            body = {
                "name": "studentgraph",
                "links": [{"name": n, "href": h, "description": w} for n, h, w in found],
            }
            if not settings.documentation_url:
                body["documentation"] = NO_SITE
            return JSONResponse(body)
        page = _html(found, settings.documentation_url)
        return HTMLResponse(page, headers={"Content-Security-Policy": HOME_POLICY})
