"""HTTP behaviour of every compat route: caching headers and 304s, one error shape for every 4xx,
OpenAPI, and SQL statements per request that do not grow with the rows returned."""

from __future__ import annotations

import pytest
from pydantic import TypeAdapter

from app.rest import examples
from app.rest.schemas import AcademicPlanOut, StudentOut, StudentTermOut
from tests.factories import make_dplan, make_plan, make_student, make_term
from tests.rest.seed_data import load_plans, load_terms

# route, Cache-Control, response model
ROUTES = [
    ("/api/students/f000abc/terms", "private, max-age=86400", list[StudentTermOut]),
    ("/api/students/f0027k4/plans", "private, max-age=3600", list[AcademicPlanOut]),
    ("/api/academic/plans?netid=f0027k4", "private, max-age=3600", list[AcademicPlanOut]),
    ("/api/academic/plans/?netid=f0027k4", "private, max-age=3600", list[AcademicPlanOut]),
    ("/api/academic/plans/20109", "private, max-age=3600", AcademicPlanOut),
    ("/api/students/f000abc", "private, max-age=0", StudentOut),
]
ROUTE_IDS = [r[0] for r in ROUTES]


@pytest.fixture
async def seeded(session):
    await load_terms(session, examples.TERMS_SAMPLE)
    await load_plans(session, examples.PLANS_SAMPLE)
    await make_dplan(session, "f000abc", "201909")
    await session.commit()


class TestCaching:
    @pytest.mark.parametrize(("path", "cache_control", "model"), ROUTES, ids=ROUTE_IDS)
    async def test_200_has_cache_control_and_etag(
        self, client, auth, seeded, path, cache_control, model
    ):
        response = await client.get(path, headers=auth())

        assert response.status_code == 200
        assert response.headers["cache-control"] == cache_control
        assert response.headers["etag"].startswith('"')
        TypeAdapter(model).validate_python(response.json())

    @pytest.mark.parametrize(("path", "cache_control", "model"), ROUTES, ids=ROUTE_IDS)
    async def test_if_none_match_is_304_without_body(
        self, client, auth, seeded, path, cache_control, model
    ):
        etag = (await client.get(path, headers=auth())).headers["etag"]

        for sent in (etag, f"W/{etag}", f'"other", {etag}', "*"):
            again = await client.get(path, headers={**auth(), "If-None-Match": sent})
            assert again.status_code == 304, sent
            assert again.content == b""
            assert again.headers["etag"] == etag
            assert again.headers["cache-control"] == cache_control

    async def test_stale_etag_gets_the_new_body(self, client, auth, seeded, session):
        path = "/api/students/f0027k4/plans"
        etag = (await client.get(path, headers=auth())).headers["etag"]
        await make_plan(session, "f0027k4", id=30000)
        await session.commit()

        response = await client.get(path, headers={**auth(), "If-None-Match": etag})

        assert response.status_code == 200
        assert response.headers["etag"] != etag


ERROR_KEYS = ["status", "code", "message", "problems"]


class TestErrorShape:
    @pytest.mark.parametrize(
        ("method", "path", "status", "code"),
        [
            ("GET", "/api/no/such/route", 404, "NOT_FOUND"),
            ("GET", "/api/students/nobody", 404, "NOT_FOUND"),
            ("GET", "/api/academic/plans/not-a-number", 404, "NOT_FOUND"),
            ("DELETE", "/api/academic/plans", 405, "METHOD_NOT_ALLOWED"),
            ("GET", "/api/academic/plans?pagesize=x", 422, "BAD_USER_INPUT"),
            ("GET", "/api/academic/plans?continuation_key=nope&page=2", 400, "BAD_REQUEST"),
            ("GET", "/api/academic/plans?parent_id=x", 422, "BAD_USER_INPUT"),
        ],
    )
    async def test_one_shape(self, client, auth, method, path, status, code):
        response = await client.request(method, path, headers=auth())

        assert response.status_code == status
        assert response.headers["content-type"] == "application/json"
        body = response.json()
        assert list(body) == ERROR_KEYS
        assert (body["status"], body["code"]) == (status, code)
        assert isinstance(body["message"], str) and body["message"]
        assert all(list(p) == ["loc", "message"] for p in body["problems"])
        assert "Traceback" not in response.text

    async def test_405_names_the_allowed_methods(self, client, auth):
        response = await client.delete("/api/academic/plans", headers=auth())
        assert "GET" in response.headers["allow"]


class TestOpenApi:
    async def test_describes_every_compat_route_with_models_and_samples(self, client):
        spec = (await client.get("/openapi.json")).json()
        paths = spec["paths"]

        expected = {
            "/api/students/{netid}/terms": examples.TERMS_SAMPLE,
            "/api/students/{netid}/plans": examples.PLANS_SAMPLE,
            "/api/academic/plans": examples.PLANS_SAMPLE,
            "/api/academic/plans/": examples.PLANS_SAMPLE,
            "/api/academic/plans/{plan_id}": examples.PLANS_SAMPLE[0],
            "/api/students/{netid}": examples.STUDENT_EXAMPLE,
        }
        for path, example in expected.items():
            get = paths[path]["get"]
            content = get["responses"]["200"]["content"]["application/json"]
            assert content["example"] == example, path
            assert "$ref" in str(content["schema"]), path
            assert get["description"], path
            assert {"401", "403"} <= set(get["responses"]), path
        schemas = spec["components"]["schemas"]
        assert list(schemas["AcademicPlanOut"]["properties"]) == list(examples.PLANS_SAMPLE[0])
        assert list(schemas["StudentTermOut"]["properties"]) == list(examples.TERMS_SAMPLE[0])
        assert list(schemas["ErrorOut"]["properties"]) == ERROR_KEYS
        # FastAPI drops nulls from examples; the samples' nulls are put back.
        assert schemas["AcademicPlanOut"]["examples"] == [examples.PLANS_SAMPLE[0]]
        assert schemas["StudentTermOut"]["examples"] == [examples.TERMS_SAMPLE[0]]
        assert paths["/api/academic/plans"]["get"]["responses"]["200"]["headers"]["ETag"]

    async def test_docs_page(self, client):
        response = await client.get("/docs")
        assert response.status_code == 200
        assert "openapi.json" in response.text


class TestStatementsPerRequest:
    async def _count(self, client, auth, sql_counter, path: str) -> int:
        before = sql_counter.count
        response = await client.get(path, headers=auth())
        assert response.status_code == 200
        return sql_counter.count - before

    @pytest.mark.parametrize(
        "path",
        [
            "/api/academic/plans?pagesize=1000",
            "/api/academic/plans?pagesize=3",
            "/api/students/f000abc/plans",
            "/api/students/f000abc/terms",
            "/api/students/f000abc",
        ],
    )
    async def test_constant_in_rows(self, client, auth, session, sql_counter, path):
        await make_student(session, netid="f000abc")
        await session.commit()
        await self._count(client, auth, sql_counter, path)  # the current term is now remembered
        counts = []
        next_id = 1
        for total in (5, 50):
            while next_id <= total:
                await make_plan(session, "f000abc", id=next_id)
                next_id += 1
            await session.commit()
            counts.append(await self._count(client, auth, sql_counter, path))
        await self._grow_terms_and_dplans(session)
        counts.append(await self._count(client, auth, sql_counter, path))

        assert counts[0] == counts[1] == counts[2], counts

    @pytest.mark.parametrize(
        "path",
        [
            "/api/academic/plans",
            "/api/academic/plans/7",
            "/api/students/f000abc/plans?type=Major",
            "/api/students/f000abc/terms?quarterly_term.current_term_offset==<0&is_active=N",
            "/api/students/f000abc",
        ],
    )
    async def test_one_statement_builds_the_answer(
        self, client, auth, session, sql_counter, path, read_statements
    ):
        await make_student(session, netid="f000abc")
        for plan_id in range(1, 9):
            await make_plan(session, "f000abc", id=plan_id)
        await self._grow_terms_and_dplans(session)
        count = await self._count(client, auth, sql_counter, path)
        assert count == read_statements, sql_counter.statements  # and its disclosure records

    async def test_a_later_page_is_one_statement_after_the_key_lookup(
        self, client, auth, session, sql_counter, read_statements
    ):
        await make_student(session, netid="f000abc")
        for plan_id in range(1, 9):
            await make_plan(session, "f000abc", id=plan_id)
        await session.commit()
        first = await client.get("/api/academic/plans?pagesize=3", headers=auth())
        key = first.headers["x-request-id"]
        before = sql_counter.count
        second = await client.get(
            f"/api/academic/plans?pagesize=3&continuation_key={key}&page=2", headers=auth()
        )
        assert [p["id"] for p in second.json()] == ["4", "5", "6"]
        # the key lookup, then the page (and its disclosure records)
        assert sql_counter.count - before == 1 + read_statements, sql_counter.statements[before:]

    async def _grow_terms_and_dplans(self, session):
        for year in range(2000, 2013):
            for season in ("01", "03", "06", "09"):
                await make_term(session, "f000abc", f"{year}{season}")
                await make_dplan(session, "f000abc", f"{year}{season}")
        await session.commit()

    async def test_later_pages_are_constant_too(self, client, auth, session, sql_counter):
        await make_student(session, netid="f000abc")
        for i in range(1, 61):
            await make_plan(session, "f000abc", id=i)
        await session.commit()
        first = await client.get("/api/academic/plans?pagesize=5", headers=auth())
        key = first.headers["x-request-id"]

        counts = []
        for size in (5, 50):
            before = sql_counter.count
            response = await client.get(
                "/api/academic/plans",
                params={"continuation_key": key, "page": 1, "pagesize": size},
                headers=auth(),
            )
            assert len(response.json()) == size
            counts.append(sql_counter.count - before)
        assert counts[0] == counts[1]
