"""Service accounts (the callers that log in with an API key) and their keys."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, UtcDateTime


class ServiceAccount(Base):
    __tablename__ = "service_accounts"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    # The scopes it may be granted, in the order they were first granted.
    scopes: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # Set: its keys are refused and its tokens too (README: Service accounts).
    disabled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # Its tokens issued (`iat`) at or before this are refused (app/auth/cutoffs.py).
    tokens_not_before: Mapped[datetime | None] = mapped_column(UtcDateTime)


class ApiKey(Base):
    """A key is `sgk_<id>_<secret>`; only a hash of the whole key is kept."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    account_name: Mapped[str] = mapped_column(
        ForeignKey("service_accounts.name", ondelete="CASCADE"), index=True
    )
    key_hash: Mapped[str] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
