"""PATCH /api/students/{netid} and GET /api/tasks/{id}: the seed's write contract."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from app.auth import PEOPLE_PRIVATE, STUDENTS_READ, STUDENTS_WRITE, TASKS_WRITE
from app.db import create_engine, create_sessionmaker
from app.models import StudentDplan, Task
from tests.factories import make_dplan, make_student
from tests.worker.helpers import running_worker, seed_payload, wait_for_task

NETID = "f0027k4"
WRITER = (STUDENTS_WRITE, TASKS_WRITE, STUDENTS_READ)  # the seed sample's scopes, in its order
LOCATION = re.compile(r"^/api/tasks/[0-9a-f]{24}$")
RECORD_KEYS = [
    "resource",
    "action",
    "resource_id",
    "payload",
    "requester",
    "status",
    "request_date",
    "completed_date",
    "path",
    "worker_data",
    "message",
    "id",
]
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


@pytest.fixture
async def student(session):
    await make_student(session, netid=NETID)
    await make_dplan(session, NETID, "202209", dplan_id="L", dplan_source_id="STU")
    await session.commit()


def writer(auth, *extra, sub="f003ghc"):
    return auth(
        *WRITER,
        *extra,
        sub=sub,
        name="Integration Test User",
        email="Integration.Test.User@dartmouth.edu",
    )


async def patch(client, headers, body, netid=NETID, **extra_headers):
    return await client.patch(
        f"/api/students/{netid}", json=body, headers={**headers, **extra_headers}
    )


async def task_count(session) -> int:
    return (await session.execute(select(func.count()).select_from(Task))).scalar_one()


class TestPatch:
    async def test_accepts_the_seed_payload_durably(self, client, settings, student, auth):
        response = await patch(client, writer(auth), seed_payload())

        assert response.status_code == 202, response.text
        assert response.json() == {"status": "accepted"}
        assert response.content == b'{"status":"accepted"}'
        assert LOCATION.match(response.headers["location"])
        # Read through a connection of our own, right after the answer: the row is committed.
        engine = create_engine(settings)
        try:
            async with create_sessionmaker(engine)() as other:
                task_id = response.headers["location"].rsplit("/", 1)[1]
                row = await other.get(Task, task_id)
        finally:
            await engine.dispose()
        assert row is not None and row.resource_id == NETID

    async def test_task_record_as_the_seed_sample(self, client, settings, session, student, auth):
        headers = writer(auth)
        async with running_worker(settings):
            response = await patch(client, headers, seed_payload())
            record = await wait_for_task(client, response.headers["location"], headers)

        assert list(record) == RECORD_KEYS
        assert list(record["requester"]) == ["sub", "name", "email", "scope", "exp", "iat"]
        requester = record["requester"]
        assert requester["sub"] == "f003ghc"
        assert requester["name"] == "Integration Test User"
        assert requester["email"] == "Integration.Test.User@dartmouth.edu"
        assert requester["scope"] == ",".join(WRITER)
        assert requester["exp"].isdigit() and requester["iat"].isdigit()
        assert record["resource"] == "students" and record["action"] == "PATCH"
        assert record["resource_id"] == NETID
        assert record["payload"] == seed_payload()
        assert list(record["payload"]["dplans"][0]) == list(seed_payload()["dplans"][0])
        assert record["status"] == "complete"
        assert record["message"] == "success"
        assert record["path"] == f"/api/students/{NETID}"
        assert record["worker_data"] is None
        assert TIMESTAMP.match(record["request_date"])
        assert TIMESTAMP.match(record["completed_date"])
        assert record["completed_date"] >= record["request_date"]
        assert f"/api/tasks/{record['id']}" == response.headers["location"]

        # Two terms set, the third untouched.
        rows = (await session.execute(select(StudentDplan).order_by("term_code"))).scalars()
        values = {r.term_code: (r.dplan_id, r.dplan_source_id, r.task_id) for r in rows}
        assert values == {
            "202209": ("L", "STU", None),
            "202301": ("R", "PHL", record["id"]),
            "202303": ("R", "PHL", record["id"]),
        }

    async def test_reads_see_the_write_at_once(self, client, settings, student, auth):
        headers = writer(auth)
        async with running_worker(settings):
            response = await patch(client, headers, seed_payload())
            await wait_for_task(client, response.headers["location"], headers)
        read = await client.get(f"/api/students/{NETID}", headers=headers)
        assert read.status_code == 200, read.text
        terms = {d["term_code"]: d["dplan_id"] for d in read.json()["dplans"]}
        assert terms == {"202209": "L", "202301": "R", "202303": "R"}

    @pytest.mark.parametrize("scopes", [(STUDENTS_WRITE,), (STUDENTS_READ,), (TASKS_WRITE,)])
    async def test_needs_write_and_read(self, client, session, student, auth, scopes):
        response = await patch(client, auth(*scopes), seed_payload())
        assert response.status_code == 403
        assert "insufficient_scope" in response.headers["www-authenticate"]
        assert await task_count(session) == 0

    async def test_no_token(self, client, student):
        response = await client.patch(f"/api/students/{NETID}", json=seed_payload())
        assert response.status_code == 401

    async def test_protected_student_is_unknown_without_people_private(self, client, session, auth):
        await make_student(session, netid="f000hid", ferpa_protected=True)
        await session.commit()
        hidden = await patch(client, writer(auth), seed_payload(), netid="f000hid")
        unknown = await patch(client, writer(auth), seed_payload(), netid="f000unk")
        assert hidden.status_code == unknown.status_code == 404
        assert hidden.content == unknown.content
        assert await task_count(session) == 0
        allowed = await patch(client, writer(auth, PEOPLE_PRIVATE), seed_payload(), "f000hid")
        assert allowed.status_code == 202

    async def test_invalid_names_each_problem_and_creates_nothing(
        self, client, session, student, auth
    ):
        body = seed_payload()
        del body["dplans"][0]["dplan_source_id"]
        body["dplans"][1]["dplan_source_id"] = "NOPE"
        body["dplans"].append({"term_code": "202301", "dplan_id": "R", "dplan_source_id": "PHL"})
        body["dplans"].append({"term_code": "209902", "dplan_id": "Q", "dplan_source_id": "PHL"})
        response = await patch(client, writer(auth), body)
        assert response.status_code == 422
        error = response.json()
        assert error["code"] == "BAD_USER_INPUT"
        assert {p["loc"] for p in error["problems"]} == {
            "dplans[0].dplan_source_id",
            "dplans[1].dplan_source_id",
            "dplans[2].term_code",
            "dplans[3].term_code",
            "dplans[3].dplan_id",
        }
        assert await task_count(session) == 0

    @pytest.mark.parametrize("body", [{"dplans": []}, {"dplans": [{"term_code": "202301"}]}])
    async def test_empty_or_incomplete(self, client, session, student, auth, body):
        response = await patch(client, writer(auth), body)
        assert response.status_code == 422
        assert await task_count(session) == 0

    async def test_malformed_json(self, client, session, student, auth):
        headers = {**writer(auth), "Content-Type": "application/json"}
        response = await client.patch(f"/api/students/{NETID}", content=b"{", headers=headers)
        assert response.status_code == 400
        assert response.json()["code"] == "BAD_REQUEST"
        assert await task_count(session) == 0

    @pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded"])
    async def test_wrong_content_type(self, client, student, auth, content_type):
        headers = {**writer(auth), "Content-Type": content_type}
        response = await client.patch(f"/api/students/{NETID}", content=b"{}", headers=headers)
        assert response.status_code == 415
        assert response.json()["code"] == "UNSUPPORTED_MEDIA_TYPE"


class TestIdempotencyKey:
    async def test_same_key_same_task(self, client, session, student, auth):
        headers = writer(auth)
        first = await patch(client, headers, seed_payload(), **{"Idempotency-Key": "k1"})
        again = await patch(client, headers, seed_payload(), **{"Idempotency-Key": "k1"})
        assert first.status_code == again.status_code == 202
        assert first.headers["location"] == again.headers["location"]
        assert again.json() == {"status": "accepted"}
        assert await task_count(session) == 1

    async def test_same_key_other_body_is_rejected(self, client, session, student, auth):
        headers = writer(auth)
        await patch(client, headers, seed_payload(), **{"Idempotency-Key": "k1"})
        body = seed_payload()
        body["dplans"][0]["dplan_id"] = "L"
        response = await patch(client, headers, body, **{"Idempotency-Key": "k1"})
        assert response.status_code == 422
        assert response.json()["problems"][0]["loc"] == "idempotency_key"
        assert await task_count(session) == 1

    async def test_keys_belong_to_their_requester(self, client, session, student, auth):
        one = await patch(client, writer(auth), seed_payload(), **{"Idempotency-Key": "k"})
        other = writer(auth, sub="f000zzz")
        two = await patch(client, other, seed_payload(), **{"Idempotency-Key": "k"})
        assert one.headers["location"] != two.headers["location"]


class TestGetTask:
    async def test_only_the_requester_or_tasks_write(self, client, student, auth):
        response = await patch(client, writer(auth), seed_payload())
        location = response.headers["location"]

        stranger = await client.get(location, headers=auth(STUDENTS_READ, sub="f000zzz"))
        unknown = await client.get("/api/tasks/" + "0" * 24, headers=auth(STUDENTS_READ))
        malformed = await client.get("/api/tasks/not-an-id", headers=auth(STUDENTS_READ))
        assert stranger.status_code == unknown.status_code == malformed.status_code == 404
        assert stranger.content == unknown.content == malformed.content

        admin = await client.get(location, headers=auth(TASKS_WRITE, sub="f000zzz"))
        mine = await client.get(location, headers=auth(STUDENTS_READ))  # same sub, any scopes
        assert admin.status_code == mine.status_code == 200

    async def test_running_reads_as_accepted(self, client, session, auth):
        now = datetime.now(UTC)
        session.add(
            Task(
                id="0" * 23 + "1",
                resource="students",
                action="PATCH",
                resource_id=NETID,
                payload=seed_payload(),
                requester={"sub": "f003ghc"},
                requester_sub="f003ghc",
                status="running",
                request_date=now,
                attempts=1,
                available_at=now,
                lease_owner="elsewhere",
                lease_expires_at=now + timedelta(minutes=5),
            )
        )
        await session.commit()
        response = await client.get("/api/tasks/" + "0" * 23 + "1", headers=auth())
        assert response.status_code == 200
        assert response.json()["status"] == "accepted"
        assert response.json()["path"] is None


class TestConcurrentRequests:
    async def test_concurrent_patches_all_complete_with_the_last_value(
        self, client, settings, session, auth
    ):
        netids = [f"c{i}" for i in range(3)]
        for netid in netids:
            await make_student(session, netid=netid)
        await session.commit()
        headers = writer(auth)
        bodies = [
            (
                netids[i % 3],
                {"dplans": [{"term_code": "202301", "dplan_id": code, "dplan_source_id": "PHL"}]},
            )
            for i, code in enumerate(["R", "L", "O", "X", "W"] * 6)
        ]
        async with running_worker(settings):
            responses = await asyncio.gather(
                *(patch(client, headers, body, netid=n) for n, body in bodies)
            )
            assert {r.status_code for r in responses} == {202}
            records = [
                await wait_for_task(client, r.headers["location"], headers) for r in responses
            ]
        assert {r["status"] for r in records} == {"complete"}
        last = {}
        for record in sorted(records, key=lambda r: r["id"]):
            last[record["resource_id"]] = record["payload"]["dplans"][0]["dplan_id"]
        rows = (await session.execute(select(StudentDplan))).scalars()
        assert {r.netid: r.dplan_id for r in rows} == last
