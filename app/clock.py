"""The clock behind computed fields. Tests and demos freeze it; production reads the system."""

from __future__ import annotations

from datetime import UTC, datetime


class Clock:
    """Current time, UTC-aware. `frozen` pins it (tests walk it across term boundaries)."""

    def __init__(self, frozen: datetime | None = None) -> None:
        self.frozen = (
            frozen.astimezone(UTC)
            if frozen and frozen.tzinfo
            else (frozen.replace(tzinfo=UTC) if frozen else None)
        )

    def now(self) -> datetime:
        return self.frozen or datetime.now(UTC)

    def set(self, when: datetime) -> None:
        self.frozen = when if when.tzinfo else when.replace(tzinfo=UTC)
