"""Webhooks: created and managed by the CLI, delivered by the workers in position order, at
least once, signed; retried with backoff, paused after WEBHOOK_MAX_FAILURES; a worker killed
mid-delivery costs a counted duplicate, never an entry; the account's scopes decide."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from app.auth import PEOPLE_PRIVATE, STUDENTS_READ
from app.db import transaction
from app.domain.webhooks import verify
from app.services import accounts
from app.services import webhooks as webhooks_service
from app.worker import Worker
from tests.changes.helpers import load
from tests.changes.receiver import Receiver, receiving
from tests.cli.test_data import run_cli
from tests.domain.test_load_format import STUDENT, changed, document


@contextlib.asynccontextmanager
async def delivering(settings, engine, sessions, **overrides: Any) -> AsyncIterator[Worker]:
    """A worker process's loop (tasks, retention, webhooks) in this test."""
    tuned = settings.model_copy(
        update={"webhooks_allow_private_addresses": True, "worker_poll_seconds": 0.2, **overrides}
    )
    worker = Worker(tuned, engine, sessions, prunes=True)
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    try:
        yield worker
    finally:
        stop.set()
        await asyncio.wait_for(running, 30)


async def webhook(sessions, receiver: Receiver, *scopes: str, **options: Any) -> tuple[int, str]:
    async with transaction(sessions) as session:
        await accounts.create_account(session, "warehouse", list(scopes or (STUDENTS_READ,)))
        return await webhooks_service.create(
            session, receiver.url, "warehouse", options.get("kinds"), allow_private=True, after=0
        )


async def row(sessions, webhook_id: int) -> Any:
    async with sessions() as session:
        return next(h for h in await webhooks_service.webhooks(session) if h.id == webhook_id)


class TestDelivery:
    async def test_batches_in_position_order_signed(self, settings, engine, sessions):
        async with receiving() as receiver:
            webhook_id, secret = await webhook(sessions, receiver)
            async with delivering(settings, engine, sessions):
                await load(sessions, document())
                first = await receiver.wait_for(4)
                await load(sessions, {"students": [changed(STUDENT, last_name="Next")]})
                entries = await receiver.wait_for(5)
        assert [e["kind"] for e in first[:4]] == ["student", "term", "plan", "dplan"]
        positions = [e["position"] for e in entries]
        assert positions == sorted(set(positions))
        assert entries[-1]["record"]["last_name"] == "Next"
        for delivery in receiver.deliveries:
            headers = delivery.headers
            stamp = int(headers["webhook-timestamp"])
            assert verify(
                secret, headers["webhook-id"], stamp, delivery.body, headers["webhook-signature"]
            )
            assert not verify(
                secret,
                headers["webhook-id"],
                stamp,
                delivery.body + b" ",
                headers["webhook-signature"],
            )
            assert delivery.json["webhook"] == webhook_id
        hook = await row(sessions, webhook_id)
        assert hook.after == positions[-1] and hook.delivered == 5 and hook.redelivered == 0

    async def test_the_accounts_scopes_decide(self, settings, engine, sessions):
        hidden = changed(STUDENT, netid="f000hid", ferpa_protected=True)
        async with receiving() as receiver:
            await webhook(sessions, receiver, STUDENTS_READ, kinds=["student"])
            async with delivering(settings, engine, sessions):
                await load(sessions, {"students": [hidden]})
                await load(sessions, {"students": [STUDENT]})
                entries = await receiver.wait_for(1)
                await asyncio.sleep(0.5)
        assert (
            [e["netid"] for e in receiver.entries()] == ["f000abc"] == [e["netid"] for e in entries]
        )

    async def test_a_failing_endpoint_is_retried_then_paused(self, settings, engine, sessions):
        async with receiving() as receiver:
            receiver.answer = lambda _d: 503 if len(receiver.deliveries) < 2 else 204
            webhook_id, _ = await webhook(sessions, receiver, STUDENTS_READ, PEOPLE_PRIVATE)
            async with delivering(settings, engine, sessions):
                await load(sessions, document())
                while len(receiver.deliveries) < 2:  # noqa: ASYNC110 (the receiver's own count)
                    await asyncio.sleep(0.05)
                await asyncio.sleep(0.3)
            hook = await row(sessions, webhook_id)
            assert hook.failures == 0 and hook.delivered == 4 and hook.redelivered == 4
            # the same batch each time: the same webhook-id
            assert len({d.headers["webhook-id"] for d in receiver.deliveries}) == 1
            receiver.answer = lambda _d: 500
            async with delivering(settings, engine, sessions, webhook_max_failures=2):
                await load(sessions, {"students": [changed(STUDENT, last_name="Again")]})
                for _ in range(100):
                    hook = await row(sessions, webhook_id)
                    if hook.state == "paused":
                        break
                    await asyncio.sleep(0.1)
        assert hook.state == "paused" and hook.last_error == "HTTP 500"
        assert hook.paused_reason == "2 deliveries failed in a row"

    async def test_a_worker_killed_mid_delivery_costs_a_duplicate_not_an_entry(
        self, settings, engine, sessions
    ):
        async with receiving() as receiver:
            webhook_id, _ = await webhook(sessions, receiver)
            receiver.hold = asyncio.Event()
            tuned = {"webhook_timeout_seconds": 1.0}
            async with delivering(settings, engine, sessions, **tuned) as worker:
                await load(sessions, document())
                await receiver.arrived.wait()
                # killed: its loop is gone mid-request, nothing after the POST ran
                for task in asyncio.all_tasks():
                    if "Deliverer.run" in repr(task.get_coro()):
                        task.cancel()
                assert worker is not None
            receiver.hold.set()
            async with delivering(settings, engine, sessions, **tuned):
                await receiver.wait_for(8, seconds=30)
                await asyncio.sleep(0.3)
        ids = [d.headers["webhook-id"] for d in receiver.deliveries]
        assert len(ids) == 2 and ids[0] == ids[1]
        hook = await row(sessions, webhook_id)
        assert hook.delivered == 4 and hook.redelivered == 4


class TestCli:
    def test_create_list_pause_resume_delete(self, database_url):
        env_url = database_url
        assert (
            run_cli("account", "create", "hr", "--scope", STUDENTS_READ, url=env_url).returncode
            == 0
        )
        refused = run_cli(
            "webhook", "create", "--url", "http://127.0.0.1:9/x", "--account", "hr", url=env_url
        )
        assert refused.returncode != 0
        assert "loopback" in refused.stderr and "WEBHOOKS_ALLOW_PRIVATE_ADDRESSES" in refused.stderr
        metadata = run_cli(
            "webhook", "create", "--url", "http://169.254.169.254/", "--account", "hr", url=env_url
        )
        assert metadata.returncode != 0 and "link-local" in metadata.stderr
        bad = run_cli("webhook", "create", "--url", "ftp://x", "--account", "hr", url=env_url)
        assert bad.returncode != 0 and "http" in bad.stderr
        created = run_cli(
            "webhook",
            "create",
            "--url",
            "http://192.0.2.10/hook",
            "--account",
            "hr",
            "--kinds",
            "dplan,student",
            url=env_url,
        )
        assert created.returncode == 0, created.stderr
        secret = created.stdout.strip().splitlines()[-1]
        assert secret.startswith("whsec_")
        hook = created.stdout.split()[1]  # "webhook <id> delivers to ..."

        def listed() -> list[str]:
            lines = run_cli("webhook", "list", url=env_url).stdout.splitlines()
            assert secret not in "\n".join(lines)
            return next(line.split("\t") for line in lines[1:] if line.split("\t")[0] == hook)

        assert listed()[1:7] == [
            "active",
            "http://192.0.2.10/hook",
            "hr",
            "student,dplan",
            "0",
            "0",
        ]
        assert run_cli("webhook", "pause", hook, url=env_url).returncode == 0
        assert listed()[1] == "paused" and listed()[-1] == "paused by an operator"
        assert run_cli("webhook", "resume", hook, url=env_url).returncode == 0
        assert listed()[1] == "active"
        assert run_cli("webhook", "delete", hook, url=env_url).returncode == 0
        missing = run_cli("webhook", "delete", hook, url=env_url)
        assert missing.returncode != 0 and "no webhook" in missing.stderr
        unknown = run_cli(
            "webhook", "create", "--url", "http://192.0.2.10/", "--account", "nobody", url=env_url
        )
        assert unknown.returncode != 0 and "nobody" in unknown.stderr
