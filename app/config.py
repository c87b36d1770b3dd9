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

    environment: Literal["development", "test", "production"] = Field(
        "development",
        description=(
            "`production` refuses the development JWT secret, a frozen clock, GraphiQL and "
            "`WORKER_TEST_*`, and serves neither `/metrics` nor `/docs` unless asked."
        ),
    )
    database_url: str = Field(
        DEFAULT_DATABASE_URL,
        description=(
            "The database: `sqlite+aiosqlite:///PATH` or "
            "`postgresql+asyncpg://user@host/db` (no other driver)."
        ),
    )
    database_pool_size: int = Field(
        default=10,
        ge=1,
        description=(
            "Connections per process on PostgreSQL; a `studentgraph worker` takes at least "
            "its slots + 2."
        ),
    )
    # Connections opened past the pool when every pooled one is busy, closed again when returned.
    # 0: a request waits for a pooled connection instead (README: Settings).
    database_max_overflow: int = Field(
        default=0,
        ge=0,
        description=(
            "Connections opened past the pool when all are busy, each closed again when "
            "returned; 0: a request waits for a pooled one (an overflow connection per "
            "request halved the read throughput at 32 concurrent clients)."
        ),
    )
    # How long a request waits for a pooled connection before it is answered 503.
    database_pool_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        le=300,
        description=(
            "How long a request waits for a pooled connection; past it the answer is 503 "
            "`SERVICE_UNAVAILABLE` with `Retry-After` (overloaded), not a 500."
        ),
    )
    # What stands between DATABASE_URL and PostgreSQL (README: Behind PgBouncer). `transaction`:
    # PgBouncer (or a pooler built on it) in transaction pooling, where each transaction, and
    # each statement outside one, may run on a different server connection: only unnamed
    # statements, no startup parameters, no session state. `none`: PostgreSQL itself (or a
    # pooler in session pooling).
    database_pooler: Literal["none", "transaction"] = Field(
        "none",
        description=(
            "`transaction` when `DATABASE_URL` is PgBouncer (or a pooler built on it) in "
            "transaction pooling: unnamed statements only, no startup parameters, the "
            "statement timeout set by `migrate` as the role's default; `none`: PostgreSQL "
            "itself, or session pooling."
        ),
    )
    # LISTEN's own connection (workers and subscriptions hear of tasks on it), which must reach
    # PostgreSQL itself: a transaction pooler drops notifications. Default: DATABASE_URL.
    database_listen_url: str | None = Field(
        None,
        description=(
            "Where the LISTEN connection (workers' and subscriptions' notifications) goes: "
            "PostgreSQL itself, never a transaction pooler (which drops notifications); "
            "unset: `DATABASE_URL`. Required with `DATABASE_POOLER=transaction` "
            "(`postgresql+asyncpg://`)."
        ),
    )
    database_replica_urls: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description=(
            "Streaming replicas of DATABASE_URL's PostgreSQL (postgresql+asyncpg:// URLs, comma "
            "or space separated) that serve planned reads (GraphQL queries, REST GETs); "
            "everything that writes, tasks and LISTEN stay on the primary."
        ),
    )
    database_replica_max_lag_seconds: FiniteFloat = Field(
        default=5.0,
        gt=0,
        le=3600,
        description=(
            "A replica further behind the primary than this (probed every second) serves no "
            "reads until it catches up; reads go to another replica or the primary."
        ),
    )
    disclosure_durability: Literal["flush", "commit"] = Field(
        default="flush",
        description=(
            "flush: a disclosure record is flushed to PostgreSQL's WAL before the answer leaves. "
            "commit: it is committed before the answer but flushed by the WAL writer, so a "
            "PostgreSQL crash can lose at most 3 x wal_writer_delay of records."
        ),
    )

    jwt_algorithms: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["HS256"],
        description=(
            "The algorithms accepted on tokens, space/comma separated; `none` is never "
            "accepted; RS/ES/PS ones need `JWT_PUBLIC_KEY` or `JWT_JWKS_URL` (or a signing "
            "key of our own)."
        ),
    )
    jwt_secret: str = Field(
        DEV_JWT_SECRET,
        description="The HS* secret; production needs at least 32 characters of your own.",
    )
    jwt_public_key: str | None = Field(
        None, description="A PEM public key verifying an identity provider's RS256/ES256 tokens."
    )
    jwt_jwks_url: str | None = Field(
        None,
        description=(
            "A JWKS endpoint (`https://`) publishing an identity provider's keys for "
            "RS256/ES256 tokens."
        ),
    )
    # One fetch of the JWKS; slower answers are refused.
    jwt_jwks_timeout_seconds: FiniteFloat = Field(
        default=3.0, gt=0, description="One fetch of the JWKS; slower answers are refused."
    )
    # Tokens studentgraph mints itself at POST /api/jwt (service accounts' API keys): signed with
    # this PEM private key (RSA: RS256, EC P-256: ES256; its public key is served as a JWKS at
    # /.well-known/jwks.json), or, without one and outside production, HS256 with JWT_SECRET.
    # Or read from a file (a compose or Kubernetes secret), so the key is in no environment.
    jwt_private_key_file: Path | None = Field(
        None,
        description=(
            "A file holding the PEM signing key instead of `JWT_PRIVATE_KEY` (a compose or "
            "Kubernetes secret, e.g. `/run/secrets/jwt_private_key`), read once at start "
            "(at most 64 KiB); not both."
        ),
    )
    jwt_private_key: str | None = Field(
        default=None,
        validate_default=True,
        description=(
            "A PEM private key (RSA: RS256, EC P-256: ES256) signing the tokens `POST "
            "/api/jwt` mints, published at `/.well-known/jwks.json`. Without one, outside "
            "production, those tokens are HS256 with `JWT_SECRET`; in production `POST "
            "/api/jwt` answers 503 `NOT_CONFIGURED`."
        ),
    )
    jwt_key_id: str | None = Field(
        None,
        description="The `kid` of the signing key's tokens; unset: the key's RFC 7638 thumbprint.",
    )  # default: the key's RFC 7638 thumbprint
    # A JWKS document (JSON) of other public keys, published and accepted beside
    # JWT_PRIVATE_KEY's: during a key rotation, the next key (before it signs) or the previous
    # one (while tokens it signed live). README: Runbook, rotating the signing key.
    jwt_accepted_public_keys: str | None = Field(
        None,
        description=(
            "A JWKS document (JSON) of other public keys (RS256/ES256, each with `kid` and "
            "`alg`) published at `/.well-known/jwks.json` after the signing key's and "
            "accepted for tokens whose `kid` names them: a key rotation's next or previous "
            "key."
        ),
    )
    api_jwt_lifetime_seconds: int = Field(
        default=3600,
        ge=60,
        le=7 * 24 * 3600,
        description="Lifetime of the tokens `POST /api/jwt` mints (60 s to 7 days).",
    )
    # How often each API process reads which service accounts are cut off (disabled, or their
    # tokens revoked): a cut-off is in force everywhere within two of these (app/auth/cutoffs.py).
    account_cutoff_refresh_seconds: FiniteFloat = Field(
        default=2.0,
        gt=0,
        le=60,
        description=(
            "How often each API process reads which service accounts are cut off (`account "
            "disable`, `revoke-tokens`); a cut-off is in force at every process within two "
            "of these."
        ),
    )
    jwt_issuer: str | None = Field(
        None, description="The `iss` every token must carry; checked when set."
    )
    jwt_audience: str | None = Field(
        None, description="The `aud` every token must carry; checked when set."
    )
    jwt_leeway_seconds: int = Field(
        default=30, ge=0, description="Clock skew allowed on `exp` and `nbf`."
    )
    token_lifetime_seconds: int = Field(
        default=8 * 3600,
        ge=1,
        description="The default lifetime of `studentgraph token`'s development tokens.",
    )

    # Freezes the clock behind computed fields (current_term_offset, is_active). For demos and
    # contract checks against the seed samples, which were taken on a known day.
    clock_now: datetime | None = Field(
        None,
        description=(
            "Freezes the clock behind `currentTermOffset` and `isActive` (e.g. "
            "`2019-07-01T12:00:00Z` reproduces the seed samples); refused in production."
        ),
    )

    graphiql: bool | None = Field(
        None,
        description=(
            "Serve GraphiQL at `GET /graphql` to a browser; unset: on in development only. "
            "Production refuses it."
        ),
    )  # default: on in development only
    graphql_max_depth: int = Field(
        default=12, ge=1, description="The deepest selection an operation may have."
    )
    graphql_max_aliases: int = Field(default=30, ge=0, description="Aliases an operation may use.")
    graphql_max_tokens: int = Field(
        default=5000, ge=1, description="Tokens a document may hold, counted before it is parsed."
    )
    # A GraphQL document's size in bytes (UTF-8), sent or persisted; checked before it is parsed.
    graphql_max_document_bytes: int = Field(
        default=65536,
        ge=1,
        description=(
            "A GraphQL document's size in bytes (UTF-8, comments and whitespace included), "
            "checked at every door before it is parsed (POST, GET, a WebSocket `subscribe`, "
            "a persisted document when sent and when read back, `studentgraph persisted "
            "add`); past it, 413 `MAX_DOCUMENT_BYTES_EXCEEDED`."
        ),
    )
    # Per caller (token `sub`): requests per second on average, and the burst allowed; 0 = off.
    rate_limit_per_second: FiniteFloat = Field(
        default=10.0,
        ge=0,
        description=(
            "Requests per caller (token `sub`): the average a second; 0 turns the request rate off."
        ),
    )
    rate_limit_burst: int = Field(
        default=100, ge=1, description="Requests per caller: the burst allowed above the average."
    )
    # Per caller: cost a minute (GraphQL's requested cost, REST's rows), all of it at once at
    # most; 0 = off. At least GRAPHQL_MAX_COST and REST_PAGE_SIZE_MAX (README: Limits).
    rate_limit_cost_per_minute: int = Field(
        default=30_000,
        ge=0,
        description=(
            "The budget per caller: cost units a minute (a GraphQL operation's requested "
            "cost, a REST request's page size), all of it usable at once; 0 turns it off, "
            "otherwise at least `GRAPHQL_MAX_COST` and `REST_PAGE_SIZE_MAX`."
        ),
    )
    # POST /api/jwt attempts a minute per API key id presented, and per client address; 0 = off.
    rate_limit_jwt_per_key_per_minute: int = Field(
        default=10,
        ge=0,
        description="`POST /api/jwt` attempts a minute per API key id presented; 0 turns it off.",
    )
    rate_limit_jwt_per_address_per_minute: int = Field(
        default=60,
        ge=0,
        description=(
            "`POST /api/jwt` attempts a minute per client address (uvicorn's, from "
            "`X-Forwarded-For` only when the proxy is in uvicorn's `FORWARDED_ALLOW_IPS`); "
            "0 turns it off."
        ),
    )
    websocket_max_connections_per_caller: int = Field(
        default=10,
        ge=1,
        description=(
            "WebSocket connections one caller holds open at once, across processes with "
            "`REDIS_URL`; past it the new one is closed 4429."
        ),
    )
    # A WebSocket's place in the count across processes lasts this long unless renewed.
    websocket_connection_lease_seconds: int = Field(
        default=30,
        ge=3,
        le=3600,
        description=(
            "With `REDIS_URL`: how long a connection counts unless its process renews it "
            "(every third of this); a killed process's connections stop counting after it."
        ),
    )
    redis_url: str | None = Field(
        None,
        description=(
            "Shares the limits between processes: the rate and budget buckets and the "
            "WebSocket counts (`redis://`, `rediss://` or `unix://`; Redis 5 or later). "
            "Unset: each process keeps its own."
        ),
    )  # shares the limits' state between processes
    # Every statement on PostgreSQL is stopped past this (0 = no limit).
    database_statement_timeout_ms: int = Field(
        default=15000,
        ge=0,
        le=2**31 - 1,
        description=(
            "PostgreSQL stops any statement running longer (503 `TIMEOUT`); 0: none. Sent "
            "at connection start, or with `DATABASE_POOLER=transaction` set by `migrate` as "
            "the role's default."
        ),
    )
    # Requested cost of one operation (README: Limits).
    # Below app.graphql.costs.COST_CEILING (2^53 - 1), the most a cost is ever counted as.
    graphql_max_cost: int = Field(
        default=25000,
        ge=1,
        le=2**53 - 2,
        description=(
            "The requested cost one operation may have (every answer reports its cost in "
            "`extensions.cost`)."
        ),
    )
    # One response key selected in one selection set.
    graphql_max_repeats: int = Field(
        default=10,
        ge=1,
        description="How often one response key may be selected in one selection set.",
    )
    graphql_introspection: bool | None = Field(
        None, description="Answer `__schema` and `__type`; unset: on outside production, off in it."
    )  # default: on in development, off in production
    # Exposure: /metrics, and /docs, /redoc, /openapi.json. Default: on outside production.
    metrics_enabled: bool | None = Field(
        None,
        description=(
            "Serve `/metrics` (Prometheus); off, it is a 404 like any unknown path. Unset: "
            "on outside production, off in it. It has no authentication: in production, "
            "turn it on where only the scraper reaches the port."
        ),
    )
    docs_enabled: bool | None = Field(
        None,
        description=(
            "Serve `/docs`, `/redoc` and `/openapi.json`; off, each is a 404. Unset: on "
            "outside production, off in it."
        ),
    )
    documentation_url: str | None = Field(
        default=None,
        pattern=r"^(https?://|/)\S*$",
        description="Where this deployment's documentation site is (an http(s) URL, or a path "
        "on this host): the landing page at / links it. Unset, the page says the documentation "
        "is the source tree's docs/ folder (`make docs` serves it).",
    )
    # GraphQL operations are counted by name only when they validated, and only these names
    # when given (space/comma separated); otherwise the first ..._MAX names a process sees.
    metrics_graphql_operations: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description=(
            "The GraphQL operation names `/metrics` may name (space/comma separated), "
            "counted only when they validated; none given: the first "
            "`METRICS_GRAPHQL_OPERATIONS_MAX` distinct names a process sees."
        ),
    )
    metrics_graphql_operations_max: int = Field(
        default=100,
        ge=0,
        le=10000,
        description=(
            "How many distinct operation names a process names in `/metrics` when "
            "`METRICS_GRAPHQL_OPERATIONS` lists none."
        ),
    )
    page_size_max: int = Field(
        default=100, ge=1, description="The largest `first` or `last` of a GraphQL connection."
    )
    # Planned reads: a query the planner knows is answered by one statement whose JSON the
    # database builds; off, every operation runs through the resolvers and dataloaders.
    graphql_planner: bool = Field(
        True,
        description=(
            "Planned reads: a query the planner knows is answered by one statement whose "
            "JSON the database builds; off, every operation goes through the resolvers and "
            "dataloaders."
        ),
    )
    # A subgraph of an Apollo Federation 2 supergraph (docs/operations/supergraph.md): Student,
    # AcademicPlan and SisTerm become entities, and Query gains `_service` and `_entities`.
    # Off, the schema is exactly schema.graphql; on, schema.subgraph.graphql.
    graphql_federation: bool = Field(
        False,
        description=(
            "Serve a subgraph of an Apollo Federation 2 supergraph: `Student` (key "
            "`netid`), `AcademicPlan` (`planId`) and `SisTerm` (`id`) become entities and "
            "`Query` gains `_service` and `_entities` (the SDL: `schema.subgraph.graphql`); "
            "off, the schema is exactly `schema.graphql`."
        ),
    )
    # FERPA disclosure records (34 CFR 99.32): a request that shows students' records writes
    # one per combination of kinds of record it showed, naming those students. Off only to
    # measure what they cost (bench/); kept `retention_days` (0: forever).
    disclosure_records: bool = Field(
        True,
        description=(
            "FERPA disclosure records (34 CFR 99.32): each request that shows students' "
            "records writes who received which. Off only to measure what they cost."
        ),
    )
    disclosure_retention_days: int = Field(
        default=0,
        ge=0,
        le=36500,
        description=(
            "Disclosure records older than this are deleted by `studentgraph "
            "prune-disclosures`; 0 keeps them forever."
        ),
    )
    # k of the rule that makes a count a disclosure (app.domain.disclosures.NetidConditions):
    # a count of at most k students, or a netid prefix matching at most k, discloses them.
    disclosure_count_threshold: int = Field(
        default=5,
        ge=0,
        le=1000,
        description=(
            "k of the rule that makes a count a disclosure: a count of at most k students, "
            "or a netid prefix matching at most k, discloses them."
        ),
    )
    # Finished tasks (complete, error) are deleted this many days after they finished (0: kept
    # forever). 30: a caller polls its task for seconds to minutes, and an Idempotency-Key
    # answers its first task for as long as that task is kept; the applied write itself stays
    # in the disclosure records (`apply PATCH students`, the task id as its request id).
    tasks_retention_days: int = Field(
        default=30,
        ge=0,
        le=36500,
        description=(
            "Finished tasks (`complete`, `error`) are deleted this many days after they "
            "finished, by the workers; 0 keeps them forever."
        ),
    )
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
    graphql_persisted_only: bool = Field(
        False,
        description=(
            "Only persisted operations run (a safelist registered with `studentgraph "
            "persisted add`); turn it on in production once your clients' documents are "
            "registered."
        ),
    )
    # `Cache-Control: private, max-age=N` on persisted reads over GET (0: revalidate each time,
    # with the ETag).
    graphql_get_max_age_seconds: int = Field(
        default=0,
        ge=0,
        le=31_536_000,
        description=(
            "`Cache-Control: private, max-age=N` on persisted reads over GET; 0: the client "
            "revalidates with the `ETag` every time."
        ),
    )
    # At most this many automatically persisted documents (any caller may add one); past it a
    # document still runs but is not stored. `studentgraph persisted add` is not bounded.
    graphql_persisted_max: int = Field(
        default=10_000,
        ge=1,
        description=(
            "Automatically persisted documents kept at most (any caller may add one); past "
            "it a document sent with its text still runs but is not stored. The operator's "
            "safelist is not counted."
        ),
    )

    rest_page_size_default: int = Field(
        default=100,
        ge=1,
        description="A REST page's size when the request names none; at most `REST_PAGE_SIZE_MAX`.",
    )
    rest_page_size_max: int = Field(default=1000, ge=1, description="The largest REST page.")
    found_set_ttl_seconds: int = Field(
        default=12 * 3600,
        ge=1,
        description="How long a REST found set (the continuation of a paged request) is kept.",
    )
    # A found set keeps its first keys packed within this many bytes; past them a later page
    # reads the rest again by the first request's filter (README: Paging and continuation).
    # 1536: with a short filter the row stays under PostgreSQL's TOAST threshold (about 2 KB).
    found_set_max_bytes: int = Field(
        default=1536,
        ge=64,
        le=1024 * 1024,
        description=(
            "A found set's first keys are kept packed within this many bytes; past them a "
            "later page reads the rest again by the first request's filter."
        ),
    )

    worker_in_process: bool | None = Field(
        None,
        description=(
            "Run the task worker inside `serve`; unset: on with SQLite, off with PostgreSQL."
        ),
    )  # default: on with SQLite
    worker_lease_seconds: int = Field(
        default=30,
        ge=1,
        description="How long a claim lasts before another worker may take the task again.",
    )
    worker_max_attempts: int = Field(
        default=5, ge=1, description="Attempts before a task ends `error`."
    )
    worker_backoff_base_seconds: FiniteFloat = Field(
        default=0.5, ge=0, description="Retry n waits base x 2^(n-1) (±20%, at most 300 s)."
    )
    worker_poll_seconds: FiniteFloat = Field(
        default=2.0, gt=0, description="The fallback poll when no notification arrives."
    )
    worker_concurrency: int = Field(
        default=4, ge=1, description="Slots per worker process (1 on SQLite)."
    )
    # Tasks a slot claims and applies together (one claim, one apply transaction of a constant
    # number of statements). A trickle still goes one at a time; a backlog goes in batches.
    worker_batch_size: int = Field(
        default=50,
        ge=1,
        le=500,
        description="Most tasks one slot claims and applies in one transaction.",
    )
    # A worker process's own HTTP server: /healthz and /metrics. Unset: none (several workers
    # on one host need a port each).
    worker_metrics_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description=(
            "A `worker` process's own HTTP server: `/healthz` and (with `METRICS_ENABLED`) "
            "`/metrics`; unset, none (each worker on one host needs its own port)."
        ),
    )
    worker_metrics_host: str = Field(
        "127.0.0.1",
        description="The address of that server; in a container set `0.0.0.0` for the scraper.",
    )
    # Test-only fault injection for the worker guarantees' tests; production refuses both.
    # A delay inside the apply transaction (to kill a worker mid-apply), and a number of attempts
    # per task that fail on purpose (fewer than WORKER_MAX_ATTEMPTS: transient; more: permanent).
    worker_test_apply_delay_seconds: FiniteFloat = Field(
        default=0.0,
        ge=0,
        description=(
            "Test-only fault injection: a delay inside the apply transaction; production "
            "refuses it."
        ),
    )
    worker_test_failures: int = Field(
        default=0,
        ge=0,
        description=(
            "Test-only fault injection: the first N attempts of each task fail on purpose; "
            "production refuses it."
        ),
    )

    log_level: str = Field(
        "INFO",
        description=(
            "`DEBUG`, `INFO`, `WARNING`, `ERROR` or `CRITICAL`; logs are JSON lines on "
            "stderr with a `request_id`; at `INFO` one access line per request and one line "
            "per task."
        ),
    )
    # OpenTelemetry traces go to this OTLP/HTTP collector (its base URL, as the OpenTelemetry
    # SDKs read the same variable); unset, nothing of OpenTelemetry is imported (app/tracing.py).
    otel_exporter_otlp_endpoint: str | None = Field(
        None,
        description=(
            "An OTLP/HTTP collector's base URL (`http://collector:4318`; traces go to its "
            "`/v1/traces`); set, the API and workers send OpenTelemetry traces; unset, "
            "nothing of OpenTelemetry's SDK is imported."
        ),
    )
    # Largest request body accepted (413 beyond): a PATCH of 100 D-plans is about 20 KB.
    max_body_bytes: int = Field(
        default=1024 * 1024,
        ge=1,
        description="Larger request bodies (declared or streamed) get 413 `PAYLOAD_TOO_LARGE`.",
    )
    # Browser origins allowed to call /graphql and /api (CORS), space/comma separated; `*` is any.
    # Default: none in production, DEV_CORS_ORIGINS otherwise.
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda data: (
            [] if data.get("environment") == "production" else list(DEV_CORS_ORIGINS)
        ),
        description=(
            "Browser origins allowed to call `/graphql` and `/api`, space/comma separated, "
            "each `scheme://host[:port]`, or `*`. Unset: none in production; otherwise "
            "`http://localhost:3000`, `:5173`, `:8080` and their `http://127.0.0.1:` forms."
        ),
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

    # Validators look alike (check, then one line naming the variable's problem): one per rule.
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

    @field_validator("database_replica_urls", mode="before")
    @classmethod
    def _split_replica_urls(cls, value: object) -> object:
        if isinstance(value, str):
            return value.replace(",", " ").split()
        return value

    @field_validator("database_replica_urls")
    @classmethod
    def _replica_schemes(cls, value: list[str]) -> list[str]:
        # Never echoes a URL (it may hold a password), only where it is in the list.
        bad = [
            str(i + 1) for i, url in enumerate(value) if not url.startswith("postgresql+asyncpg://")
        ]
        if bad:
            raise ValueError(f"must start with postgresql+asyncpg:// (not URL {', '.join(bad)})")
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
        if self.database_replica_urls and self.is_sqlite:
            fields = ("database_replica_urls", "database_url")
            yield fields, "DATABASE_REPLICA_URLS: replicas need PostgreSQL (DATABASE_URL is SQLite)"
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
