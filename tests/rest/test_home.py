"""`/`: the landing page links what this instance serves (GraphiQL, /docs, /redoc, the
documentation at DOCUMENTATION_URL), as HTML for a browser and JSON for a script; it loads
nothing. (In a browser, every page's requests: tests/rest/test_docs_browser.py.)"""

from __future__ import annotations

import httpx
import pytest
from pydantic import ValidationError

from app.config import Settings
from app.main import create_app


async def _get(settings: Settings, accept: str) -> httpx.Response:
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.get("/", headers={"Accept": accept})


async def test_a_browser_gets_a_page_linking_every_page(settings):
    site = "https://docs.example.edu/studentgraph/"
    response = await _get(
        settings.model_copy(update={"graphiql": True, "documentation_url": site}),
        "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    for href in ("/graphql", "/docs", "/redoc", site):
        assert f'href="{href}"' in response.text
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert "src=" not in response.text  # no script, image or frame: nothing to load


async def test_a_script_gets_json(settings):
    response = await _get(settings.model_copy(update={"graphiql": True}), "application/json")
    assert response.status_code == 200
    body = response.json()
    assert [link["href"] for link in body["links"]] == [
        "/graphql",
        "/docs",
        "/redoc",
        "/openapi.json",
    ]
    assert "make docs" in body["documentation"]  # no DOCUMENTATION_URL: where the docs are


async def test_production_links_only_what_it_serves(settings):
    production = settings.model_copy(
        update={"environment": "production", "graphiql": None, "docs_enabled": None}
    )
    body = (await _get(production, "application/json")).json()
    assert [(link["name"], link["href"]) for link in body["links"]] == [("GraphQL", "/graphql")]


@pytest.mark.parametrize("url", ["javascript:alert(1)", "docs.example.edu", "https://a b"])
def test_documentation_url_must_be_a_link(url):
    with pytest.raises(ValidationError, match="documentation_url"):
        Settings(documentation_url=url)
