"""studentgraph persisted add: .graphql files and Apollo manifests into the shared store."""

from __future__ import annotations

import asyncio
import hashlib
import json

from sqlalchemy import select

from app.cli import main
from app.db import create_engine, create_sessionmaker, reading, transaction
from app.models import PersistedQuery
from app.repositories.persisted import PersistedQueryRepository

QUERY = "{ dplanCodes { id } }"


def _stored(settings) -> dict[str, str]:
    async def read() -> dict[str, str]:
        engine = create_engine(settings)
        try:
            async with reading(create_sessionmaker(engine)) as session:
                stmt = select(PersistedQuery.id, PersistedQuery.query)
                return {row.id: row.query for row in (await session.execute(stmt)).all()}
        finally:
            await engine.dispose()

    return asyncio.run(read())


def test_adds_files_and_manifests(settings, database_url, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", database_url)
    document = tmp_path / "codes.graphql"
    document.write_text(QUERY)
    manifest = tmp_path / "manifest.json"
    operations = [
        {"id": "op-1", "name": "Sources", "type": "query", "body": "{ dplanSources { id } }"}
    ]
    manifest.write_text(
        json.dumps(
            {"format": "apollo-persisted-query-manifest", "version": 1, "operations": operations}
        )
    )
    assert main(["persisted", "add", str(document), str(manifest)]) == 0
    assert "2 documents registered" in capsys.readouterr().out
    assert _stored(settings) == {
        hashlib.sha256(QUERY.encode()).hexdigest(): QUERY,
        "op-1": "{ dplanSources { id } }",
    }


def test_a_bad_document_adds_nothing(settings, database_url, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", database_url)
    good, bad = tmp_path / "good.graphql", tmp_path / "bad.graphql"
    good.write_text(QUERY)
    bad.write_text("{ nope }")
    assert main(["persisted", "add", str(good), str(bad)]) == 1
    assert "Cannot query field 'nope'" in capsys.readouterr().err
    assert _stored(settings) == {}


def test_a_document_a_caller_persisted_joins_the_safelist_only_when_added(
    settings, database_url, tmp_path, monkeypatch, capsys
):
    """`persisted add` of a document callers already persisted puts it on the safelist; the
    count it prints is of the safelist (what GRAPHQL_PERSISTED_ONLY runs), not of the store."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    digest = hashlib.sha256(QUERY.encode()).hexdigest()

    async def persist_automatically() -> None:
        engine = create_engine(settings)
        try:
            async with transaction(create_sessionmaker(engine)) as session:
                await PersistedQueryRepository(session).add(
                    [(digest, QUERY), ("other", "{ dplanSources { id } }")]
                )
        finally:
            await engine.dispose()

    asyncio.run(persist_automatically())
    assert _safelisted(settings) == {}
    document = tmp_path / "codes.graphql"
    document.write_text(QUERY)
    assert main(["persisted", "add", str(document)]) == 0
    assert "1 documents registered; 1 on the safelist" in capsys.readouterr().out
    assert _safelisted(settings) == {digest: QUERY}


def _safelisted(settings) -> dict[str, str]:
    return {k: v for k, (v, on) in _stored_with_standing(settings).items() if on}


def _stored_with_standing(settings) -> dict[str, tuple[str, bool]]:
    async def read() -> dict[str, tuple[str, bool]]:
        engine = create_engine(settings)
        try:
            async with reading(create_sessionmaker(engine)) as session:
                columns = (PersistedQuery.id, PersistedQuery.query, PersistedQuery.safelisted)
                rows = (await session.execute(select(*columns))).all()
                return {row.id: (row.query, row.safelisted) for row in rows}
        finally:
            await engine.dispose()

    return asyncio.run(read())
