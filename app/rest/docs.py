"""`/docs` (Swagger UI) and `/redoc` over `/openapi.json`, offline: FastAPI's own pages
(`get_swagger_ui_html`, `get_redoc_html`) pointed at the assets vendored in `static/`
(VENDORED.txt), so neither page loads anything from the internet. Each page is also served with
a Content-Security-Policy that allows only this origin: ReDoc's bundle shows Redocly's logo from
their CDN in its menu (unconditionally, no option turns it off); under this policy the browser
never requests it, and ReDoc hides the image that failed (tests/rest/test_docs_browser.py)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

STATIC = Path(__file__).resolve().parent / "static"
STATIC_URL = "/docs/static"
# Scripts and styles inline (the pages' own, and styled-components'); ReDoc's search runs in a
# worker it makes from a blob; images are SVG data URLs or this origin's.
DOCS_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; "
    "connect-src 'self'; frame-ancestors 'none'"
)


def _same_origin_only(page: HTMLResponse) -> HTMLResponse:
    page.headers["Content-Security-Policy"] = DOCS_POLICY
    return page


def mount(app: FastAPI) -> None:
    """Serve the two pages and their assets (the app is built with docs_url=redoc_url=None)."""
    app.mount(STATIC_URL, StaticFiles(directory=STATIC), name="docs-static")

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        page = get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{root}{STATIC_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{STATIC_URL}/swagger-ui.css",
            swagger_favicon_url=f"{root}{STATIC_URL}/favicon-32x32.png",
            # No badge image from the public validator (Swagger UI's default outside localhost).
            swagger_ui_parameters={"validatorUrl": None},
        )
        return _same_origin_only(page)

    # Alike /docs above: FastAPI's two page builders, each given its own assets by its own
    # keywords; a shared wrapper would only rename them.
    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        page = get_redoc_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}{STATIC_URL}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{STATIC_URL}/favicon-32x32.png",
            with_google_fonts=False,
        )
        return _same_origin_only(page)
