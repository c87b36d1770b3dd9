"""/docs and /redoc offline (vendored assets), the OpenAPI document (every `$ref` resolves, a
validator passes, the bearer scheme), and every 405 naming every allowed method."""

from __future__ import annotations

import hashlib
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from openapi_spec_validator import validate

from app.rest.docs import STATIC

CONTENT_TYPES = {".js": "javascript", ".css": "text/css", ".png": "image/png"}


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


class TestOfflineDocs:
    @pytest.mark.parametrize(
        ("path", "expected"),
        [
            ("/docs", {"swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png"}),
            ("/redoc", {"redoc.standalone.js", "favicon-32x32.png"}),
        ],
    )
    async def test_every_asset_is_vendored_and_served(self, client, path, expected):
        page = await client.get(path)
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")

        urls = assets_of(page.text)
        assert {url.rsplit("/", 1)[1] for url in urls} == expected
        for url in urls:
            assert url.startswith("/docs/static/"), url
            response = await client.get(url)
            assert response.status_code == 200, url
            wanted = CONTENT_TYPES[Path(url).suffix]
            assert wanted in response.headers["content-type"], (url, response.headers)
            assert response.content == (STATIC / Path(url).name).read_bytes(), url

    @pytest.mark.parametrize("path", ["/docs", "/redoc"])
    async def test_nothing_is_loaded_from_another_host(self, client, path):
        page = (await client.get(path)).text

        assert re.findall(r"https?://[^\s\"'<>]+", page) == []
        assert "//cdn" not in page and "fonts.googleapis" not in page
        assert "/openapi.json" in page

    async def test_swagger_ui_asks_no_public_validator(self, client):
        # Swagger UI's default shows a badge fetched from validator.swagger.io.
        assert '"validatorUrl": null' in (await client.get("/docs")).text

    async def test_redoc_reads_the_document(self, client):
        assert '<redoc spec-url="/openapi.json">' in (await client.get("/redoc")).text

    def test_vendored_files_are_the_recorded_ones(self):
        record = (STATIC / "VENDORED.txt").read_text()
        sums = re.findall(r"^([0-9a-f]{64})  (\S+)$", record, re.MULTILINE)
        assert {name for _, name in sums} == {
            "swagger-ui-bundle.js",
            "swagger-ui.css",
            "favicon-32x32.png",
            "redoc.standalone.js",
        }
        for digest, name in sums:
            assert hashlib.sha256((STATIC / name).read_bytes()).hexdigest() == digest, name
        for licence in ("swagger-ui.LICENSE", "swagger-ui.NOTICE", "redoc.LICENSE"):
            assert (STATIC / licence).stat().st_size > 0, licence


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for value in node.values() for r in _refs(value)]
    if isinstance(node, list):
        return [r for item in node for r in _refs(item)]
    return []


def _resolve(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), f"{ref} is not a local reference"
    node: Any = document
    for part in ref[2:].split("/"):
        key = part.replace("~1", "/").replace("~0", "~")
        assert isinstance(node, dict) and key in node, f"{ref} does not resolve (at {key!r})"
        node = node[key]
    return node


class TestOpenApiDocument:
    async def test_every_ref_resolves(self, client):
        spec = (await client.get("/openapi.json")).json()

        refs = _refs(spec)
        assert len(refs) > 10
        for ref in set(refs):
            assert isinstance(_resolve(spec, ref), dict), ref

    async def test_the_patch_body_is_described_inline(self, client):
        spec = (await client.get("/openapi.json")).json()

        body = spec["paths"]["/api/students/{netid}"]["patch"]["requestBody"]
        schema = body["content"]["application/json"]["schema"]
        assert schema["properties"]["dplans"]["items"]["required"] == [
            "dplan_id",
            "dplan_source_id",
            "term_code",
        ]

    async def test_a_validator_passes(self, client):
        spec = (await client.get("/openapi.json")).json()

        validate(spec)  # raises OpenAPIValidationError naming the first problem

    async def test_bearer_scheme_on_every_operation_that_takes_a_token(self, client):
        spec = (await client.get("/openapi.json")).json()

        scheme = spec["components"]["securitySchemes"]["bearer"]
        assert (scheme["type"], scheme["scheme"], scheme["bearerFormat"]) == (
            "http",
            "bearer",
            "JWT",
        )
        operations = [
            (path, method, operation)
            for path, item in spec["paths"].items()
            for method, operation in item.items()
        ]
        token_routes = ("/api/students/", "/api/academic/", "/api/tasks/")
        assert sum(path.startswith(token_routes) for path, _, _ in operations) >= 8
        for path, method, operation in operations:
            assert path.startswith("/api/"), path
            if path.startswith(token_routes):
                assert operation["security"] == [{"bearer": []}], (method, path)
            else:  # a route with a credential of its own says so
                assert operation.get("security") in ([{"bearer": []}], []), (method, path)

    async def test_the_scheme_only_documents(self, client, auth):
        """Authentication is still the routes' own: other schemes and no header get its 401."""
        for headers in ({}, {"Authorization": "Basic Zm9vOmJhcg=="}, {"Authorization": "Bearer"}):
            response = await client.get("/api/students/f000abc", headers=headers)
            assert response.status_code == 401, headers
            assert response.json()["code"] == "UNAUTHENTICATED"
            assert response.headers["www-authenticate"].startswith("Bearer")
        assert (await client.get("/api/students/nobody", headers=auth())).status_code == 404


def _concrete(template: str) -> str:
    return re.sub(r"\{[^/]+\}", "x", template)


class TestMethodNotAllowed:
    async def test_every_documented_path_names_all_its_methods(self, client, auth):
        spec = (await client.get("/openapi.json")).json()

        for template, item in spec["paths"].items():
            documented = sorted(method.upper() for method in item)
            assert "DELETE" not in documented, template
            response = await client.delete(_concrete(template), headers=auth())
            assert response.status_code == 405, template
            assert response.headers["allow"].split(", ") == documented, template
            assert response.json()["code"] == "METHOD_NOT_ALLOWED"

    @pytest.mark.parametrize(
        ("method", "path", "allow"),
        [
            ("DELETE", "/api/students/x", "GET, PATCH"),  # two routes, one path
            ("PUT", "/api/students/x", "GET, PATCH"),
            ("POST", "/api/students/x/terms", "GET"),
            ("DELETE", "/api/academic/plans/", "GET"),
            ("PUT", "/graphql", "GET, POST"),  # undocumented routes count too
            ("POST", "/healthz", "GET"),
            ("POST", "/docs", "GET"),
            ("POST", "/docs/static/swagger-ui.css", "GET, HEAD"),  # static files
            ("POST", "/graphql/static/graphiql.min.css", "GET, HEAD"),
        ],
    )
    async def test_allow_lists_every_method(self, client, auth, method, path, allow):
        response = await client.request(method, path, headers=auth())

        assert response.status_code == 405
        assert response.headers["allow"] == allow
        assert response.json()["code"] == "METHOD_NOT_ALLOWED"
