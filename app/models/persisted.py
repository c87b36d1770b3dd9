"""Persisted GraphQL documents (automatic persisted queries and the safelist), by id."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, UtcDateTime


class PersistedQuery(Base):
    """A document's text by its id: the SHA-256 of the text (Apollo's APQ), or the id an
    Apollo persisted-query manifest gave it."""

    __tablename__ = "persisted_queries"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    query: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # Registered by the operator (`studentgraph persisted add`): the safelist that
    # GRAPHQL_PERSISTED_ONLY runs. A document a caller persisted (APQ) never is, whenever stored.
    safelisted: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
