"""Settings: the only module that reads the environment.

Every process (API, worker, CLI) builds one `Settings` from the environment, so a token minted by
`python -m app token` is one that `python -m app serve` accepts.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    Field,
    FiniteFloat,
    ModelWrapValidatorHandler,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails, InitErrorDetails, PydanticCustomError
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from app.domain.signing_keys import load_public_keys, load_signing_key

ROOT = Path(__file__).resolve().parent.parent
DEV_JWT_SECRET = "studentgraph-development-secret-do-not-use-in-production"  # noqa: S105
DEFAULT_DATABASE_URL = f"sqlite+aiosqlite:///{ROOT / 'var' / 'studentgraph.db'}"
MIN_SECRET_LENGTH = 32  # production's JWT_SECRET
JWT_ALGORITHMS = ("ES256", "ES384", "HS256", "HS384", "HS512", "PS256", "RS256", "RS384", "RS512")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
URL_SCHEMES = {
    "database_url": ("sqlite+aiosqlite://", "postgresql+asyncpg://"),
    "database_listen_url": ("postgresql+asyncpg://",),
    "redis_url": ("redis://", "rediss://", "unix://"),
    "jwt_jwks_url": ("https://", "http://"),
    "otel_exporter_otlp_endpoint": ("https://", "http://"),
}
# Settings where an empty value means unset (docker-compose's `${VAR:-}` is an empty string).
OPTIONAL_TEXT = (
    "database_listen_url",
    "jwt_public_key",
    "jwt_jwks_url",
    "jwt_private_key_file",
    "jwt_private_key",
    "jwt_key_id",
    "jwt_accepted_public_keys",
    "jwt_issuer",
    "jwt_audience",
    "redis_url",
    "otel_exporter_otlp_endpoint",
)
MAX_KEY_FILE_BYTES = 64 * 1024  # a 16384-bit RSA key's PEM is about 12 KB
# What a field's own check says, after its variable's name (`PAGE_SIZE_MAX: must be at least 1`).
WHAT = {
    "greater_than_equal": "must be at least {ge}",
    "greater_than": "must be more than {gt}",
    "less_than_equal": "must be at most {le}",
    "less_than": "must be less than {lt}",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_parsing": "must be a number",
    "finite_number": "must be a finite number",
    "bool_parsing": "must be true or false",
    "literal_error": "must be {expected}",
}
# CORS_ORIGINS outside production: the usual local dev servers (3000: React/Next.js, 5173: Vite,
# 8080: Vue CLI/webpack), by both names.
DEV_CORS_ORIGINS = tuple(
    f"http://{host}:{port}" for port in (3000, 5173, 8080) for host in ("localhost", "127.0.0.1")
)


class Settings(BaseSettings):
    """Configuration, read once from the environment (and an optional `.env`)."""

    # Every problem is reported at once, one line each naming its variable (see
    # `_every_problem_at_once`); values are never echoed in the error's text (secrets).
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", hide_input_in_errors=True)

    environment: Literal["development", "test", "production"] = "development"
    database_url: str = DEFAULT_DATABASE_URL
    database_pool_size: int = Field(default=10, ge=1)
    # Connections opened past the pool when every pooled one is busy, closed again when returned.
    # 0: a request waits for a pooled connection instead (README: Settings).
    database_max_overflow: int = Field(default=0, ge=0)
    # How long a request waits for a pooled connection before it is answered 503.
    database_pool_timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    # What stands between DATABASE_URL and PostgreSQL (README: Behind PgBouncer). `transaction`:
    # PgBouncer (or a pooler built on it) in transaction pooling, where each transaction, and
    # each statement outside one, may run on a different server connection: only unnamed
    # statements, no startup parameters, no session state. `none`: PostgreSQL itself (or a
    # pooler in session pooling).
    database_pooler: Literal["none", "transaction"] = "none"
    # LISTEN's own connection (workers and subscriptions hear of tasks on it), which must reach
    # PostgreSQL itself: a transaction pooler drops notifications. Default: DATABASE_URL.
    database_listen_url: str | None = None

    jwt_algorithms: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["HS256"])
    jwt_secret: str = DEV_JWT_SECRET
    jwt_public_key: str | None = None
    jwt_jwks_url: str | None = None
    # One fetch of the JWKS; slower answers are refused.
    jwt_jwks_timeout_seconds: FiniteFloat = Field(default=3.0, gt=0)
    # Tokens studentgraph mints itself at POST /api/jwt (service accounts' API keys): signed with
    # this PEM private key (RSA: RS256, EC P-256: ES256; its public key is served as a JWKS at
    # /.well-known/jwks.json), or, without one and outside production, HS256 with JWT_SECRET.
    # Or read from a file (a compose or Kubernetes secret), so the key is in no environment.
    jwt_private_key_file: Path | None = None
    jwt_private_key: str | None = Field(default=None, validate_default=True)
    jwt_key_id: str | None = None  # default: the key's RFC 7638 thumbprint
    # A JWKS document (JSON) of other public keys, published and accepted beside
    # JWT_PRIVATE_KEY's: during a key rotation, the next key (before it signs) or the previous
    # one (while tokens it signed live). README: Runbook, rotating the signing key.
    jwt_accepted_public_keys: str | None = None
    api_jwt_lifetime_seconds: int = Field(default=3600, ge=60, le=7 * 24 * 3600)
    # How often each API process reads which service accounts are cut off (disabled, or their
    # tokens revoked): a cut-off is in force everywhere within two of these (app/auth/cutoffs.py).
    account_cutoff_refresh_seconds: FiniteFloat = Field(default=2.0, gt=0, le=60)
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    jwt_leeway_seconds: int = Field(default=30, ge=0)
    token_lifetime_seconds: int = Field(default=8 * 3600, ge=1)

    # Freezes the clock behind computed fields (current_term_offset, is_active). For demos and
    # contract checks against the seed samples, which were taken on a known day.
    clock_now: datetime | None = None

    graphiql: bool | None = None  # default: on in development only
    graphql_max_depth: int = Field(default=12, ge=1)
    graphql_max_aliases: int = Field(default=30, ge=0)
    graphql_max_tokens: int = Field(default=5000, ge=1)
    # A GraphQL document's size in bytes (UTF-8), sent or persisted; checked before it is parsed.
    graphql_max_document_bytes: int = Field(default=65536, ge=1)
    # Per caller (token `sub`): requests per second on average, and the burst allowed; 0 = off.
    rate_limit_per_second: FiniteFloat = Field(default=10.0, ge=0)
    rate_limit_burst: int = Field(default=100, ge=1)
    # Per caller: cost a minute (GraphQL's requested cost, REST's rows), all of it at once at
    # most; 0 = off. At least GRAPHQL_MAX_COST and REST_PAGE_SIZE_MAX (README: Limits).
    rate_limit_cost_per_minute: int = Field(default=30_000, ge=0)
    # POST /api/jwt attempts a minute per API key id presented, and per client address; 0 = off.
    rate_limit_jwt_per_key_per_minute: int = Field(default=10, ge=0)
    rate_limit_jwt_per_address_per_minute: int = Field(default=60, ge=0)
    websocket_max_connections_per_caller: int = Field(default=10, ge=1)
    # A WebSocket's place in the count across processes lasts this long unless renewed.
    websocket_connection_lease_seconds: int = Field(default=30, ge=3, le=3600)
    redis_url: str | None = None  # shares the limits' state between processes
    # Every statement on PostgreSQL is stopped past this (0 = no limit).
    database_statement_timeout_ms: int = Field(default=15000, ge=0, le=2**31 - 1)
    # Requested cost of one operation (README: Limits).
    # Below app.graphql.costs.COST_CEILING (2^53 - 1), the most a cost is ever counted as.
    graphql_max_cost: int = Field(default=25000, ge=1, le=2**53 - 2)
    # One response key selected in one selection set.
    graphql_max_repeats: int = Field(default=10, ge=1)
    graphql_introspection: bool | None = None  # default: on in development, off in production
    # Exposure: /metrics, and /docs, /redoc, /openapi.json. Default: on outside production.
    metrics_enabled: bool | None = None
    docs_enabled: bool | None = None
    # GraphQL operations are counted by name only when they validated, and only these names
    # when given (space/comma separated); otherwise the first ..._MAX names a process sees.
    metrics_graphql_operations: Annotated[list[str], NoDecode] = Field(default_factory=list)
    metrics_graphql_operations_max: int = Field(default=100, ge=0, le=10000)
    page_size_max: int = Field(default=100, ge=1)
    # Planned reads: a query the planner knows is answered by one statement whose JSON the
    # database builds; off, every operation runs through the resolvers and dataloaders.
    graphql_planner: bool = True
    # A subgraph of an Apollo Federation 2 supergraph (docs/guide/supergraph.md): Student,
    # AcademicPlan and SisTerm become entities, and Query gains `_service` and `_entities`.
    # Off, the schema is exactly schema.graphql; on, schema.subgraph.graphql.
    graphql_federation: bool = False
    # FERPA disclosure records (34 CFR 99.32): a request that shows students' records writes
    # one per combination of kinds of record it showed, naming those students. Off only to
    # measure what they cost (bench/); kept `retention_days` (0: forever).
    disclosure_records: bool = True
    disclosure_retention_days: int = Field(default=0, ge=0, le=36500)
    # k of the rule that makes a count a disclosure (app.domain.disclosures.NetidConditions):
    # a count of at most k students, or a netid prefix matching at most k, discloses them.
    disclosure_count_threshold: int = Field(default=5, ge=0, le=1000)
    # Finished tasks (complete, error) are deleted this many days after they finished (0: kept
    # forever). 30: a caller polls its task for seconds to minutes, and an Idempotency-Key
    # answers its first task for as long as that task is kept; the applied write itself stays
    # in the disclosure records (`apply PATCH students`, the task id as its request id).
    tasks_retention_days: int = Field(default=30, ge=0, le=36500)
    changes_capture: bool = Field(
        default=True,
        description="Write a change entry with every change to a student, term, plan or "
        "D-plan (GET /api/changes, recordsChanged, webhooks). Off only to measure its cost.",
    )
    changes_retention_days: int = Field(
        default=30,
        ge=0,
        le=36500,
        description="Change entries older than this are deleted by the workers (0: kept "
        "forever); a consumer further behind gets 410 CHANGES_EXPIRED and reads again.",
    )
    webhook_timeout_seconds: FiniteFloat = Field(
        default=10.0,
        gt=0,
        le=300,
        description="How long a webhook delivery waits for the endpoint's answer before it "
        "counts as a failure (and is sent again after a backoff).",
    )
    webhook_max_failures: int = Field(
        default=10,
        ge=1,
        le=1000,
        description="Deliveries failed in a row after which a webhook is paused (shown as "
        "paused, with the last error, by `studentgraph webhook list`) until resumed.",
    )
    webhook_batch_size: int = Field(
        default=500,
        ge=1,
        le=1000,
        description="At most this many entries in one webhook delivery.",
    )
    webhooks_allow_private_addresses: bool = Field(
        default=False,
        description="Allow webhook URLs naming loopback, link-local or cloud metadata "
        "addresses (refused by default: a webhook must not reach the service's own host).",
    )
    # Only persisted operations run (a safelist; README: Persisted queries). Off by default,
    # on by choice in production.
    graphql_persisted_only: bool = False
    # `Cache-Control: private, max-age=N` on persisted reads over GET (0: revalidate each time,
    # with the ETag).
    graphql_get_max_age_seconds: int = Field(default=0, ge=0, le=31_536_000)
    # At most this many automatically persisted documents (any caller may add one); past it a
    # document still runs but is not stored. `studentgraph persisted add` is not bounded.
    graphql_persisted_max: int = Field(default=10_000, ge=1)

    rest_page_size_default: int = Field(default=100, ge=1)
    rest_page_size_max: int = Field(default=1000, ge=1)
    found_set_ttl_seconds: int = Field(default=12 * 3600, ge=1)
    # A found set keeps its first keys packed within this many bytes; past them a later page
    # reads the rest again by the first request's filter (README: Paging and continuation).
    # 1536: with a short filter the row stays under PostgreSQL's TOAST threshold (about 2 KB).
    found_set_max_bytes: int = Field(default=1536, ge=64, le=1024 * 1024)

    worker_in_process: bool | None = None  # default: on with SQLite
    worker_lease_seconds: int = Field(default=30, ge=1)
    worker_max_attempts: int = Field(default=5, ge=1)
    worker_backoff_base_seconds: FiniteFloat = Field(default=0.5, ge=0)
    worker_poll_seconds: FiniteFloat = Field(default=2.0, gt=0)
    worker_concurrency: int = Field(default=4, ge=1)
    # Tasks a slot claims and applies together (one claim, one apply transaction of a constant
    # number of statements). A trickle still goes one at a time; a backlog goes in batches.
    worker_batch_size: int = Field(default=50, ge=1, le=500)
    # A worker process's own HTTP server: /healthz and /metrics. Unset: none (several workers
    # on one host need a port each).
    worker_metrics_port: int | None = Field(default=None, ge=1, le=65535)
    worker_metrics_host: str = "127.0.0.1"
    # Test-only fault injection for the worker guarantees' tests; production refuses both.
    # A delay inside the apply transaction (to kill a worker mid-apply), and a number of attempts
    # per task that fail on purpose (fewer than WORKER_MAX_ATTEMPTS: transient; more: permanent).
    worker_test_apply_delay_seconds: FiniteFloat = Field(default=0.0, ge=0)
    worker_test_failures: int = Field(default=0, ge=0)

    log_level: str = "INFO"
    # OpenTelemetry traces go to this OTLP/HTTP collector (its base URL, as the OpenTelemetry
    # SDKs read the same variable); unset, nothing of OpenTelemetry is imported (app/tracing.py).
    otel_exporter_otlp_endpoint: str | None = None
    # Largest request body accepted (413 beyond): a PATCH of 100 D-plans is about 20 KB.
    max_body_bytes: int = Field(default=1024 * 1024, ge=1)
    # Browser origins allowed to call /graphql and /api (CORS), space/comma separated; `*` is any.
    # Default: none in production, DEV_CORS_ORIGINS otherwise.
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda data: (
            [] if data.get("environment") == "production" else list(DEV_CORS_ORIGINS)
        )
    )

    @field_validator(*OPTIONAL_TEXT, mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        # docker-compose passes `VAR: ${VAR:-}` as an empty string when the operator set nothing:
        # an empty issuer would otherwise be checked (every token refused), an empty URL used.
        return None if value == "" else value

    @field_validator("jwt_private_key")
    @classmethod
    def _private_key_from_file(cls, value: str | None, info: ValidationInfo) -> str | None:
        path = info.data.get("jwt_private_key_file")
        if path is None:
            return value
        if value:
            raise ValueError("JWT_PRIVATE_KEY: set it or JWT_PRIVATE_KEY_FILE, not both")
        try:
            with Path(path).open("rb") as file:
                pem = file.read(MAX_KEY_FILE_BYTES + 1)
        except OSError as exc:
            raise ValueError(f"JWT_PRIVATE_KEY_FILE: cannot read {path}: {exc.strerror}") from exc
        if len(pem) > MAX_KEY_FILE_BYTES:
            too_long = f"is longer than {MAX_KEY_FILE_BYTES} bytes: not a PEM key"
            raise ValueError(f"JWT_PRIVATE_KEY_FILE: {path} {too_long}")
        return pem.decode("utf-8", errors="replace")

    @field_validator("jwt_algorithms", mode="before")
    @classmethod
    def _split_algorithms(cls, value: object) -> object:
        if isinstance(value, str):
            return [a.strip() for a in value.replace(",", " ").split() if a.strip()]
        return value

    @field_validator("jwt_algorithms")
    @classmethod
    def _known_algorithms(cls, value: list[str]) -> list[str]:
        bad = [a for a in value if a not in JWT_ALGORITHMS]
        if bad or not value:
            not_these = f", not {' '.join(a[:20] for a in bad[:5])}" if bad else ""
            raise ValueError(f"must be one or more of {' '.join(JWT_ALGORITHMS)}{not_these}")
        return value

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        if value.upper() not in LOG_LEVELS:
            raise ValueError(f"must be one of {' '.join(LOG_LEVELS)}")
        return value.upper()

    @field_validator(*URL_SCHEMES)
    @classmethod
    def _url_scheme(cls, value: str | None, info: ValidationInfo) -> str | None:
        # Never echoes the URL (it may hold a password), only its scheme.
        schemes = URL_SCHEMES[str(info.field_name)]
        if (value or info.field_name == "database_url") and not str(value).startswith(schemes):
            got = f" (got {str(value).split('://')[0][:30]}://)" if "://" in str(value) else ""
            raise ValueError(f"must start with {' or '.join(schemes)}{got}")
        return value

    @field_validator("metrics_graphql_operations", mode="before")
    @classmethod
    def _split_operation_names(cls, value: object) -> object:
        if isinstance(value, str):
            return value.replace(",", " ").split()
        return value

    @field_validator("metrics_graphql_operations")
    @classmethod
    def _operation_names(cls, value: list[str]) -> list[str]:
        bad = [n for n in value if not re.fullmatch(r"[_A-Za-z][_0-9A-Za-z]{0,63}", n)]
        if bad:
            raise ValueError(
                f"takes GraphQL operation names (at most 64 characters), not {bad[:3]}"
            )
        return value

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return value.replace(",", " ").split()
        return value

    @field_validator("cors_origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        # What a browser sends in `Origin`: a trailing slash or a path would never match.
        bad = [o for o in value if o != "*" and not re.fullmatch(r"https?://[^/\s]+", o)]
        if bad:
            raise ValueError(f"CORS_ORIGINS takes origins (scheme://host[:port]) or *, not {bad}")
        return value

    @model_validator(mode="wrap")
    @classmethod
    def _every_problem_at_once(
        cls, data: Any, handler: ModelWrapValidatorHandler[Settings]
    ) -> Settings:
        """One ValidationError with every problem, each message one line naming its variable:
        the fields' own (types, ranges), then the checks across fields (`_across_fields`), run
        on the fields that are valid (defaults stand in for the others; a check reading one of
        them is skipped)."""
        problems: list[InitErrorDetails] = []
        failed: set[str] = set()
        settings: Settings | None
        try:
            settings = handler(data)
        except ValidationError as exc:
            if not isinstance(data, dict):
                raise
            for error in exc.errors():
                if error["type"] == "default_factory_not_called":
                    continue  # another field's problem; its default is made on the second pass
                field = str(error["loc"][0]) if error["loc"] else ""
                failed.add(field)
                problems.append(_problem(field, _line(error), error["input"]))
            try:
                settings = handler({k: v for k, v in data.items() if k not in failed})
            except ValidationError:
                settings = None
        if settings is not None:
            for reads, line in settings._across_fields():
                if not failed.intersection(reads):
                    problems.append(_problem(reads[0], line))
        if not problems:
            assert settings is not None
            return settings
        order = {name: i for i, name in enumerate(cls.model_fields)}  # the README's, roughly
        problems.sort(key=lambda p: order.get(str((p.get("loc") or ("",))[0]), 0))
        raise ValidationError.from_exception_data(cls.__name__, problems)

    def _across_fields(self) -> Iterator[tuple[tuple[str, ...], str]]:
        """Each failed check across fields: the fields it reads (the one it names first), and
        its line."""
        production = self.environment == "production"
        secret = ("jwt_secret", "environment", "jwt_algorithms")
        if production and any(a.startswith("HS") for a in self.jwt_algorithms):
            own = f"at least {MIN_SECRET_LENGTH} characters of your own"
            if self.jwt_secret == DEV_JWT_SECRET:
                refused = "production refuses the development JWT secret"
                yield secret, f"JWT_SECRET: {refused} (set {own})"
            elif len(self.jwt_secret) < MIN_SECRET_LENGTH:
                yield secret, f"JWT_SECRET: production needs {own} (got {len(self.jwt_secret)})"
        # RS/ES/PS tokens are verified with a public key, from the JWKS, or (those minted here)
        # with JWT_PRIVATE_KEY's own: without any, every one would be refused.
        asymmetric = ",".join(a for a in self.jwt_algorithms if not a.startswith("HS"))
        minted_here = self.jwt_private_key or self.jwt_accepted_public_keys
        if asymmetric and not (self.jwt_public_key or self.jwt_jwks_url or minted_here):
            keys = ("jwt_algorithms", "jwt_public_key", "jwt_jwks_url", "jwt_private_key")
            yield keys, f"JWT_ALGORITHMS={asymmetric} needs JWT_PUBLIC_KEY or JWT_JWKS_URL"
        yield from self._signing_key_problems()
        default, most = self.rest_page_size_default, self.rest_page_size_max
        if default > most:
            sizes = ("rest_page_size_default", "rest_page_size_max")
            larger = f"must be at most REST_PAGE_SIZE_MAX, {most} (got {default})"
            yield sizes, f"REST_PAGE_SIZE_DEFAULT: {larger}"
        yield from self._budget_problems()
        yield from self._pooler_problems()
        if not production:
            return
        if self.clock_now is not None:
            yield ("clock_now", "environment"), "CLOCK_NOW: production refuses a frozen clock"
        if self.graphiql:
            yield ("graphiql", "environment"), "GRAPHIQL: production does not serve GraphiQL"
        for field in ("worker_test_apply_delay_seconds", "worker_test_failures"):
            if getattr(self, field):
                injection = f"{field.upper()}: production refuses WORKER_TEST_* fault injection"
                yield (field, "environment"), injection

    def _budget_problems(self) -> Iterator[tuple[tuple[str, ...], str]]:
        """A budget smaller than one allowed operation or page would refuse it forever."""
        budget = self.rate_limit_cost_per_minute
        for field in ("graphql_max_cost", "rest_page_size_max"):
            if 0 < budget < getattr(self, field):
                least = f"{field.upper()}, {getattr(self, field)}"
                line = f"must be 0 or at least {least} (got {budget})"
                yield (("rate_limit_cost_per_minute", field), f"RATE_LIMIT_COST_PER_MINUTE: {line}")

    def _pooler_problems(self) -> Iterator[tuple[tuple[str, ...], str]]:
        if self.database_pooler != "transaction":
            return
        if self.is_sqlite:
            fields = ("database_pooler", "database_url")
            yield (
                fields,
                "DATABASE_POOLER: transaction pooling is PostgreSQL's (DATABASE_URL is SQLite)",
            )
        elif self.database_listen_url is None:
            fields = ("database_listen_url", "database_pooler")
            direct = "set it to PostgreSQL's own address (the pooler drops notifications)"
            yield fields, f"DATABASE_LISTEN_URL: DATABASE_POOLER=transaction needs it: {direct}"

    def _signing_key_problems(self) -> Iterator[tuple[tuple[str, ...], str]]:
        """JWT_PRIVATE_KEY and JWT_ACCEPTED_PUBLIC_KEYS must parse, tokens they verify must be
        accepted here too, and no key id may name two keys."""
        kids: list[str] = []
        fields: tuple[str, ...] = ("jwt_private_key", "jwt_algorithms")
        if self.jwt_private_key:
            try:
                key = load_signing_key(self.jwt_private_key, self.jwt_key_id)
            except ValueError as exc:
                yield fields, str(exc)
            else:
                kids.append(key.kid)
                if key.algorithm not in self.jwt_algorithms:
                    yield fields, f"JWT_PRIVATE_KEY signs {key.algorithm}: add it to JWT_ALGORITHMS"
        if not self.jwt_accepted_public_keys:
            return
        fields = ("jwt_accepted_public_keys", "jwt_algorithms", "jwt_private_key")
        try:
            accepted = load_public_keys(self.jwt_accepted_public_keys)
        except ValueError as exc:
            yield fields, str(exc)
            return
        for public in accepted:
            if public.algorithm not in self.jwt_algorithms:
                line = f"key {public.kid[:50]} is {public.algorithm}: add it to JWT_ALGORITHMS"
                yield fields, f"JWT_ACCEPTED_PUBLIC_KEYS: {line}"
            if public.kid in kids:
                yield fields, f"JWT_ACCEPTED_PUBLIC_KEYS: key id {public.kid[:50]} is used twice"
            kids.append(public.kid)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def listen_url(self) -> str:
        """Where LISTEN connects (DATABASE_LISTEN_URL, or DATABASE_URL)."""
        return self.database_listen_url or self.database_url

    @property
    def graphiql_enabled(self) -> bool:
        return self.environment == "development" if self.graphiql is None else self.graphiql

    @property
    def runs_in_process_worker(self) -> bool:
        return self.is_sqlite if self.worker_in_process is None else self.worker_in_process

    @property
    def serves_metrics(self) -> bool:
        production = self.environment == "production"
        return not production if self.metrics_enabled is None else self.metrics_enabled

    @property
    def serves_docs(self) -> bool:
        production = self.environment == "production"
        return not production if self.docs_enabled is None else self.docs_enabled


def _line(error: ErrorDetails) -> str:
    """A field's own problem as one line: `NAME: what is wrong (got VALUE)`."""
    name = str(error["loc"][0]).upper() if error["loc"] else "SETTINGS"
    ctx = {  # a bound of 0.0 (a float field's) reads as 0
        k: int(v) if isinstance(v, float) and v.is_integer() else v
        for k, v in (error.get("ctx") or {}).items()
    }
    if error["type"] == "value_error":  # our validators' messages say what they got, if safe
        message = str(ctx.get("error", error["msg"]))
        return message if message.startswith(name) else f"{name}: {message}"
    template = WHAT.get(error["type"])
    what = template.format(**ctx) if template else error["msg"][:1].lower() + error["msg"][1:]
    value = error["input"]
    shown = value if isinstance(value, str) and value.strip() == value != "" else repr(value)
    return f"{name}: {what} (got {shown if len(shown) <= 40 else shown[:37] + '...'})"


def _problem(field: str, line: str, value: Any = None) -> InitErrorDetails:
    kind = PydanticCustomError("invalid_setting", "{line}", {"line": line})
    return {"type": kind, "loc": (field,) if field else (), "input": value}


@lru_cache
def get_settings() -> Settings:
    return Settings()
