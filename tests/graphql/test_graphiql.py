"""GraphiQL at GET /graphql (development): the page, its vendored assets, no internet."""

from __future__ import annotations

import hashlib
import re
from html.parser import HTMLParser

import pytest

from app.config import Settings
from app.graphql.http import STATIC
from tests.factories import make_dplan, make_plan, make_student, make_term
from tests.graphql_client import gql_data

HTML = {"Accept": "text/html,application/xhtml+xml"}


@pytest.fixture
def settings(database_url: str) -> Settings:
    """The test settings with GraphiQL on, as development has it."""
    return Settings(
        database_url=database_url, environment="test", log_level="WARNING", graphiql=True
    )


class _Assets(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        wanted = {"script": "src", "link": "href", "img": "src"}.get(tag)
        self.urls += [value for name, value in attrs if name == wanted and value]


def assets_of(page: str) -> list[str]:
    parser = _Assets()
    parser.feed(page)
    return parser.urls


def default_query_of(page: str) -> str:
    match = re.search(r"const defaultQuery = `(.*?)`;", page, re.DOTALL)
    assert match, "graphiql.html has no defaultQuery"
    return match.group(1).replace("\\`", "`")


class TestGraphiQL:
    async def test_page_is_served_without_a_token(self, client):
        response = await client.get("/graphql", headers=HTML)

        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/html")
        assert 'GraphiQL.createFetcher({ url: "/graphql", subscriptionUrl })' in response.text
        assert "GraphiQLPluginExplorer.explorerPlugin()" in response.text
        assert '{"Authorization": "Bearer <paste the token make run printed>"}' in response.text

    async def test_every_asset_is_served_by_the_app(self, client):
        page = (await client.get("/graphql", headers=HTML)).text
        urls = assets_of(page)

        assert len(urls) == 6  # react, react-dom, graphiql and its explorer plugin (js and css)
        for url in urls:
            assert url.startswith("/graphql/static/"), url
            response = await client.get(url)
            assert response.status_code == 200, url
            assert len(response.content) > 1000, url

    async def test_nothing_is_loaded_from_another_host(self, client):
        page = (await client.get("/graphql", headers=HTML)).text

        assert re.findall(r"https?://[^\s\"'<>]+", page) == []
        assert "//unpkg" not in page and "//cdn" not in page

    async def test_the_default_query_answers(self, client, session, auth):
        await make_student(session, netid="f000abc")
        await make_term(session, "f000abc", "201801")
        await make_plan(session, "f000abc")
        await make_dplan(session, "f000abc", "201909")
        await session.commit()
        page = (await client.get("/graphql", headers=HTML)).text

        data = await gql_data(client, default_query_of(page), auth())

        student = data["student"]
        assert student["netid"] == "f000abc"
        assert len(student["terms"]) == len(student["plans"]) == len(student["dplans"]) == 1

    async def test_a_query_in_the_url_still_runs_as_graphql(self, client, auth):
        response = await client.get(
            "/graphql", params={"query": "{ dplanCodes { id } }"}, headers={**HTML, **auth()}
        )

        assert response.status_code == 200
        assert response.json()["data"]["dplanCodes"]


class TestVendored:
    def test_every_asset_matches_the_checksum_in_vendored_txt(self):
        sums = re.findall(r"^([0-9a-f]{64})  (\S+)$", (STATIC / "VENDORED.txt").read_text(), re.M)
        served = {p.name for p in STATIC.iterdir() if p.suffix in (".js", ".css")}

        assert {name for _, name in sums} == served
        for digest, name in sums:
            assert hashlib.sha256((STATIC / name).read_bytes()).hexdigest() == digest, name


class TestGraphiQLOff:
    @pytest.fixture
    def settings(self, database_url: str) -> Settings:
        return Settings(database_url=database_url, environment="test", log_level="WARNING")

    async def test_not_served_outside_development(self, client):
        response = await client.get("/graphql", headers=HTML)

        assert response.status_code == 401
        assert "GraphiQL" not in response.text
