"""Settings: one object from the environment that refuses development secrets in production,
and reports every problem at once, one line each naming its variable."""

from __future__ import annotations

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pydantic import ValidationError

from app.auth.scopes import STUDENTS_READ
from app.auth.signing import mint_for_account
from app.auth.tokens import mint, verify
from app.config import DEV_JWT_SECRET, Settings
from app.graphql.limits import limits_from

PRODUCTION = {"environment": "production", "jwt_secret": "s" * 40}


def problems(**values: object) -> list[str]:
    """The lines Settings reports for these values (none: it accepted them)."""
    try:
        Settings(**values)
    except ValidationError as exc:
        return [str(error["msg"]) for error in exc.errors()]
    return []


class TestSettings:
    def test_production_refuses_the_development_secret(self):
        with pytest.raises(ValidationError, match="development JWT secret"):
            Settings(environment="production")

    def test_production_refuses_a_short_secret(self):
        assert problems(environment="production", jwt_secret="short") == [
            "JWT_SECRET: production needs at least 32 characters of your own (got 5)"
        ]

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
        monkeypatch.setenv("JWT_JWKS_URL", "https://idp.example.edu/jwks")
        assert Settings().jwt_algorithms == ["RS256", "ES256"]

    def test_unknown_algorithm_is_refused(self):
        with pytest.raises(ValidationError, match="JWT_ALGORITHMS"):
            Settings(jwt_algorithms=["none"])

    def test_defaults(self):
        settings = Settings(database_url="sqlite+aiosqlite:///x.db")
        assert settings.is_sqlite and settings.runs_in_process_worker
        assert settings.graphiql_enabled


class TestProblems:
    @pytest.mark.parametrize(
        ("values", "line"),
        [
            ({"page_size_max": -1}, "PAGE_SIZE_MAX: must be at least 1 (got -1)"),
            (
                {"jwt_algorithms": "RS256"},
                "JWT_ALGORITHMS=RS256 needs JWT_PUBLIC_KEY or JWT_JWKS_URL",
            ),
            (
                {"jwt_algorithms": "HS256 ES256 PS256"},
                "JWT_ALGORITHMS=ES256,PS256 needs JWT_PUBLIC_KEY or JWT_JWKS_URL",
            ),
            (
                {"environment": "production"},
                "JWT_SECRET: production refuses the development JWT secret "
                "(set at least 32 characters of your own)",
            ),
            (
                {"jwt_algorithms": "HS256 none"},
                "JWT_ALGORITHMS: must be one or more of ES256 ES384 HS256 HS384 HS512 PS256 "
                "RS256 RS384 RS512, not none",
            ),
            ({"worker_poll_seconds": 0}, "WORKER_POLL_SECONDS: must be more than 0 (got 0)"),
            (
                {"rate_limit_per_second": "nan"},
                "RATE_LIMIT_PER_SECOND: must be a finite number (got nan)",
            ),
            (
                {"database_statement_timeout_ms": 2**31},
                "DATABASE_STATEMENT_TIMEOUT_MS: must be at most 2147483647 (got 2147483648)",
            ),
            (
                {"worker_concurrency": "many"},
                "WORKER_CONCURRENCY: must be a whole number (got many)",
            ),
            ({"metrics_enabled": "maybe"}, "METRICS_ENABLED: must be true or false (got maybe)"),
            (
                {"environment": "prod"},
                "ENVIRONMENT: must be 'development', 'test' or 'production' (got prod)",
            ),
            ({"log_level": "loud"}, "LOG_LEVEL: must be one of DEBUG INFO WARNING ERROR CRITICAL"),
            (
                {"rest_page_size_default": 2000},
                "REST_PAGE_SIZE_DEFAULT: must be at most REST_PAGE_SIZE_MAX, 1000 (got 2000)",
            ),
            (
                {"rate_limit_cost_per_minute": 1000},
                "RATE_LIMIT_COST_PER_MINUTE: must be 0 or at least GRAPHQL_MAX_COST, 25000 "
                "(got 1000)",
            ),
            (
                {"rate_limit_cost_per_minute": 30000, "rest_page_size_max": 40000},
                "RATE_LIMIT_COST_PER_MINUTE: must be 0 or at least REST_PAGE_SIZE_MAX, 40000 "
                "(got 30000)",
            ),
            (
                {"redis_url": "http://cache:6379"},
                "REDIS_URL: must start with redis:// or rediss:// or unix:// (got http://)",
            ),
            ({**PRODUCTION, "graphiql": True}, "GRAPHIQL: production does not serve GraphiQL"),
        ],
    )
    def test_each_problem_names_its_variable(self, values, line):
        assert problems(**values) == [line]

    def test_every_problem_at_once_in_the_order_of_the_table(self, monkeypatch):
        for name, value in {
            "ENVIRONMENT": "production",
            "JWT_SECRET": "short",
            "JWT_ALGORITHMS": "HS256 RS256",
            "PAGE_SIZE_MAX": "-1",
            "CLOCK_NOW": "2019-07-01T12:00:00Z",
            "WORKER_LEASE_SECONDS": "0",
            "WORKER_TEST_FAILURES": "1",
            "MAX_BODY_BYTES": "0",
        }.items():
            monkeypatch.setenv(name, value)
        assert problems() == [
            "JWT_ALGORITHMS=RS256 needs JWT_PUBLIC_KEY or JWT_JWKS_URL",
            "JWT_SECRET: production needs at least 32 characters of your own (got 5)",
            "CLOCK_NOW: production refuses a frozen clock",
            "PAGE_SIZE_MAX: must be at least 1 (got -1)",
            "WORKER_LEASE_SECONDS: must be at least 1 (got 0)",
            "WORKER_TEST_FAILURES: production refuses WORKER_TEST_* fault injection",
            "MAX_BODY_BYTES: must be at least 1 (got 0)",
        ]

    def test_checks_across_fields_still_run_beside_a_field_in_error(self):
        assert problems(environment="production", page_size_max=0) == [
            "JWT_SECRET: production refuses the development JWT secret "
            "(set at least 32 characters of your own)",
            "PAGE_SIZE_MAX: must be at least 1 (got 0)",
        ]

    def test_a_check_reading_a_field_in_error_is_skipped(self):
        # The algorithms are in error: whether RS256 has a key is not asked.
        assert problems(jwt_algorithms="RS256 XS1") == [
            "JWT_ALGORITHMS: must be one or more of ES256 ES384 HS256 HS384 HS512 PS256 RS256 "
            "RS384 RS512, not XS1"
        ]

    def test_secrets_and_passwords_are_never_echoed(self):
        error = None
        try:
            Settings(
                environment="production", jwt_secret="hunter2", database_url="mysql://u:pw@h/d"
            )
        except ValidationError as exc:
            error = str(exc)
        assert error is not None and "DATABASE_URL" in error and "JWT_SECRET" in error
        assert "hunter2" not in error and "pw@" not in error

    def test_an_asymmetric_algorithm_with_a_key_source_is_accepted(self):
        for key in ({"jwt_public_key": "-----BEGIN..."}, {"jwt_jwks_url": "https://idp/jwks"}):
            assert problems(jwt_algorithms="RS256", **key) == []
        assert problems(jwt_algorithms="RS256", jwt_jwks_url="ftp://idp/jwks") == [
            "JWT_JWKS_URL: must start with https:// or http:// (got ftp://)"
        ]


class TestRanges:
    @pytest.mark.parametrize(
        ("field", "refused", "accepted"),
        [
            ("database_pool_size", 0, 1),
            ("jwt_jwks_timeout_seconds", 0, 0.5),
            ("jwt_leeway_seconds", -1, 0),
            ("token_lifetime_seconds", 0, 1),
            ("graphql_max_depth", 0, 1),
            ("graphql_max_aliases", -1, 0),
            ("graphql_max_tokens", 0, 1),
            ("graphql_max_cost", 0, 1),
            ("graphql_max_repeats", 0, 1),
            ("rate_limit_per_second", -0.5, 0),  # 0 turns the rate limit off
            ("rate_limit_per_second", "inf", 0.5),
            ("rate_limit_burst", 0, 1),
            ("rate_limit_cost_per_minute", -1, 0),  # 0 turns the budget off
            ("rate_limit_jwt_per_key_per_minute", -1, 0),
            ("rate_limit_jwt_per_address_per_minute", -1, 0),
            ("websocket_max_connections_per_caller", 0, 1),
            ("websocket_connection_lease_seconds", 2, 3),
            ("database_statement_timeout_ms", -1, 0),  # 0: no limit
            ("page_size_max", 0, 1),
            ("rest_page_size_default", 0, 1),
            ("rest_page_size_max", 0, 100),
            ("found_set_ttl_seconds", 0, 1),
            ("worker_lease_seconds", 0, 1),
            ("worker_max_attempts", 0, 1),
            ("worker_backoff_base_seconds", -0.1, 0),
            ("worker_poll_seconds", "nan", 0.01),
            ("worker_concurrency", 0, 1),
            ("worker_batch_size", 501, 500),
            ("worker_test_apply_delay_seconds", -1, 0),
            ("worker_test_failures", -1, 0),
            ("max_body_bytes", 0, 1),
        ],
    )
    def test_refused_and_accepted(self, field, refused, accepted):
        [line] = problems(**{field: refused})
        assert line.startswith(f"{field.upper()}: must be ")
        assert problems(**{field: accepted}) == []

    def test_the_log_level_is_any_case(self):
        assert Settings(log_level="debug").log_level == "DEBUG"


class TestExposure:
    def test_on_outside_production(self):
        for environment in ("development", "test"):
            settings = Settings(environment=environment)
            assert settings.serves_metrics and settings.serves_docs
            assert limits_from(settings).introspection

    def test_off_in_production_unless_asked_for(self):
        settings = Settings(**PRODUCTION)
        assert not settings.serves_metrics and not settings.serves_docs
        assert not limits_from(settings).introspection
        asked = Settings(
            **PRODUCTION, metrics_enabled=True, docs_enabled=True, graphql_introspection=True
        )
        assert asked.serves_metrics and asked.serves_docs and limits_from(asked).introspection

    def test_off_in_development_when_asked(self, monkeypatch):
        monkeypatch.setenv("METRICS_ENABLED", "false")
        monkeypatch.setenv("DOCS_ENABLED", "0")
        settings = Settings()
        assert not settings.serves_metrics and not settings.serves_docs


class TestPooler:
    BOUNCER = "postgresql+asyncpg://app@pgbouncer:6432/studentgraph"
    DIRECT = "postgresql+asyncpg://app@primary:5432/studentgraph"

    @pytest.mark.parametrize(
        ("values", "line"),
        [
            (
                {"database_pooler": "session"},
                "DATABASE_POOLER: must be 'none' or 'transaction' (got session)",
            ),
            (
                {"database_pooler": "transaction"},
                "DATABASE_POOLER: transaction pooling is PostgreSQL's (DATABASE_URL is SQLite)",
            ),
            (
                {"database_pooler": "transaction", "database_url": BOUNCER},
                "DATABASE_LISTEN_URL: DATABASE_POOLER=transaction needs it: set it to "
                "PostgreSQL's own address (the pooler drops notifications)",
            ),
            (
                {"database_listen_url": "sqlite+aiosqlite:///var/x.db"},
                "DATABASE_LISTEN_URL: must start with postgresql+asyncpg:// "
                "(got sqlite+aiosqlite://)",
            ),
        ],
    )
    def test_each_problem_names_its_variable(self, values, line):
        assert problems(**values) == [line]

    def test_listen_defaults_to_the_database(self):
        assert Settings(database_url=self.DIRECT).listen_url == self.DIRECT
        pooled = Settings(
            database_url=self.BOUNCER,
            database_pooler="transaction",
            database_listen_url=self.DIRECT,
        )
        assert pooled.listen_url == self.DIRECT


class TestFromCompose:
    """What docker-compose.yml hands over: `${VAR:-}` as an empty string, and the signing key
    as a file (a compose secret, mounted at /run/secrets/...)."""

    def test_an_empty_optional_setting_is_unset(self, monkeypatch):
        for name in ("JWT_ISSUER", "JWT_AUDIENCE", "JWT_JWKS_URL", "REDIS_URL", "JWT_KEY_ID"):
            monkeypatch.setenv(name, "")
        settings = Settings()
        assert settings.jwt_issuer is None and settings.jwt_audience is None
        assert settings.jwt_jwks_url is None and settings.redis_url is None
        assert settings.jwt_key_id is None

    async def test_an_empty_issuer_checks_no_issuer(self, monkeypatch):
        # Before: PyJWT was asked for iss == "" and refused every token.
        monkeypatch.setenv("JWT_ISSUER", "")
        monkeypatch.setenv("JWT_AUDIENCE", "")
        settings = Settings(environment="test")
        principal = await verify(mint(settings, sub="f003ghc", scopes=[STUDENTS_READ]), settings)
        assert principal.sub == "f003ghc" and principal.scopes == frozenset({STUDENTS_READ})

    def test_the_private_key_from_a_file(self, tmp_path, monkeypatch):
        key = ec.generate_private_key(ec.SECP256R1())
        text = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        (tmp_path / "signing.pem").write_text(text)
        monkeypatch.setenv("JWT_PRIVATE_KEY_FILE", str(tmp_path / "signing.pem"))
        monkeypatch.setenv("JWT_ALGORITHMS", "ES256")
        settings = Settings(environment="production")
        assert settings.jwt_private_key == text
        token = mint_for_account(settings, "registrar-tool", [])
        assert jwt.get_unverified_header(token)["alg"] == "ES256"

    def test_a_key_file_that_cannot_serve(self, tmp_path):
        missing = tmp_path / "missing.pem"
        (tmp_path / "huge.pem").write_bytes(b"x" * (64 * 1024 + 1))
        (tmp_path / "other.pem").write_text("not a key")
        assert problems(jwt_private_key_file=missing) == [
            f"JWT_PRIVATE_KEY_FILE: cannot read {missing}: No such file or directory"
        ]
        assert problems(jwt_private_key_file=tmp_path / "huge.pem") == [
            f"JWT_PRIVATE_KEY_FILE: {tmp_path / 'huge.pem'} is longer than 65536 bytes: "
            "not a PEM key"
        ]
        assert problems(jwt_private_key_file=tmp_path / "other.pem", jwt_private_key="x") == [
            "JWT_PRIVATE_KEY: set it or JWT_PRIVATE_KEY_FILE, not both"
        ]
        [line] = problems(jwt_private_key_file=tmp_path / "other.pem")
        assert line.startswith("JWT_PRIVATE_KEY") and "not a key" not in line


def test_every_setting_is_documented_in_the_readme():
    """An operator finds each variable in the README or a page under docs/ (named as the
    environment spells it)."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    pages = [root / "README.md", *sorted((root / "docs").rglob("*.md"))]
    readme = "\n".join(page.read_text() for page in pages)
    undocumented = [
        name.upper() for name in Settings.model_fields if f"`{name.upper()}`" not in readme
    ]
    assert undocumented == []
