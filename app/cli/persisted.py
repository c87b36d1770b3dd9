"""persisted add: register GraphQL documents (the safelist GRAPHQL_PERSISTED_ONLY serves, or
documents clients then send by hash alone)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from graphql import GraphQLError

from app.cli.commands import command, group
from app.cli.data import _report, _run, _settings
from app.domain.persisted import documents_of
from app.errors import DocumentTooLarge, Invalid, Problem
from app.graphql.documents import refuse_large_document
from app.graphql.schema import schema_for
from app.services import persisted as persisted_service


def _checked(name: str, documents: list[tuple[str, str]], settings: Any) -> None:
    """Every document must be within GRAPHQL_MAX_DOCUMENT_BYTES, parse, validate and pass the
    limits: only a document that can run is worth persisting."""
    schema = schema_for(settings)
    problems = []
    for doc_id, text in documents:
        try:
            refuse_large_document(text, settings.graphql_max_document_bytes)
            _document, errors = schema.prepare_document(schema._schema, text)
        except DocumentTooLarge as exc:
            problems.append(Problem(doc_id, exc.message))
            continue
        except GraphQLError as exc:  # a syntax error, or past the token limit
            errors = [exc]
        problems += [Problem(doc_id, e.message) for e in errors]
    if problems:
        raise Invalid(f"{len(problems)} problems, nothing was added", problems)


def add(args: argparse.Namespace) -> int:
    """Each FILE is one GraphQL document (its id is the SHA-256 of its text) or an Apollo
    persisted-query manifest (.json, as generate-persisted-query-manifest writes it). Every
    document must parse and validate; a bad file adds nothing."""
    settings = _settings()
    documents: list[tuple[str, str]] = []
    for file in args.files:
        try:
            found = documents_of(file, Path(file).read_text())
            _checked(file, found, settings)
        except Invalid as exc:
            return _report(file, exc)
        documents += found
    total = _run(settings, lambda s: persisted_service.register(s, documents))
    print(f"{len(documents)} documents registered; {total} on the safelist")
    for doc_id, _text in documents:
        print(doc_id)
    return 0


def register(commands: Any) -> None:
    actions = group(
        commands,
        "persisted",
        "persisted queries: add documents to the store",
        "The store of persisted GraphQL documents. A client sends a stored document by its id "
        "alone (Apollo's extensions.persistedQuery.sha256Hash); with GRAPHQL_PERSISTED_ONLY=true "
        "only stored documents run at all (a safelist). Documents are added here, never by a "
        "request.",
    )
    summary = "register .graphql files (id: SHA-256 of the text) or Apollo manifests (.json)"
    p = command(actions, "add", add, summary)
    p.add_argument("files", nargs="+", metavar="FILE", help=".graphql or .json files")
