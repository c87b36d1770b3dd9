"""OpenAPI that shows the samples as they are, nulls included.

FastAPI encodes its schema with `exclude_none=True`, which also strips every `null` out of the
examples, and the samples' nulls are part of the contract (`"parent_id": null`). After FastAPI
builds the schema once, each example that is a known sample minus its nulls is put back verbatim.
Matching by content keeps this independent of paths, prefixes and FastAPI's routing internals."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import orjson
from fastapi import FastAPI


def strip_nulls(value: Any) -> Any:
    """What FastAPI's encoder leaves of a value: dict entries that are null are dropped."""
    if isinstance(value, dict):
        return {k: strip_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [strip_nulls(v) for v in value]
    return value


def _fingerprint(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def _restore(node: Any, originals: dict[bytes, Any]) -> None:
    if isinstance(node, list):
        for item in node:
            _restore(item, originals)
        return
    if not isinstance(node, dict):
        return
    for key, value in node.items():
        if key == "example":
            node[key] = originals.get(_fingerprint(value), value)
        elif key == "examples" and isinstance(value, list):
            node[key] = [originals.get(_fingerprint(v), v) for v in value]
        else:
            _restore(value, originals)


def restore_examples(schema: dict[str, Any], samples: Sequence[Any]) -> None:
    """Put every sample back where FastAPI left it without its nulls."""
    _restore(schema, {_fingerprint(strip_nulls(s)): s for s in samples})


FASTAPI_VALIDATION_ERROR = "#/components/schemas/HTTPValidationError"


def drop_fastapi_validation_errors(schema: dict[str, Any]) -> None:
    """FastAPI documents a 422 of its own shape (`HTTPValidationError`) on every route with a
    parameter, unless the route declares one. Every route that can answer 422 declares it, in
    the shape it answers (`ErrorOut`, with its example); on the others (a string in the path is
    all they take) no request gets a 422, so FastAPI's is removed, and its schemas with it."""
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.get("responses", {})
            content = responses.get("422", {}).get("content", {}).get("application/json", {})
            if content.get("schema", {}).get("$ref") == FASTAPI_VALIDATION_ERROR:
                del responses["422"]
    if FASTAPI_VALIDATION_ERROR not in orjson.dumps(schema).decode():
        schemas = schema.get("components", {}).get("schemas", {})
        schemas.pop("HTTPValidationError", None)
        schemas.pop("ValidationError", None)


def install(app: FastAPI, samples: Sequence[Any]) -> None:
    """Wrap `app.openapi` so the cached schema carries the samples verbatim."""
    original: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = original()
            restore_examples(schema, samples)
            drop_fastapi_validation_errors(schema)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def lifespan(samples: Sequence[Any]) -> Callable[[FastAPI], Any]:
    """A router lifespan that installs the fix on the app including the router (main.py stays
    unaware of it)."""

    @asynccontextmanager
    async def keep_nulls_in_examples(app: FastAPI) -> AsyncIterator[None]:
        install(app, samples)
        yield

    return keep_nulls_in_examples
