"""Every error status the OpenAPI document names has its own example (Swagger showed the 404 of
`ErrorOut`'s schema under 401, 403 and 422), whose `status` is that status and whose `code` is
that status's; and each example a request can provoke is, byte for byte, what the route answers."""

from __future__ import annotations

from typing import Any

import pytest

from tests.factories import make_student

CODES = {
    400: {"BAD_REQUEST"},
    401: {"UNAUTHENTICATED"},
    403: {"FORBIDDEN"},
    404: {"NOT_FOUND"},
    410: {"CHANGES_EXPIRED"},
    415: {"UNSUPPORTED_MEDIA_TYPE"},
    422: {"BAD_USER_INPUT"},
    429: {"RATE_LIMITED"},
    503: {"NOT_CONFIGURED", "SERVICE_UNAVAILABLE", "TIMEOUT"},
}
UNKNOWN = "zz999zz"
KNOWN = "f000abc"


async def _document(client) -> dict[str, Any]:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


def _errors(document: dict[str, Any]) -> list[tuple[str, str, int, dict[str, Any]]]:
    found = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if int(status) >= 400:
                    found.append((method.upper(), path, int(status), response))
    return found


def _example(document: dict[str, Any], method: str, path: str, status: int) -> Any:
    response = document["paths"][path][method.lower()]["responses"][str(status)]
    return response["content"]["application/json"]["example"]


async def test_every_error_status_has_an_example_of_its_own(client):
    errors = _errors(await _document(client))
    assert len(errors) > 30
    for method, path, status, response in errors:
        where = f"{method} {path} {status}"
        example = response.get("content", {}).get("application/json", {}).get("example")
        assert example is not None, f"{where}: no example (the schema's 404 would show)"
        assert example["status"] == status, where
        assert example["code"] in CODES[status], where
        assert list(example) == ["status", "code", "message", "problems"], where


def _concrete(path: str, netid: str) -> str:
    return path.replace("{netid}", netid).replace("{plan_id}", "99999").replace("{task_id}", "x")


async def _answers(client, document, method, path, status, *, headers, netid=UNKNOWN, **kw):
    url = kw.pop("url", None) or _concrete(path, netid)
    response = await client.request(method, url, headers=headers, **kw)
    assert response.status_code == status, (method, url, response.text)
    assert response.json() == _example(document, method, path, status), (method, path, status)


def _takes(document, path: str, parameter: str) -> bool:
    operation = document["paths"][path]["get"]
    return any(p["name"] == parameter for p in operation.get("parameters", []))


def _documented(document, status: int, method: str = "GET") -> list[str]:
    return [p for m, p, s, _ in _errors(document) if s == status and m == method]


class TestTheExamplesAreWhatTheRoutesAnswer:
    async def test_401_without_a_token(self, client):
        document = await _document(client)
        paths = _documented(document, 401)
        assert len(paths) >= 6
        for path in paths:
            await _answers(client, document, "GET", path, 401, headers={})

    async def test_403_without_the_scope(self, client, auth):
        document = await _document(client)
        paths = _documented(document, 403)
        assert len(paths) >= 5
        for path in paths:
            # A token of another scope: every GET route needs read.sensitive.
            await _answers(client, document, "GET", path, 403, headers=auth("x:unrelated"))

    async def test_404_for_an_unknown_id(self, client, auth):
        document = await _document(client)
        for path in _documented(document, 404):
            await _answers(client, document, "GET", path, 404, headers=auth())

    async def test_400_and_422_of_a_collection(self, client, auth):
        document = await _document(client)
        paged = [p for p in _documented(document, 422) if _takes(document, p, "pagesize")]
        collections = [p for p in _documented(document, 400) if _takes(document, p, "pagesize")]
        assert collections == paged and len(collections) >= 4
        for path in collections:
            url = _concrete(path, KNOWN)
            await _answers(client, document, "GET", path, 400, headers=auth(), url=f"{url}?page=2")
            await _answers(
                client, document, "GET", path, 422, headers=auth(), url=f"{url}?pagesize=0"
            )

    async def test_the_change_feeds_limit(self, client, auth):
        document = await _document(client)
        assert "/api/changes" in _documented(document, 422)
        url = "/api/changes?limit=0"
        await _answers(client, document, "GET", "/api/changes", 422, headers=auth(), url=url)

    async def test_the_patch_errors(self, client, auth, session):
        await make_student(session, netid=KNOWN)
        await session.commit()
        document = await _document(client)
        path = "/api/students/{netid}"
        json_type = {"Content-Type": "application/json"}
        good = b'{"dplans": [{"term_code": "202301", "dplan_id": "R", "dplan_source_id": "PHL"}]}'
        bad = b'{"dplans": [{"term_code": "202301", "dplan_id": "Q", "dplan_source_id": "PHL"}]}'
        for status, headers, body, netid in (
            (401, json_type, good, KNOWN),
            (403, {**auth("x:unrelated"), **json_type}, good, KNOWN),
            (400, {**auth(), **json_type}, b"{", KNOWN),
            (415, auth(), good, KNOWN),
            (404, {**auth(), **json_type}, good, UNKNOWN),
            (422, {**auth(), **json_type}, bad, KNOWN),
        ):
            await _answers(
                client, document, "PATCH", path, status, headers=headers, content=body, netid=netid
            )

    @pytest.mark.parametrize(
        ("status", "url", "headers"),
        [
            (401, "/api/jwt", {}),
            (422, "/api/jwt?scope=bogus", {"Authorization": "sgk_unknown"}),
            (400, "/api/jwt?scope=%00", {"Authorization": "sgk_unknown"}),
        ],
    )
    async def test_the_key_exchange_errors(self, client, status, url, headers):
        document = await _document(client)
        await _answers(client, document, "POST", "/api/jwt", status, headers=headers, url=url)
