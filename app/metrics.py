"""The Prometheus metrics the app keeps (served at /metrics, and by a worker process on
WORKER_METRICS_PORT). A module of its own, importing nothing of ours, so that any layer can count
without depending on the HTTP middleware.

Every label value comes from a bounded set: route templates (or "unmatched"), known methods,
status codes, error codes written in our code, task outcomes, and GraphQL operation names capped
by `OperationNames`.

Under several processes (`serve --workers N`) prometheus-client's multiprocess mode keeps each
process's values in files under PROMETHEUS_MULTIPROC_DIR, and a scrape of any process adds them
all up (`exposition`). Gauges say how they add up (`multiprocess_mode`): "livesum" sums the
processes alive now."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import REGISTRY, Collector

REQUESTS = Counter("studentgraph_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram("studentgraph_request_seconds", "HTTP request latency", ["method", "route"])
SQL_STATEMENTS = Counter("studentgraph_sql_statements", "SQL statements sent to the database")

GRAPHQL_OPERATIONS = Counter(
    "studentgraph_graphql_operations_total",
    "GraphQL operations run (over HTTP and WebSocket), by operation name (bounded) and type",
    ["operation", "type"],
)
GRAPHQL_ERRORS = Counter(
    "studentgraph_graphql_errors_total", "GraphQL errors answered, by extensions.code", ["code"]
)
WEBSOCKETS = Gauge(
    "studentgraph_websocket_connections",
    "Open WebSocket connections (GraphQL subscriptions)",
    multiprocess_mode="livesum",
)
POOL_IN_USE = Gauge(
    "studentgraph_db_pool_connections_in_use",
    "Database connections checked out of the pools (every engine of the process)",
    multiprocess_mode="livesum",
)
READS = Counter(
    "studentgraph_reads_total",
    "Planned reads (GraphQL queries, REST GETs) by where they ran: primary, replica1, ...",
    ["target"],
)
REPLICA_LAG = Gauge(
    "studentgraph_replica_lag_seconds",
    "How far each replica was behind the primary at its last probe (0: replayed all it had)",
    ["replica"],
    multiprocess_mode="livemax",
)

# In-process caches (app/caches.py), each bounded by entries and approximate bytes. A bound is
# per process: under several processes a scrape shows the largest process's value ("livemax").
CACHE_ENTRIES = Gauge(
    "studentgraph_cache_entries",
    "Entries held by an in-process cache",
    ["cache"],
    multiprocess_mode="livemax",
)
CACHE_BYTES = Gauge(
    "studentgraph_cache_bytes",
    "Approximate bytes held by an in-process cache (keys and values)",
    ["cache"],
    multiprocess_mode="livemax",
)
CACHE_MAX_ENTRIES = Gauge(
    "studentgraph_cache_max_entries",
    "The most entries an in-process cache holds",
    ["cache"],
    multiprocess_mode="livemax",
)
CACHE_MAX_BYTES = Gauge(
    "studentgraph_cache_max_bytes",
    "The most approximate bytes an in-process cache holds",
    ["cache"],
    multiprocess_mode="livemax",
)
CACHE_EVICTIONS = Counter(
    "studentgraph_cache_evictions",
    "Entries an in-process cache dropped to stay within its bounds",
    ["cache"],
)

TASK_APPLY_SECONDS = Histogram(
    "studentgraph_task_apply_seconds",
    "One apply transaction of a worker (a batch of one or more tasks), start to commit",
)
TASK_COMPLETION_SECONDS = Histogram(
    "studentgraph_task_completion_seconds",
    "A task's acceptance to its end (complete or error)",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, float("inf")),
)
TASKS = Counter(
    "studentgraph_tasks_total",
    "Task attempts' outcomes: complete, error (final), retry (tried again later), lost (lease)",
    ["outcome"],
)
TASK_RETRIES = Counter(
    "studentgraph_task_retries_total",
    "Claims of a task tried before (after a failed attempt or a worker that stopped)",
)

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"  # the route label of every path no route serves
OTHER = "other"  # an operation name past the cap, or not among the known ones
ANONYMOUS = "anonymous"
MAX_NAME_LENGTH = 64
MULTIPROC_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"


def method_label(method: str) -> str:
    """The HTTP method, or "other": a client may send any token as a method."""
    return method if method in METHODS else OTHER


class OperationNames:
    """Bounded operation-name labels. Only operations that passed validation are named (the
    caller's part), so a name is one some client really runs; `known` names are always named
    and, when given, are the only ones; otherwise the first `cap` distinct names seen by the
    process are, and every later one is "other"."""

    def __init__(self, known: Iterable[str] = (), cap: int = 100) -> None:
        self.known = frozenset(known)
        self.cap = cap
        self.seen: set[str] = set()

    def label(self, name: str | None) -> str:
        if name is None:
            return ANONYMOUS
        if name in self.known or name in self.seen:
            return name
        if self.known or len(self.seen) >= self.cap or len(name) > MAX_NAME_LENGTH:
            return OTHER
        self.seen.add(name)
        return name


def multiprocess_dir() -> str | None:
    """prometheus-client's own variable, read by it when first imported (before our Settings
    exist), so read here too rather than through Settings."""
    return os.environ.get(MULTIPROC_VARIABLE) or None


def exposition(*extra: Collector) -> bytes:
    """The text format of every metric: this process's, or, in multiprocess mode, every
    process's added up; then `extra` (values read at scrape, such as the task queue's)."""
    directory = multiprocess_dir()
    registry = CollectorRegistry()
    if directory:
        _forget_dead_processes(Path(directory))
        multiprocess.MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
        body = generate_latest(registry)
    else:
        body = generate_latest(REGISTRY)
    for collector in extra:
        registry = CollectorRegistry()
        registry.register(collector)
        body += generate_latest(registry)
    return body


def _forget_dead_processes(directory: Path) -> None:
    """A process that is gone (a crash, or a restart by the supervisor) no longer counts in the
    "live" gauges: its connections and sockets are closed. Its counters stay (they were real)."""
    for path in directory.glob("gauge_live*_*.db"):
        pid = int(path.stem.rsplit("_", 1)[1])
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            multiprocess.mark_process_dead(pid, str(directory))  # type: ignore[no-untyped-call]
        except PermissionError:
            pass  # alive, another user's


class ReadAtScrape(Collector):
    """Metric families computed by the caller just before the scrape (from the database)."""

    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterable[Metric]:
        return self.families
