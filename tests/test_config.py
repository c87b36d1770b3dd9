"""Settings: one object from the environment that refuses development secrets in production."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from app.config import DEV_JWT_SECRET, Settings


class TestSettings:
    def test_production_refuses_the_development_secret(self):
        with pytest.raises(ValidationError, match="development JWT secret"):
            Settings(environment="production")

    def test_production_refuses_a_short_secret(self):
        with pytest.raises(ValidationError):
            Settings(environment="production", jwt_secret="short")

    def test_production_refuses_a_frozen_clock(self):
        with pytest.raises(ValidationError, match="frozen clock"):
            Settings(
                environment="production", jwt_secret="s" * 40, clock_now="2019-07-01T00:00:00Z"
            )

    def test_production_with_public_keys_needs_no_secret(self):
        settings = Settings(
            environment="production", jwt_algorithms="RS256", jwt_public_key="-----BEGIN..."
        )
        assert settings.jwt_secret == DEV_JWT_SECRET  # unused: HS is not allowed
        assert not settings.graphiql_enabled

    def test_algorithms_from_a_string(self, monkeypatch):
        monkeypatch.setenv("JWT_ALGORITHMS", "RS256, ES256")
        assert Settings().jwt_algorithms == ["RS256", "ES256"]

    def test_unknown_algorithm_is_refused(self):
        with pytest.raises(ValidationError, match="JWT_ALGORITHMS"):
            Settings(jwt_algorithms=["none"])

    def test_defaults(self):
        settings = Settings(database_url="sqlite+aiosqlite:///x.db")
        assert settings.is_sqlite and settings.runs_in_process_worker
        assert settings.graphiql_enabled
