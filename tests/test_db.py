"""Engine settings that matter beyond speed."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError

from app.models import StudentDplan
from app.repositories.students import StudentRepository


class TestEngine:
    async def test_database_errors_do_not_carry_values(self, session):
        with pytest.raises(IntegrityError) as raised:
            await session.execute(
                insert(StudentDplan).values(
                    netid="secret9x",
                    term_code="201901",
                    dplan_id="R",
                    dplan_source_id="PHL",
                    updated_at=datetime.now(UTC),
                )
            )
        assert "secret9x" not in str(raised.value)

    async def test_foreign_keys_are_enforced(self, session):
        # SQLite enforces them only with PRAGMA foreign_keys, set on every connection.
        with pytest.raises(IntegrityError):
            await session.execute(
                insert(StudentDplan).values(
                    netid="nobody",
                    term_code="201901",
                    dplan_id="R",
                    dplan_source_id="PHL",
                    updated_at=datetime.now(UTC),
                )
            )
        await session.rollback()
        assert await StudentRepository(session).by_netid("nobody", include_protected=True) is None
