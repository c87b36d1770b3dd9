"""Webhook deliveries, run by each `studentgraph worker` beside its task slots (and by the
embedded worker on SQLite): claim the webhooks due (a lease each), POST each its next batch,
signed, and record the outcome (app/services/webhooks.py decides what it changes).

Woken by the change notification (a commit wrote entries) or a poll every WORKER_POLL_SECONDS,
and at the next retry a backoff set. A batch is POSTed as `{"webhook": id, "entries": [...],
"next_after": N}` with the Standard Webhooks headers: `webhook-id` (`<webhook>-<first>-<last>`,
the same for a batch sent again, so a receiver may drop duplicates by it), `webhook-timestamp`
and `webhook-signature`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import UTC, datetime

import httpx
import orjson
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app import notifications
from app.config import Settings
from app.db import transaction
from app.domain.webhooks import signature
from app.repositories import Record
from app.services import disclosures as disclosures_service
from app.services import webhooks as webhooks_service
from app.services.webhooks import Batch

log = logging.getLogger("app.worker.webhooks")


class Deliverer:
    def __init__(
        self,
        settings: Settings,
        engine: AsyncEngine,
        sessions: async_sessionmaker[AsyncSession],
        owner: str,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.sessions = sessions
        self.owner = f"{owner}/webhooks"
        # Covers a delivery (a POST waits at most the timeout per step); one that outlives it
        # is not moved past (`held`): its batch goes again, as after a worker's death.
        self.lease_seconds = settings.webhook_timeout_seconds * 3 + 1

    async def run(self, stop: asyncio.Event) -> None:
        limits = httpx.Limits(max_connections=20, max_keepalive_connections=20)
        timeout = httpx.Timeout(self.settings.webhook_timeout_seconds)
        with notifications.record_changes(self.engine) as announced:
            async with httpx.AsyncClient(timeout=timeout, limits=limits) as client:
                while not stop.is_set():
                    busy = False
                    try:
                        busy = await self.round(client)
                    except Exception as exc:  # the next round tries again
                        log.warning("webhook round failed: %s", type(exc).__name__)
                    if not busy:
                        await self._sleep(announced, stop)

    async def _sleep(self, announced: asyncio.Queue[str], stop: asyncio.Event) -> None:
        wait = self.settings.worker_poll_seconds
        with contextlib.suppress(Exception):
            async with self.sessions() as session:
                due = await webhooks_service.next_due(session)
            if due is not None:
                wait = min(wait, max(0.01, (due - datetime.now(UTC)).total_seconds()))
        waiters = [asyncio.ensure_future(announced.get()), asyncio.ensure_future(stop.wait())]
        try:
            await asyncio.wait(waiters, timeout=wait, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
        while not announced.empty():
            announced.get_nowait()

    async def round(self, client: httpx.AsyncClient) -> bool:
        """Deliver one batch to each webhook due; whether any had entries to send."""
        async with transaction(self.sessions) as session:
            hooks = await webhooks_service.claim_due(session, self.owner, self.lease_seconds)
        busy = False
        for hook in hooks:
            busy = await self.deliver(client, hook) or busy
        return busy

    async def deliver(self, client: httpx.AsyncClient, hook: Record) -> bool:
        async with self.sessions() as session:
            principal = await webhooks_service.principal_of(session, hook.account_name)
        if principal is None:
            await self._failed(hook, f"the service account {hook.account_name} is gone or disabled")
            return False
        try:
            sent = await webhooks_service.batch(
                self.engine, principal, hook, self.settings.webhook_batch_size
            )
        except Exception as exc:  # Forbidden: the account lost its scopes
            await self._failed(hook, f"{type(exc).__name__}: {exc}")
            return False
        if sent.entries:
            async with transaction(self.sessions) as session:
                if not await webhooks_service.sending(session, hook, self.owner, sent):
                    return False  # the lease ran out: another worker has it now
            message_id = f"{hook.id}-{sent.entries[0]['position']}-{sent.entries[-1]['position']}"
            to = webhooks_service.recipient(hook, principal, message_id)
            await disclosures_service.record(self.engine, to, sent.shown, datetime.now(UTC))
            error = await self._post(client, hook, message_id, sent)
            if error is not None:
                await self._failed(hook, error)
                return False
        async with transaction(self.sessions) as session:
            await webhooks_service.delivered(session, hook, self.owner, sent)
        return bool(sent.entries)

    async def _post(
        self, client: httpx.AsyncClient, hook: Record, message_id: str, sent: Batch
    ) -> str | None:
        """POST the batch; None when the endpoint accepted it (2xx), else why not."""
        body = orjson.dumps(
            {"webhook": hook.id, "entries": sent.entries, "next_after": sent.next_after}
        )
        stamp = int(time.time())
        headers = {
            "content-type": "application/json",
            "webhook-id": message_id,
            "webhook-timestamp": str(stamp),
            "webhook-signature": signature(hook.secret, message_id, stamp, body),
            "user-agent": "studentgraph-webhooks",
        }
        try:
            if not self.settings.webhooks_allow_private_addresses:
                await webhooks_service.check_url(hook.url, allow_private=False)
            answer = await client.post(hook.url, content=body, headers=headers)
        except Exception as exc:
            return f"{type(exc).__name__}: {str(exc)[:300]}"
        if 200 <= answer.status_code < 300:
            return None
        return f"HTTP {answer.status_code}"

    async def _failed(self, hook: Record, error: str) -> None:
        log.info("webhook delivery failed", extra={"webhook": hook.id, "error": error})
        async with transaction(self.sessions) as session:
            await webhooks_service.failed(
                session, hook, self.owner, error, self.settings.webhook_max_failures
            )
