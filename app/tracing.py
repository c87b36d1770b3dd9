"""OpenTelemetry traces, when `OTEL_EXPORTER_OTLP_ENDPOINT` is set; nothing otherwise.

Off (the default), nothing of OpenTelemetry is imported and each traced place costs one check of
a module flag (`span` hands back a shared null context). On, `enable` imports the SDK and the
OTLP/HTTP exporter, the API is traced by the FastAPI (ASGI) instrumentation, every engine by the
SQLAlchemy instrumentation, and the places of our own (a GraphQL operation, a task apply, a
statement run straight on the driver) open their spans here.

Attributes never carry a token, a key, an email or a D-plan value: request ids, operation names
and types, task ids and counts, and SQL text with placeholders (values are always bound)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the types only: importing them at run time is what `enable` is for
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter
    from opentelemetry.trace import Tracer
    from sqlalchemy.ext.asyncio import AsyncEngine

    from app.config import Settings

REQUEST_ID = "studentgraph.request_id"
# Probes and scrapes come every few seconds from every instance: not worth a trace each.
UNTRACED_PATHS = "/healthz,/readyz,/metrics"

_NULL: AbstractContextManager[Any] = contextlib.nullcontext()
_provider: TracerProvider | None = None
_tracer: Tracer | None = None


def enabled() -> bool:
    return _tracer is not None


def enable(settings: Settings, service: str, exporter: SpanExporter | None = None) -> bool:
    """Start tracing in this process when an OTLP endpoint is configured (or an exporter is
    given: tests pass an in-memory one, exported as each span ends); False when off. The
    standard OTEL_* variables the SDK reads itself (sampler, headers, resource attributes)
    still apply."""
    global _provider, _tracer
    if exporter is None and not settings.otel_exporter_otlp_endpoint:
        return False
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    disable()
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    if exporter is not None:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    else:
        provider.add_span_processor(BatchSpanProcessor(_otlp_exporter(settings)))
    _provider, _tracer = provider, provider.get_tracer("studentgraph")
    return True


def _otlp_exporter(settings: Settings) -> SpanExporter:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    # OTEL_EXPORTER_OTLP_ENDPOINT is the collector's base URL, as every OpenTelemetry SDK reads
    # it: traces go to its /v1/traces.
    base = str(settings.otel_exporter_otlp_endpoint).rstrip("/")
    return OTLPSpanExporter(endpoint=f"{base}/v1/traces")


def disable() -> None:
    """Flush what is pending and stop tracing (process exit, and between tests)."""
    global _provider, _tracer
    if _provider is not None:
        _provider.shutdown()
    _provider, _tracer = None, None


def instrument_app(app: Any) -> None:
    """A server span per HTTP request (and WebSocket connection), named by its route template."""
    if _provider is None:
        return
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(
        app,
        tracer_provider=_provider,
        excluded_urls=UNTRACED_PATHS,
        exclude_spans=["receive", "send"],  # one span per request, not one per body chunk
        server_request_hook=_without_query,
    )


def _without_query(span: Any, _scope: Any) -> None:
    """The instrumentation records the URL with its query string, which carries GraphQL
    documents and variables (GET /graphql) and REST filter values: kept out of the span."""
    attributes = getattr(span, "attributes", None) or {}
    if "http.url" in attributes:
        span.set_attribute("http.url", str(attributes["http.url"]).split("?", 1)[0])
    if "url.query" in attributes:
        span.set_attribute("url.query", "")


def instrument_engine(engine: AsyncEngine) -> None:
    """A span per SQL statement sent through SQLAlchemy, child of whatever is current."""
    if _provider is None:
        return
    from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
    from opentelemetry.metrics import NoOpMeterProvider

    tracer = _provider.get_tracer("opentelemetry.instrumentation.sqlalchemy")
    # Its connection-usage metric is not wanted (Prometheus counts the pool): a no-op meter.
    usage = NoOpMeterProvider().get_meter("studentgraph").create_up_down_counter("unused")
    EngineTracer(tracer, engine.sync_engine, usage)  # type: ignore[no-untyped-call]


def span(name: str, attributes: Mapping[str, Any] | None = None) -> AbstractContextManager[Any]:
    """A span of ours, child of the current one; a shared null context when tracing is off."""
    if _tracer is None:
        return _NULL
    return _span(_tracer, name, _clean(attributes or {}))


@contextlib.contextmanager
def _span(tracer: Tracer, name: str, attributes: dict[str, Any]) -> Iterator[Any]:
    # A failure is recorded by its type only: an error's text may quote a value it refused.
    from opentelemetry.trace import Status, StatusCode

    with tracer.start_as_current_span(
        name, attributes=attributes, record_exception=False, set_status_on_exception=False
    ) as current:
        try:
            yield current
        except BaseException as exc:
            current.set_status(Status(StatusCode.ERROR, type(exc).__name__))
            raise


def statement(sql: str, system: str) -> AbstractContextManager[Any]:
    """A statement run straight on the driver (`app.db.fetch_row`), spanned as the SQLAlchemy
    instrumentation spans the others."""
    if _tracer is None:
        return _NULL
    verb = sql.lstrip().split(None, 1)[0].upper() if sql.strip() else "SQL"
    return span(verb, {"db.system": system, "db.statement": sql})


def annotate(attributes: Mapping[str, Any]) -> None:
    """Add attributes to the current span (the request id to the HTTP request's)."""
    if _tracer is None:
        return
    from opentelemetry import trace

    trace.get_current_span().set_attributes(_clean(attributes))


def _clean(attributes: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in attributes.items() if v is not None}
