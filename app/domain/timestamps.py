"""Instants as both APIs write them: UTC, whole seconds, a literal `Z` (`2021-01-29T23:07:02Z`)."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_text(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
