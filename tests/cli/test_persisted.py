"""studentgraph persisted add: .graphql files and Apollo manifests into the shared store."""

from __future__ import annotations

import asyncio
import hashlib
import json

from sqlalchemy import select

from app.cli import main
from app.db import create_engine, create_sessionmaker, reading
from app.models import PersistedQuery

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
