"""Contract tests: each seed document's sample request, against the seed's own samples loaded,
answers with its sample return: same keys, same order, same types, same status."""

from __future__ import annotations

import orjson
import pytest

from app.domain.demo import demo_document
from app.rest import examples
from app.services import importer
from tests.factories import make_dplan, make_student
from tests.rest.json_compare import assert_same_json
from tests.rest.seed_data import load_plans, load_terms, sample_after, sample_request, seed_text

TERMS_SEED, PLANS_SEED, PATCH_SEED = seed_text("004"), seed_text("003"), seed_text("000")
needs_seeds = pytest.mark.skipif(
    None in (TERMS_SEED, PLANS_SEED, PATCH_SEED),
    reason="the seed documents (../shared/seeds/*.txt beside the repo) are not present",
)


def _seed(text: str | None) -> str:
    assert text is not None
    return text


@needs_seeds
class TestSeedSamples:
    async def test_terms_sample(self, client, session, auth):
        text = _seed(TERMS_SEED)
        sample = sample_after(text, "Sample Return")
        await load_terms(session, sample)
        await session.commit()

        response = await client.get(sample_request(text), headers=auth())

        assert sample_request(text) == "/api/students/f000abc/terms"
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/json"
        assert_same_json(response.json(), sample)

    async def test_plans_sample(self, client, session, auth):
        text = _seed(PLANS_SEED)
        sample = sample_after(text, "Sample Return")
        await load_plans(session, sample)
        await session.commit()

        response = await client.get(sample_request(text), headers=auth())

        assert sample_request(text) == "/api/academic/plans/?netid=f0027k4"
        assert response.status_code == 200
        assert_same_json(response.json(), sample)

    async def test_html_strings_are_byte_identical(self, client, session, auth):
        sample = sample_after(_seed(PLANS_SEED), "Sample Return")
        await load_plans(session, sample)
        await session.commit()

        response = await client.get("/api/academic/plans/20109", headers=auth())

        assert response.status_code == 200
        expected = sample[0]["prerequisites"]
        assert "\r\n" in expected and "&nbsp;" in expected
        assert orjson.dumps(expected) in response.content
        assert_same_json(response.json(), sample[0])

    async def test_each_plan_of_the_sample_by_id_and_by_student(self, client, session, auth):
        sample = sample_after(_seed(PLANS_SEED), "Sample Return")
        await load_plans(session, sample)
        await session.commit()

        for record in sample:
            one = await client.get(f"/api/academic/plans/{record['id']}", headers=auth())
            assert_same_json(one.json(), record)
        mine = await client.get("/api/students/f0027k4/plans", headers=auth())
        assert_same_json(mine.json(), sample)

    async def test_student_dplans_are_keyed_as_the_patch_payload(self, client, session, auth):
        payload = sample_after(_seed(PATCH_SEED), "Here is an example payload:")
        await make_student(session, netid="f00000x", first_name="Ada", last_name="Lovelace")
        patch_like = [{**d, "term_code": "201909"} for d in payload["dplans"][:1]]
        await make_dplan(session, "f00000x", "201909", dplan_id="R", dplan_source_id="PHL")
        await session.commit()

        response = await client.get("/api/students/f00000x", headers=auth())

        assert response.status_code == 200
        body = response.json()
        assert list(body) == [
            "netid",
            "first_name",
            "middle_name",
            "last_name",
            "name",
            "class_year",
            "school_code",
            "ferpa_protected",
            "dplans",
        ]
        assert body["name"] == "Ada Lovelace"
        assert_same_json(body["dplans"], patch_like)

    def test_openapi_examples_are_the_seed_samples(self):
        assert_same_json(examples.TERMS_SAMPLE, sample_after(_seed(TERMS_SEED), "Sample Return"))
        assert_same_json(examples.PLANS_SAMPLE, sample_after(_seed(PLANS_SEED), "Sample Return"))
        payload = sample_after(_seed(PATCH_SEED), "Here is an example payload:")
        assert_same_json(examples.DPLANS_PAYLOAD_SAMPLE, payload)


@needs_seeds
class TestDemoData:
    """`python -m app demo`'s document, loaded by the importer, answers every sample request
    with its sample too (a second, independent way to the same data)."""

    async def test_every_sample_request(self, client, session, auth, clock):
        document = importer.read_document(orjson.dumps(demo_document()))
        await importer.load(session, document, now=clock.now())
        await session.commit()

        for text in (_seed(TERMS_SEED), _seed(PLANS_SEED)):
            response = await client.get(sample_request(text), headers=auth())
            assert response.status_code == 200
            assert_same_json(response.json(), sample_after(text, "Sample Return"))


class TestDocumentedStatuses:
    async def test_student_without_terms_gets_an_empty_list(self, client, session, auth):
        await make_student(session, netid="f000new")
        await session.commit()

        response = await client.get("/api/students/f000new/terms", headers=auth())

        assert response.status_code == 200
        assert response.content == b"[]"

    async def test_student_without_plans_gets_an_empty_list(self, client, session, auth):
        await make_student(session, netid="f000new")
        await session.commit()

        response = await client.get("/api/students/f000new/plans", headers=auth())

        assert (response.status_code, response.json()) == (200, [])

    async def test_filter_matching_nothing_is_an_empty_list(self, client, session, auth):
        await load_plans(session, examples.PLANS_SAMPLE)
        await session.commit()

        response = await client.get("/api/academic/plans?netid=nobody", headers=auth())

        assert (response.status_code, response.json()) == (200, [])
