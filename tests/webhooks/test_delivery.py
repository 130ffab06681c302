"""Signed deliveries to a real local HTTP receiver, run by a real RQ worker on real Redis.

The event handlers are called the way the outbox relay calls them; the JobSpecs
they return are enqueued as the relay enqueues them, and a real worker runs them.
Time passes by moving ``next_attempt_at`` back (as the table owner), never by sleeping.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import httpx
import pytest

from qrefund.graphql_schema import ids
from qrefund.jobs import webhooks as webhook_jobs
from qrefund.jobs.registry import QUEUE_MAINTENANCE, EventMessage, JobSpec
from qrefund.platform.clock import utcnow
from qrefund.platform.db import Database
from qrefund.platform.outbox.models import DomainEvent
from qrefund.platform.webhooks import signing
from qrefund.platform.webhooks.models import (
    WebhookDelivery,
    WebhookDeliveryAttempt,
    WebhookEndpoint,
)
from qrefund.tenants.auth import authenticate
from tests.support.world import World
from tests.webhooks.api import REDELIVER, call, codes, created, deliveries
from tests.webhooks.support import Jobs, Receiver, emit, owner_count, owner_rows, owner_update

# Writes made-up outbox events to exercise delivery itself.
pytestmark = pytest.mark.synthetic_events

HANDLERS = "qrefund.jobs.webhooks"


async def _approved(db: Database, world: World, who: str = "a") -> EventMessage:
    scope = await authenticate(db, world.key(who))
    tenant = {"a": world.merchant_a, "b": world.merchant_b, "c": world.merchant_c}[who]
    return await emit(db, scope, tenant, "refund_case.approved",
                      {"caseNumber": "R-0001", "amountMinor": 1250, "currency": "CNY"})


async def _deliver(jobs: Jobs, message: EventMessage) -> None:
    for spec in jobs.handle(message, HANDLERS):
        jobs.enqueue(spec, message)
    await jobs.run()


async def _sweep(jobs: Jobs, owner_engine: Any) -> None:
    """Let the retry time come, then run the periodic retry sweep."""
    owner_update(owner_engine, WebhookDelivery,
                 WebhookDelivery.next_attempt_at.is_not(None),  # type: ignore[union-attr]
                 next_attempt_at=utcnow() - timedelta(seconds=1))
    jobs.enqueue(JobSpec(QUEUE_MAINTENANCE, webhook_jobs.RETRY_SWEEP))
    await jobs.run()


def _delivery(owner_engine: Any) -> Any:
    (row,) = owner_rows(owner_engine, WebhookDelivery)
    return row


async def test_a_delivery_is_signed_and_logged(
    client: httpx.AsyncClient, db: Database, world: World, jobs: Jobs, receiver: Receiver,
    owner_engine: Any,
) -> None:
    endpoint_id, secret = await created(client, world.key("a"), receiver.url)
    message = await _approved(db, world)
    await _deliver(jobs, message)

    (request,) = receiver.requests
    assert request.path == "/hooks/qrefund"
    assert signing.verify(request.body, request.headers["qrefund-signature"], secret)
    assert not signing.verify(request.body, request.headers["qrefund-signature"], "whsec_other")
    assert not signing.verify(request.body + b" ", request.headers["qrefund-signature"], secret)
    assert request.headers["qrefund-event-id"] == str(message.event_id)
    assert request.headers["qrefund-event-type"] == "refund_case.approved"
    assert request.headers["qrefund-delivery-attempt"] == "1"
    assert request.headers["content-type"] == "application/json"
    body = json.loads(request.body)
    assert body["id"] == str(message.event_id) and body["type"] == "refund_case.approved"
    assert body["tenantId"] == str(world.merchant_a) and body["sequence"] == message.seq
    assert body["data"] == {"caseNumber": "R-0001", "amountMinor": 1250, "currency": "CNY"}

    (logged,) = await deliveries(client, world.key("a"), endpoint_id)
    assert logged["status"] == "SUCCEEDED" and logged["attempt"] == 1
    assert logged["statusCode"] == 200 and logged["latencyMs"] >= 0
    assert logged["eventId"] == str(message.event_id) and logged["nextRetryAt"] is None
    assert logged["deliveredAt"] is not None and logged["payload"] == body
    assert logged["endpoint"]["id"] == endpoint_id
    (attempt,) = logged["attempts"]
    assert attempt["outcome"] == "SUCCEEDED" and attempt["trigger"] == "AUTOMATIC"
    assert attempt["responseExcerpt"] == '{"ok":true}'


async def test_events_reach_the_endpoints_that_subscribe(
    client: httpx.AsyncClient, db: Database, world: World, jobs: Jobs, receiver: Receiver,
    owner_engine: Any,
) -> None:
    key = world.key
    limited_a = {"merchantId": ids.encode("Tenant", world.merchant_a)}
    for who, path, types, extra in (
        ("a", "/a", None, {}),
        ("agency", "/agency", None, {}),
        ("agency", "/agency-a", ["refund_case.approved"], limited_a),
        ("operator", "/operator", ["*"], {}),
    ):
        await created(client, key(who), receiver.url + path, types, **extra)
    wanted = {f"/hooks/qrefund{p}" for p in ("/a", "/agency", "/agency-a", "/operator")}
    # These must stay silent: another merchant, another type, another limited merchant.
    await created(client, key("b"), receiver.url + "/b")
    await created(client, key("a"), receiver.url + "/rejected-only", ["refund_case.rejected"])
    await created(client, key("agency"), receiver.url + "/agency-b",
                  merchantId=ids.encode("Tenant", world.merchant_b))
    await created(client, key("other_agency"), receiver.url + "/other")
    await created(client, key("c"), receiver.url + "/c")
    disabled, _ = await created(client, key("a"), receiver.url + "/disabled")
    await call(client, "mutation($i: DisableWebhookEndpointInput!) { disableWebhookEndpoint("
                       "input: $i) { userErrors { code } } }", key("a"), id=disabled)

    await _deliver(jobs, await _approved(db, world))
    assert {r.path for r in receiver.requests} == wanted
    assert len(receiver.requests) == 4
    # Internal events never leave, whoever subscribes to "*".
    scope = await authenticate(db, key("a"))
    internal = await emit(db, scope, world.merchant_a, "api_key.created")
    assert jobs.handle(internal, HANDLERS) == []
    assert owner_count(owner_engine, WebhookDelivery) == 4


async def test_failures_retry_with_backoff_until_success(
    client: httpx.AsyncClient, db: Database, world: World, jobs: Jobs, receiver: Receiver,
    owner_engine: Any,
) -> None:
    endpoint_id, secret = await created(client, world.key("a"), receiver.url)
    receiver.respond(500, ("sleep", 1.5), 200)
    await _deliver(jobs, await _approved(db, world))

    first = _delivery(owner_engine)
    assert first.status == "RETRYING" and first.attempts == 1 and first.last_status_code == 500
    wait_1 = first.next_attempt_at - first.last_attempt_at
    assert timedelta(seconds=50) < wait_1 < timedelta(seconds=70)
    (endpoint,) = owner_rows(owner_engine, WebhookEndpoint)
    assert endpoint.consecutive_failures == 1 and endpoint.failing_since is not None

    await _sweep(jobs, owner_engine)  # the receiver now stalls past the 0.5 s timeout
    second = _delivery(owner_engine)
    assert second.status == "RETRYING" and second.attempts == 2
    assert second.last_status_code is None and "timed out" in second.last_error
    assert second.next_attempt_at - second.last_attempt_at > wait_1 * 1.5

    await _sweep(jobs, owner_engine)
    third = _delivery(owner_engine)
    assert third.status == "SUCCEEDED" and third.attempts == 3 and third.next_attempt_at is None
    (endpoint,) = owner_rows(owner_engine, WebhookEndpoint)
    assert endpoint.consecutive_failures == 0 and endpoint.failing_since is None

    assert len(receiver.requests) == 3
    assert {r.headers["qrefund-event-id"] for r in receiver.requests} == {str(third.event_id)}
    assert [r.headers["qrefund-delivery-attempt"] for r in receiver.requests] == ["1", "2", "3"]
    assert all(signing.verify(r.body, r.headers["qrefund-signature"], secret)
               for r in receiver.requests)
    assert len({r.body for r in receiver.requests}) == 1  # the same JSON every time
    (logged,) = await deliveries(client, world.key("a"), endpoint_id)
    assert [(a["number"], a["outcome"], a["statusCode"]) for a in logged["attempts"]] == [
        (1, "FAILED", 500), (2, "FAILED", None), (3, "SUCCEEDED", 200)]


async def test_a_sweep_with_nothing_due_sends_nothing(
    client: httpx.AsyncClient, db: Database, world: World, jobs: Jobs, receiver: Receiver,
    owner_engine: Any,
) -> None:
    await created(client, world.key("a"), receiver.url)
    receiver.respond(503)
    await _deliver(jobs, await _approved(db, world))
    jobs.enqueue(JobSpec(QUEUE_MAINTENANCE, webhook_jobs.RETRY_SWEEP))
    await jobs.run()
    assert len(receiver.requests) == 1 and _delivery(owner_engine).status == "RETRYING"


async def test_redirects_are_not_followed(
    client: httpx.AsyncClient, db: Database, world: World, jobs: Jobs, receiver: Receiver,
    owner_engine: Any,
) -> None:
    await created(client, world.key("a"), receiver.url)
    receiver.respond(("redirect", receiver.url + "/elsewhere"))
    await _deliver(jobs, await _approved(db, world))
    row = _delivery(owner_engine)
    assert row.status == "RETRYING" and row.last_status_code == 302
    assert row.last_error == "redirects are not followed"
    assert [r.path for r in receiver.requests] == ["/hooks/qrefund"]


async def test_retries_stop_after_the_window(
    client: httpx.AsyncClient, db: Database, world: World, jobs: Jobs, receiver: Receiver,
    owner_engine: Any,
) -> None:
    await created(client, world.key("a"), receiver.url)
    receiver.respond(500, 500)
    await _deliver(jobs, await _approved(db, world))
    owner_update(owner_engine, WebhookDelivery, WebhookDelivery.attempts == 1,
                 give_up_at=utcnow() + timedelta(seconds=5))
    await _sweep(jobs, owner_engine)
    row = _delivery(owner_engine)
    assert row.status == "FAILED" and row.next_attempt_at is None and row.attempts == 2
    await _sweep(jobs, owner_engine)
    assert len(receiver.requests) == 2


async def test_persistent_failure_disables_the_endpoint(
    client: httpx.AsyncClient, db: Database, world: World, jobs: Jobs, receiver: Receiver,
    owner_engine: Any,
) -> None:
    await created(client, world.key("a"), receiver.url)
    receiver.respond(500, 500)
    await _deliver(jobs, await _approved(db, world))
    # Failing for four days already, and many failures in a row.
    owner_update(owner_engine, WebhookEndpoint, WebhookEndpoint.status == "ACTIVE",
                 failing_since=utcnow() - timedelta(days=4), consecutive_failures=30)
    await _deliver(jobs, await _approved(db, world))
    (endpoint,) = owner_rows(owner_engine, WebhookEndpoint)
    assert endpoint.status == "DISABLED" and "failed attempts in a row" in endpoint.disabled_reason
    assert owner_rows(owner_engine, DomainEvent, DomainEvent.type == "webhook_endpoint.disabled")
    # Due retries of a disabled endpoint are cancelled, not sent.
    await _sweep(jobs, owner_engine)
    statuses = sorted(r.status for r in owner_rows(owner_engine, WebhookDelivery))
    assert statuses == ["CANCELLED", "CANCELLED"]
    assert len(receiver.requests) == 2
    # A new event does not even create a delivery for it.
    await _deliver(jobs, await _approved(db, world))
    assert owner_count(owner_engine, WebhookDelivery) == 2


async def test_manual_redelivery_sends_the_same_event_again(
    client: httpx.AsyncClient, db: Database, world: World, jobs: Jobs, receiver: Receiver,
    owner_engine: Any,
) -> None:
    endpoint_id, secret = await created(client, world.key("a"), receiver.url)
    await _deliver(jobs, await _approved(db, world))
    (logged,) = await deliveries(client, world.key("a"), endpoint_id)

    for tenant, role, code in (("a", "VIEWER", "FORBIDDEN"), ("b", "ADMIN", "NOT_FOUND")):
        refused = await call(client, REDELIVER, world.key(tenant, role), deliveryId=logged["id"])
        assert codes(refused) == [code]

    payload = await call(client, REDELIVER, world.key("a"), deliveryId=logged["id"])
    assert payload["webhookDelivery"]["status"] == "PENDING"
    again = await call(client, REDELIVER, world.key("a"), deliveryId=logged["id"])
    assert codes(again) == ["DELIVERY_IN_PROGRESS"]

    (requested,) = owner_rows(owner_engine, DomainEvent,
                              DomainEvent.type == "webhook_delivery.redelivery_requested")
    await _deliver(jobs, _message(requested))
    assert len(receiver.requests) == 2
    first, second = receiver.requests
    assert first.headers["qrefund-event-id"] == second.headers["qrefund-event-id"]
    assert second.headers["qrefund-delivery-attempt"] == "2"
    assert signing.verify(second.body, second.headers["qrefund-signature"], secret)
    (logged,) = await deliveries(client, world.key("a"), endpoint_id)
    assert [a["trigger"] for a in logged["attempts"]] == ["AUTOMATIC", "MANUAL"]
    assert logged["status"] == "SUCCEEDED"


async def test_redelivery_needs_an_active_endpoint(
    client: httpx.AsyncClient, db: Database, world: World, jobs: Jobs, receiver: Receiver,
    owner_engine: Any,
) -> None:
    endpoint_id, _ = await created(client, world.key("a"), receiver.url)
    await _deliver(jobs, await _approved(db, world))
    (logged,) = await deliveries(client, world.key("a"), endpoint_id)
    await call(client, "mutation($i: DisableWebhookEndpointInput!) { disableWebhookEndpoint("
                       "input: $i) { userErrors { code } } }", world.key("a"), id=endpoint_id)
    refused = await call(client, REDELIVER, world.key("a"), deliveryId=logged["id"])
    assert codes(refused) == ["ENDPOINT_DISABLED"]
    assert _delivery(owner_engine).status == "SUCCEEDED"


async def test_rotation_signs_with_both_secrets_during_the_overlap(
    client: httpx.AsyncClient, db: Database, world: World, jobs: Jobs, receiver: Receiver,
) -> None:
    endpoint_id, old = await created(client, world.key("a"), receiver.url)
    rotate = ("mutation($i: RotateWebhookSecretInput!) { rotateWebhookSecret(input: $i) {"
              " secret userErrors { code } } }")
    new = (await call(client, rotate, world.key("a"), id=endpoint_id))["secret"]
    await _deliver(jobs, await _approved(db, world))
    header = receiver.requests[-1].headers["qrefund-signature"]
    assert header.count("v1=") == 2
    body = receiver.requests[-1].body
    assert signing.verify(body, header, new) and signing.verify(body, header, old)

    # A rotation without overlap drops every older secret at once.
    newest = (await call(client, rotate, world.key("a"), id=endpoint_id, overlapHours=0))["secret"]
    await _deliver(jobs, await _approved(db, world))
    header, body = receiver.requests[-1].headers["qrefund-signature"], receiver.requests[-1].body
    assert header.count("v1=") == 1
    assert signing.verify(body, header, newest)
    assert not signing.verify(body, header, new) and not signing.verify(body, header, old)


async def test_private_targets_are_refused_at_send_time(
    client: httpx.AsyncClient, db: Database, world: World, jobs: Jobs, receiver: Receiver,
    owner_engine: Any,
) -> None:
    await created(client, world.key("a"), receiver.url)  # allowed when it was created
    jobs.reconfigure(webhook_allow_private_targets=False)
    await _deliver(jobs, await _approved(db, world))
    row = _delivery(owner_engine)
    assert row.status == "RETRYING" and row.last_error.startswith("PRIVATE_TARGET")
    assert receiver.requests == []


async def test_fan_out_and_delivery_jobs_are_idempotent(
    client: httpx.AsyncClient, db: Database, world: World, jobs: Jobs, receiver: Receiver,
    owner_engine: Any,
) -> None:
    await created(client, world.key("a"), receiver.url)
    message = await _approved(db, world)
    tenant, event = str(message.tenant_id), str(message.event_id)
    # The same fan-out twice (a re-relayed event), then the same attempt's job twice.
    assert await webhook_jobs.fan_out_event(tenant, event) == 1
    assert await webhook_jobs.fan_out_event(tenant, event) == 0
    row = _delivery(owner_engine)
    await jobs.run()  # the deliver job the first fan-out enqueued
    assert await webhook_jobs.deliver(str(row.tenant_id), str(row.id)) == "nothing to do"
    assert len(receiver.requests) == 1
    assert owner_count(owner_engine, WebhookDeliveryAttempt) == 1


async def test_an_attempt_lost_with_its_worker_is_logged_and_retried(
    client: httpx.AsyncClient, db: Database, world: World, jobs: Jobs, receiver: Receiver,
    owner_engine: Any,
) -> None:
    from qrefund.jobs import runtime
    from qrefund.platform.webhooks import delivery

    await created(client, world.key("a"), receiver.url)
    message = await _approved(db, world)
    async with jobs.db.unit_of_work(runtime.system_scope()) as uow:
        ((tenant_id, delivery_id),) = await delivery.fan_out(
            uow, message.tenant_id, message.event_id, utcnow())
    async with jobs.db.unit_of_work(runtime.job_scope(tenant_id)) as uow:
        assert await delivery.claim(uow, tenant_id, delivery_id, utcnow()) is not None
    # The worker died mid-request: the lease runs out and the sweep claims it again.
    assert _delivery(owner_engine).status == "SENDING"
    await _sweep(jobs, owner_engine)
    row = _delivery(owner_engine)
    assert row.status == "SUCCEEDED" and row.attempts == 2
    outcomes = sorted((a.number, a.outcome) for a in owner_rows(owner_engine,
                                                                 WebhookDeliveryAttempt))
    assert outcomes == [(1, "ABANDONED"), (2, "SUCCEEDED")]
    assert len(receiver.requests) == 1


def _message(event: Any) -> EventMessage:
    return EventMessage(
        tenant_id=event.tenant_id, event_id=event.id, seq=event.seq, type=event.type,
        aggregate_type=event.aggregate_type, aggregate_id=event.aggregate_id,
        payload=dict(event.payload), actor=event.actor, occurred_at=event.occurred_at)
