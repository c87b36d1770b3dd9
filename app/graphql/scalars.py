"""Scalars. DateTime is ISO 8601 in UTC with a `Z`, as the REST API writes its timestamps."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import strawberry


def format_utc(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse(value: Any) -> datetime:
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError("a DateTime needs a zone (end it with Z)")
    return parsed


DateTime = strawberry.scalar(
    name="DateTime",
    description="An instant, ISO 8601 in UTC: `2018-01-03T05:00:00Z`.",
    serialize=format_utc,
    parse_value=_parse,
)
SCALAR_MAP: dict[object, Any] = {datetime: DateTime}
