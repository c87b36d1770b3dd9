"""The portal's query-string convention, read into `Condition`s and a page request.

`attr=value` pairs are ANDed; dotted names reach nested fields (`lms_term.id=WI18`); a value
`=<v` / `=>v` (so `?year==<2020`) is an inclusive range bound; a trailing `*` is a prefix match.
`pagesize`, `page` and `continuation_key` are paging, never filters."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote

from fastapi import Query
from starlette.requests import Request

from app.config import Settings
from app.domain.filters import Condition, parse_rest_value
from app.errors import BadRequest, Invalid, Problem

PAGING = ("pagesize", "page", "continuation_key")
PLAN_ALIASES = {"netid": "student_netid"}  # plan collections: `?netid=` is the student's

PageSize = Annotated[
    int | None,
    Query(
        ge=1,
        description="Rows per page: default 100, at most 1000 (larger values are clamped to "
        "1000 and the response says so in `X-Pagesize-Clamped`).",
    ),
]
PageNumber = Annotated[
    int | None,
    Query(ge=1, description="With `continuation_key`: which page of the found set (from 1)."),
]
ContinuationKey = Annotated[
    str | None,
    Query(
        description="The `X-Request-ID` of the response that opened the found set; pages "
        "through the same set for 12 hours (same caller and scopes only).",
    ),
]


@dataclass(frozen=True)
class CollectionQuery:
    conditions: list[Condition]
    pagesize: int
    clamped: bool
    page: int
    continuation_key: str | None


MAX_FILTERS = 50  # filter pairs in one query string
# Characters of the filters' names and values, all together: a found set too large to keep
# whole keeps its filter, to read the rest again (docs/api/rest.md: Paging and continuation).
MAX_FILTER_CHARS = 2048


def conditions_of(request: Request, aliases: Mapping[str, str]) -> list[Condition]:
    """Every non-paging query parameter as a condition (`?netid=x` may be renamed by `aliases`)."""
    out: list[Condition] = []
    pairs = request.query_params.multi_items()
    if len(pairs) > MAX_FILTERS + len(PAGING):
        problem = Problem("query", f"at most {MAX_FILTERS} filters")
        raise Invalid("the query string has too many filters", [problem])
    filters = [(name, raw) for name, raw in pairs if name not in PAGING]
    if sum(len(name) + len(raw) for name, raw in filters) > MAX_FILTER_CHARS:
        problem = Problem("query", f"filters of at most {MAX_FILTER_CHARS} characters in all")
        raise Invalid("the query string's filters are too long", [problem])
    for name, raw in filters:
        op, value = parse_rest_value(raw)
        out.append(Condition(aliases.get(name, name), op, value))
    return out


def page_without_key() -> BadRequest:
    return BadRequest(
        "page needs a continuation_key",
        [Problem("page", "pass the X-Request-ID of the first response as continuation_key")],
    )


def collection_query(
    request: Request,
    settings: Settings,
    *,
    pagesize: int | None,
    page: int | None,
    continuation_key: str | None,
    aliases: Mapping[str, str] | None = None,
) -> CollectionQuery:
    """The filters and page a collection request asks for."""
    if page is not None and page > 1 and not continuation_key:
        raise page_without_key()
    size = pagesize or settings.rest_page_size_default
    return CollectionQuery(
        conditions=conditions_of(request, aliases or {}),
        pagesize=min(size, settings.rest_page_size_max),
        clamped=size > settings.rest_page_size_max,
        page=page or 1,
        continuation_key=continuation_key,
    )


def header_list(names: list[str]) -> str:
    """Names a client sent, safe in a header (percent-encoded, no CR/LF), each once."""
    unique = dict.fromkeys(quote(n, safe="._-~*[]:") for n in names)
    return ", ".join(unique)
