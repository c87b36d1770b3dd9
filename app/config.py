"""Settings: the only module that reads the environment.

Every process (API, worker, CLI) builds one `Settings` from the environment, so a token minted by
`python -m app token` is one that `python -m app serve` accepts.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

ROOT = Path(__file__).resolve().parent.parent
DEV_JWT_SECRET = "studentgraph-development-secret-do-not-use-in-production"  # noqa: S105
DEFAULT_DATABASE_URL = f"sqlite+aiosqlite:///{ROOT / 'var' / 'studentgraph.db'}"


class Settings(BaseSettings):
    """Configuration, read once from the environment (and an optional `.env`)."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    database_url: str = DEFAULT_DATABASE_URL
    database_pool_size: int = 10

    jwt_algorithms: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["HS256"])
    jwt_secret: str = DEV_JWT_SECRET
    jwt_public_key: str | None = None
    jwt_jwks_url: str | None = None
    jwt_jwks_timeout_seconds: float = 3.0  # one fetch of the JWKS; slower answers are refused
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    jwt_leeway_seconds: int = 30
    token_lifetime_seconds: int = 8 * 3600

    # Freezes the clock behind computed fields (current_term_offset, is_active). For demos and
    # contract checks against the seed samples, which were taken on a known day.
    clock_now: datetime | None = None

    graphiql: bool | None = None  # default: on in development only
    graphql_max_depth: int = 12
    graphql_max_aliases: int = 30
    graphql_max_tokens: int = 5000
    # Per caller (token `sub`): requests per second on average, and the burst allowed; 0 = off.
    rate_limit_per_second: float = 50.0
    rate_limit_burst: int = 200
    redis_url: str | None = None  # shares rate-limit buckets between processes
    # Every statement on PostgreSQL is stopped past this (0 = no limit).
    database_statement_timeout_ms: int = 15000
    graphql_max_cost: int = 25000  # requested cost of one operation (README: Limits)
    graphql_max_repeats: int = 10  # one response key selected in one selection set
    graphql_introspection: bool | None = None  # default: on in development, off in production
    page_size_max: int = 100
    # Planned reads: a query the planner knows is answered by one statement whose JSON the
    # database builds; off, every operation runs through the resolvers and dataloaders.
    graphql_planner: bool = True

    rest_page_size_default: int = 100
    rest_page_size_max: int = 1000
    found_set_ttl_seconds: int = 12 * 3600

    worker_in_process: bool | None = None  # default: on with SQLite
    worker_lease_seconds: int = 30
    worker_max_attempts: int = 5
    worker_backoff_base_seconds: float = 0.5
    worker_poll_seconds: float = 2.0
    worker_concurrency: int = 4
    # Tasks a slot claims and applies together (one claim, one apply transaction of a constant
    # number of statements). A trickle still goes one at a time; a backlog goes in batches.
    worker_batch_size: int = Field(default=50, ge=1, le=500)
    # Test-only fault injection for the worker guarantees' tests; production refuses both.
    # A delay inside the apply transaction (to kill a worker mid-apply), and a number of attempts
    # per task that fail on purpose (fewer than WORKER_MAX_ATTEMPTS: transient; more: permanent).
    worker_test_apply_delay_seconds: float = 0.0
    worker_test_failures: int = 0

    log_level: str = "INFO"
    # Largest request body accepted (413 beyond): a PATCH of 100 D-plans is about 20 KB.
    max_body_bytes: int = 1024 * 1024

    @field_validator("jwt_algorithms", mode="before")
    @classmethod
    def _split_algorithms(cls, value: object) -> object:
        if isinstance(value, str):
            return [a.strip() for a in value.replace(",", " ").split() if a.strip()]
        return value

    @field_validator("jwt_algorithms")
    @classmethod
    def _known_algorithms(cls, value: list[str]) -> list[str]:
        allowed = {"HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "ES256", "ES384", "PS256"}
        bad = [a for a in value if a not in allowed]
        if bad or not value:
            raise ValueError(f"JWT_ALGORITHMS must be a non-empty subset of {sorted(allowed)}")
        return value

    @model_validator(mode="after")
    def _refuse_development_secrets_in_production(self) -> Settings:
        if self.environment != "production":
            return self
        if any(a.startswith("HS") for a in self.jwt_algorithms) and (
            self.jwt_secret == DEV_JWT_SECRET or len(self.jwt_secret) < 32
        ):
            raise ValueError("production refuses the development JWT secret (set JWT_SECRET)")
        if self.clock_now is not None:
            raise ValueError("production refuses a frozen clock (unset CLOCK_NOW)")
        if self.graphiql:
            raise ValueError("production does not serve GraphiQL (unset GRAPHIQL)")
        if self.worker_test_apply_delay_seconds or self.worker_test_failures:
            raise ValueError("production refuses WORKER_TEST_* fault injection")
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def graphiql_enabled(self) -> bool:
        return self.environment == "development" if self.graphiql is None else self.graphiql

    @property
    def runs_in_process_worker(self) -> bool:
        return self.is_sqlite if self.worker_in_process is None else self.worker_in_process


@lru_cache
def get_settings() -> Settings:
    return Settings()
