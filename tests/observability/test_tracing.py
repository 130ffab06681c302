"""OpenTelemetry, on: a request's spans (Starlette, strawberry, SQLAlchemy, redis) and the
spans of the jobs it caused, in one trace, caught by the in-memory exporter."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from qrefund.app import create_app
from qrefund.jobs.registry import QUEUES
from qrefund.observability import tracing
from qrefund.platform.config import Settings
from qrefund.platform.db import Database
from tests.foundation.helpers import record_txn
from tests.jobs.support import JobHarness
from tests.refunds.api import mutate
from tests.support.world import World


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    tracing.setup(service_name="qrefund-test", exporter=exporter)
    try:
        yield exporter
    finally:
        tracing.teardown()
        exporter.shutdown()


@pytest.fixture
async def traced(settings: Settings, spans: InMemorySpanExporter
                 ) -> AsyncIterator[httpx.AsyncClient]:
    traced_settings = settings.model_copy(update={"tracing_enabled": True})
    database = Database(traced_settings)  # made after setup: SQLAlchemy's patch covers it
    transport = httpx.ASGITransport(app=create_app(traced_settings, database))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c
    await database.dispose()


async def test_a_request_and_the_jobs_it_enqueued_share_a_trace(
        traced: httpx.AsyncClient, spans: InMemorySpanExporter, world: World,
        jobs: JobHarness) -> None:
    # Given a traced API: a payment recorded, a refund submitted
    txn = await record_txn(traced, world.key("a", "INTEGRATION"), amount="30.00")
    spans.clear()
    payload = await mutate(traced, "SubmitRefundRequest", world.key("a", "INTEGRATION"),
                           transactionId=txn["id"], amount="30.00", reason="QUALITY_ISSUE",
                           channel="API")
    assert payload["userErrors"] == []
    request = [s for s in spans.get_finished_spans() if s.kind.name == "SERVER"]
    assert request, [s.name for s in spans.get_finished_spans()]
    trace_id = request[-1].context.trace_id
    in_request = [s for s in spans.get_finished_spans() if s.context.trace_id == trace_id]
    names = " ".join(s.name for s in in_request)
    # Then the request's trace has strawberry's, SQLAlchemy's and redis's spans
    assert "GraphQL" in names or "mutation" in names.lower(), names
    assert any(s.attributes and s.attributes.get("db.system") in ("postgresql", "sqlite")
               for s in in_request), names
    # When the workers run the jobs its commit nudged
    await jobs.drain(QUEUES)
    # Then each job has a span, in the same trace, under the span that enqueued it
    job_spans = [s for s in spans.get_finished_spans() if s.name.startswith("job ")]
    assert any(s.context.trace_id == trace_id and s.parent is not None
               for s in job_spans), [(s.name, s.context.trace_id) for s in job_spans]
    relay = next(s for s in job_spans if s.context.trace_id == trace_id)
    assert relay.attributes and relay.attributes["rq.queue"] == "relay"


def test_tracing_off_injects_nothing() -> None:
    assert tracing.inject() == {}
    with tracing.job_span("x", {"traceparent": "00-" + "1" * 32 + "-" + "2" * 16 + "-01"}):
        pass
