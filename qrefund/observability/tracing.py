"""Optional OpenTelemetry tracing (``QREFUND_TRACING_ENABLED``), exported over OTLP.

Installed as the ``tracing`` extra (``pip install 'qrefund[tracing]'``); with the
flag off nothing of OpenTelemetry is imported. When on, one SDK tracer provider
per process (the global one, which strawberry's ``OpenTelemetryExtension``
uses) gets spans from:

* Starlette (a server span per HTTP request or WebSocket),
* strawberry (parse, validate, resolvers),
* SQLAlchemy (a span per statement), httpx (webhooks, payment channels), redis;
* RQ: every job runs in a span whose parent is the span that enqueued it; the
  enqueuing side writes its W3C trace context into the job's meta
  (:func:`inject`), the worker reads it back (:func:`job_span`). Jobs the outbox
  relay enqueues descend from the relay job, which descends from the request
  whose commit nudged it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

TRACE_META_KEY = "trace"
_lock = threading.Lock()
_provider: Any = None  # the active provider; None when tracing is off
_made: Any = None
_traced_engines: dict[int, Any] = {}
_instrumented = False


def enabled() -> bool:
    return _provider is not None


def setup(*, service_name: str = "qrefund", endpoint: str | None = None,
          sample_ratio: float = 1.0, exporter: Any = None) -> Any:
    """The process's tracer provider, made (and instrumented) on first call.

    ``exporter`` replaces OTLP (tests pass an in-memory exporter); a later call
    with another exporter adds it to the same provider.
    """
    global _provider
    from opentelemetry import trace
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
    from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

    global _made
    with _lock:
        if _made is None:
            # The global provider can be set once per process: made once, reused after
            # a teardown.
            _made = TracerProvider(
                resource=Resource.create({"service.name": service_name}),
                sampler=ParentBased(TraceIdRatioBased(sample_ratio)))
            trace.set_tracer_provider(_made)
            _provider = _made
            if exporter is None:
                from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
                    OTLPSpanExporter,
                )

                _provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(
                    endpoint=endpoint)))
        _provider = _made
        if exporter is not None:
            _provider.add_span_processor(SimpleSpanProcessor(exporter))
        _instrument_libraries()
        return _provider


def _instrument_libraries() -> None:
    global _instrumented
    if _instrumented:
        return
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor

    HTTPXClientInstrumentor().instrument(tracer_provider=_provider)
    RedisInstrumentor().instrument(tracer_provider=_provider)
    _instrumented = True


def instrument_engines(engines: list[Any]) -> None:
    """A span per SQL statement of these engines. Done per engine: the library's
    global patch of ``create_async_engine`` misses engines made through names imported
    before it ran (``qrefund.platform.db``'s)."""
    if _provider is None:
        return
    from opentelemetry import metrics, trace
    from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer

    tracer = trace.get_tracer("qrefund.sql", tracer_provider=_provider)
    usage = metrics.get_meter("qrefund.sql").create_up_down_counter(
        "db.client.connections.usage", unit="connections")
    for engine in engines:
        sync = getattr(engine, "sync_engine", engine)
        if id(sync) not in _traced_engines:
            _traced_engines[id(sync)] = EngineTracer(tracer, sync, usage)


def instrument_app(app: Any) -> None:
    if _provider is None:
        return
    from opentelemetry.instrumentation.starlette import StarletteInstrumentor

    StarletteInstrumentor.instrument_app(app, tracer_provider=_provider)


def graphql_extension() -> Any:
    """Strawberry's extension class, or None when tracing is off."""
    if _provider is None:
        return None
    from strawberry.extensions.tracing import OpenTelemetryExtension

    return OpenTelemetryExtension


def inject() -> dict[str, str]:
    """The current trace context as a W3C ``traceparent`` carrier (empty when off)."""
    if _provider is None:
        return {}
    from opentelemetry import propagate

    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


@contextmanager
def job_span(name: str, carrier: dict[str, str] | None, **attributes: str) -> Iterator[None]:
    """A consumer span for one job, child of the span that enqueued it."""
    if _provider is None:
        yield
        return
    from opentelemetry import propagate, trace

    parent = propagate.extract(carrier or {})
    tracer = trace.get_tracer("qrefund.jobs", tracer_provider=_provider)
    with tracer.start_as_current_span(f"job {name}", context=parent,
                                      kind=trace.SpanKind.CONSUMER,
                                      attributes={f"rq.{k}": v for k, v in attributes.items()}):
        yield


def flush() -> None:
    """Export finished spans now (a forked work horse exits without running threads)."""
    if _provider is not None:
        _provider.force_flush()


def teardown() -> None:
    """Undo the library instrumentation and stop recording (tests). OpenTelemetry's
    global provider cannot be replaced; with ``_provider`` unset nothing uses it."""
    global _provider, _instrumented
    with _lock:
        if _instrumented:
            from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
            from opentelemetry.instrumentation.redis import RedisInstrumentor

            for instrumentor in (HTTPXClientInstrumentor(), RedisInstrumentor()):
                instrumentor.uninstrument()
            _instrumented = False
        if _traced_engines:
            from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer

            EngineTracer.remove_all_event_listeners()
            _traced_engines.clear()
        if _provider is not None:
            _provider.force_flush()
        _provider = None
