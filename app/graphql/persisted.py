"""Persisted queries at both doors (HTTP and WebSocket): Apollo's automatic persisted queries
(`extensions.persistedQuery {version: 1, sha256Hash}`) and, with GRAPHQL_PERSISTED_ONLY, a
safelist. The documents live in the database (app/services/persisted.py), so every API process
shares them; an id never changes its text, so each door also remembers the ones it has read."""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import Any

from app.caches import BoundedCache, text_bytes
from app.db import reading, transaction
from app.domain.persisted import requested_hash, sha256_of, verify
from app.errors import PersistedQueryNotFound, PersistedQueryNotInList
from app.graphql.documents import refuse_large_document
from app.graphql.operations import Params, read_params
from app.services import persisted as persisted_service
from app.state import AppState

log = logging.getLogger("app.graphql")
# Documents held per process: at most 2,048, and 16 MiB of text (each at most
# GRAPHQL_MAX_DOCUMENT_BYTES).
REMEMBERED = 2048
REMEMBERED_BYTES = 16 * 1024 * 1024
# Once the store is found full, a process stops offering it new documents for this long: nothing
# removes documents but an operator, and each offer counts the store (a client sending new
# documents would otherwise buy a count of up to GRAPHQL_PERSISTED_MAX rows per request).
FULL_RECHECK_SECONDS = 300.0


class PersistedDocuments:
    """Turns a request into the document to run, and stores new ones once they have passed
    every check."""

    def __init__(self, persisted_only: bool) -> None:
        self.persisted_only = persisted_only
        self._known: BoundedCache[str, str] = BoundedCache(
            "graphql_persisted", max_entries=REMEMBERED, max_bytes=REMEMBERED_BYTES
        )
        self._found_full_at: float | None = None  # time.monotonic() when last found full

    async def params_of(self, state: AppState, raw: dict[str, Any]) -> Params:
        """The request's parameters, its document found by hash when it sent only the hash.
        Raises PersistedQueryNotFound (the client then sends the text), BadRequest when the
        hash is not the text's, PersistedQueryNotInList for a document outside the safelist."""
        sha = requested_hash(raw.get("extensions"))
        limit = state.settings.graphql_max_document_bytes
        params = read_params(raw, limit, query_required=sha is None)
        if sha is None:
            if self.persisted_only and await self._text(state, sha256_of(params.query)) is None:
                raise PersistedQueryNotInList()
            return params
        if not params.query:
            text = await self._text(state, sha)
            if text is None:
                raise PersistedQueryNotFound()
            # Stored under a larger bound, or by `persisted add` with one: held to today's.
            refuse_large_document(text, limit, stored=True)
            return dataclasses.replace(params, query=text, persisted=sha)
        verify(sha, params.query)
        if await self._text(state, sha) is not None:
            return dataclasses.replace(params, persisted=sha)
        if self.persisted_only:
            raise PersistedQueryNotInList()
        return dataclasses.replace(params, persisted=sha, register=True)

    async def remember(self, state: AppState, params: Params) -> None:
        """Store a document sent with its hash, once it has parsed, validated and passed the
        limits (so the store holds only documents that can run)."""
        assert params.persisted is not None
        if self._known_full():
            return
        maximum = state.settings.graphql_persisted_max
        async with transaction(state.sessions) as session:
            stored = await persisted_service.register_automatic(
                session, params.persisted, params.query, maximum
            )
        if stored:
            self._hold(params.persisted, params.query)
        else:
            self._found_full_at = time.monotonic()
            log.warning("persisted query store is full", extra={"maximum": maximum})

    def _known_full(self) -> bool:
        found = self._found_full_at
        return found is not None and time.monotonic() - found < FULL_RECHECK_SECONDS

    async def _text(self, state: AppState, query_id: str) -> str | None:
        text: str | None = self._known.get(query_id)
        if text is not None:
            return text
        async with reading(state.sessions) as session:
            # The safelist holds only what the operator registered: a document a caller
            # persisted is never found here, whenever it was stored.
            text = await persisted_service.text_of(
                session, query_id, safelisted_only=self.persisted_only
            )
        if text is not None:
            self._hold(query_id, text)
        return text

    def _hold(self, query_id: str, text: str) -> None:
        self._known.put(query_id, text, text_bytes(query_id) + text_bytes(text))
