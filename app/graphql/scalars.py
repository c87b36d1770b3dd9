"""Scalars. DateTime is ISO 8601 in UTC with a `Z`, as the REST API writes its timestamps."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry

from app.domain.timestamps import utc_text


def _parse(value: Any) -> datetime:
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError("a DateTime needs a zone (end it with Z)")
    return parsed


DateTime = strawberry.scalar(
    name="DateTime",
    description="An instant, ISO 8601 in UTC: `2018-01-03T05:00:00Z`.",
    specified_by_url="https://datatracker.ietf.org/doc/html/rfc3339",
    serialize=utc_text,
    parse_value=_parse,
)
SCALAR_MAP: dict[object, Any] = {datetime: DateTime}
