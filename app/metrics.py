"""The Prometheus metrics the app keeps (served at /metrics). A module of its own, importing
nothing of ours, so that any layer can count without depending on the HTTP middleware."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

REQUESTS = Counter("studentgraph_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram("studentgraph_request_seconds", "HTTP request latency", ["method", "route"])
SQL_STATEMENTS = Counter("studentgraph_sql_statements", "SQL statements sent to the database")
