"""Persisted documents as clients name them: the SHA-256 of the text (Apollo's automatic
persisted queries), or the ids of an Apollo persisted-query manifest
(`generate-persisted-query-manifest`: `{"format": "apollo-persisted-query-manifest", "version":
1, "operations": [{"id", "name", "type", "body"}]}`)."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from app.errors import BadRequest, Invalid, Problem

MANIFEST_FORMAT = "apollo-persisted-query-manifest"
ID = re.compile(r"[A-Za-z0-9_.:-]{1,128}")


def sha256_of(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def requested_hash(extensions: Any) -> str | None:
    """The `sha256Hash` of `extensions.persistedQuery` (version 1), or None when the request
    names none; a malformed one is a bad request naming what is wrong."""
    if extensions is None:
        return None
    if not isinstance(extensions, dict):
        raise BadRequest("`extensions` must be a JSON object")
    persisted = extensions.get("persistedQuery")
    if persisted is None:
        return None
    if not isinstance(persisted, dict) or persisted.get("version") != 1:
        raise BadRequest("`extensions.persistedQuery` must be {version: 1, sha256Hash}")
    sha = persisted.get("sha256Hash")
    if not isinstance(sha, str) or not ID.fullmatch(sha):
        raise BadRequest("`extensions.persistedQuery.sha256Hash` must be a hash (hex digits)")
    return sha


def verify(sha: str, text: str) -> None:
    """A document sent with its hash is stored under it only if the hash is the text's."""
    actual = sha256_of(text)
    if actual != sha:
        raise BadRequest(
            f"provided sha256Hash does not match the query: the query's SHA-256 is {actual}, "
            f"the request said {sha}"
        )


def documents_of(name: str, content: str) -> list[tuple[str, str]]:
    """`(id, text)` of each document in a file: an Apollo manifest (.json) or one GraphQL
    document (any other file), whose id is its SHA-256."""
    if not name.endswith(".json"):
        if not content.strip():
            raise Invalid(f"{name} is empty", [Problem(name, "holds no GraphQL document")])
        return [(sha256_of(content), content)]
    try:
        manifest = json.loads(content)
    except ValueError as exc:
        raise Invalid(f"{name} is not JSON", [Problem(name, str(exc))]) from exc
    if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT:
        problem = Problem("format", f'must be "{MANIFEST_FORMAT}" (version 1)')
        raise Invalid(f"{name} is not an Apollo persisted-query manifest", [problem])
    operations = manifest.get("operations")
    if not isinstance(operations, list):
        raise Invalid(f"{name} has no operations", [Problem("operations", "must be a list")])
    documents, problems = [], []
    for index, entry in enumerate(operations):
        if not isinstance(entry, dict):
            problems.append(Problem(f"operations[{index}]", "must be an object"))
            continue
        op_id, body = entry.get("id"), entry.get("body")
        if not isinstance(op_id, str) or not ID.fullmatch(op_id):
            problems.append(Problem(f"operations[{index}].id", "must be 1-128 of [A-Za-z0-9_.:-]"))
        if not isinstance(body, str) or not body.strip():
            problems.append(Problem(f"operations[{index}].body", "must be a GraphQL document"))
        if not problems:
            documents.append((op_id, body))
    if problems:
        raise Invalid(f"{name}: {len(problems)} problems, nothing was added", problems)
    return documents  # type: ignore[return-value]
