"""Request bodies: the PATCH body's model (for OpenAPI) and a JSON reader strict about what JSON
parsers disagree on."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request

from app.errors import BadRequest
from app.state import refuse_unstorable


class DplanIn(BaseModel):
    dplan_id: str = Field(description="A D-plan code (`R`).")
    dplan_source_id: str = Field(description="A D-plan source (`PHL`).")
    term_code: str = Field(description="A SIS term code (`202301`).")
    dplan_description: str | None = Field(None, description="Ignored.")
    dplan_source_description: str | None = Field(None, description="Ignored.")


class DplansPatchIn(BaseModel):
    dplans: list[DplanIn] = Field(description="One dplan per term; other terms stay as they are.")


def patch_body_schema() -> dict[str, Any]:
    """The PATCH body's JSON schema with `DplanIn` inlined: pydantic writes it under `$defs` with
    a `#/$defs/...` reference, which resolves against the whole OpenAPI document, where it does
    not exist (client generators and fuzzers then skip the body)."""
    schema = DplansPatchIn.model_json_schema()
    definitions = schema.pop("$defs")
    schema["properties"]["dplans"]["items"] = definitions["DplanIn"]
    schema["additionalProperties"] = False
    return schema


MEDIA_TYPE_MESSAGE = "send the body as Content-Type: application/json"


def json_body(
    request: Request, raw: bytes, shape: Callable[[Any], None] = lambda _body: None
) -> Any:
    """The body as JSON; `shape` (a check of its limits, in constant time, whose problems may
    name the body's top-level keys: those are checked first) runs before the walk of every value
    for what no database stores, which costs time in the body's size (~50 ms for a megabyte of
    small objects)."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json" and not media_type.endswith("+json"):
        raise StarletteHTTPException(415, MEDIA_TYPE_MESSAGE)
    body = strict_json(raw)
    refuse_unstorable(list(body) if isinstance(body, dict) else [], "body")
    shape(body)
    refuse_unstorable(body, "body")
    return body


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """Linear in the keys: a body of 95,000 keys under MAX_BODY_BYTES once held the event loop
    for minutes (each key was counted in the whole list)."""
    body = dict(pairs)
    if len(body) < len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise BadRequest(f"the body is ambiguous: it gives the key {key!r} more than once")
            seen.add(key)
    return body


def _no_constant(name: str) -> Any:
    raise BadRequest(f"the body is not valid JSON: {name} is not a JSON number")


def strict_json(raw: bytes) -> Any:
    """The body as JSON, refusing what JSON parsers disagree on: a key given twice in one object
    (`{"dplans": [], "dplans": [...]}`; orjson keeps the last) and NaN/Infinity."""
    try:
        return json.loads(raw, object_pairs_hook=_unique_keys, parse_constant=_no_constant)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"the body is not valid JSON: {exc}") from exc
    except RecursionError as exc:
        raise BadRequest("the body nests JSON too deep") from exc
