"""Through the real outbox relay: one committed case event reaches both the integrator's
webhook endpoint and the consumer's mailbox, on real Redis with a real worker."""

from __future__ import annotations

import json
from typing import Any

import httpx

from qrefund.jobs.registry import QUEUE_MAINTENANCE, JobSpec
from qrefund.platform.db import Database
from qrefund.platform.webhooks import signing
from qrefund.platform.webhooks.models import WebhookDelivery
from tests.notifications.conftest import Mailbox
from tests.refunds.helpers import record_txn, submit
from tests.support.world import World
from tests.webhooks.api import created
from tests.webhooks.support import Jobs, Receiver, owner_rows

RELAY = "qrefund.jobs.relay.relay_pending"


async def test_a_submitted_case_is_signed_to_the_integrator_and_mailed_to_the_consumer(
    client: httpx.AsyncClient, db: Database, world: World, jobs: Jobs, receiver: Receiver,
    smtp: tuple[Mailbox, int], owner_engine: Any,
) -> None:
    _endpoint, secret = await created(client, world.key("agency"), receiver.url,
                                      ["refund_case.submitted"])
    txn = await record_txn(db, world, "a", amount="30.00")
    case = await submit(db, world, txn, "12.00", contact_email="li@example.com")

    jobs.enqueue(JobSpec(QUEUE_MAINTENANCE, RELAY))
    await jobs.run()

    (request,) = receiver.requests
    assert signing.verify(request.body, request.headers["qrefund-signature"], secret)
    body = json.loads(request.body)
    assert body["type"] == "refund_case.submitted" and body["data"]["caseId"] == str(case.id)
    assert body["tenantId"] == str(world.merchant_a)
    ((recipients, mail),) = smtp[0].messages
    assert recipients == ["li@example.com"] and case.case_number in mail["Subject"]
    (delivery,) = owner_rows(owner_engine, WebhookDelivery)
    assert delivery.tenant_id == world.agency_id and delivery.status == "SUCCEEDED"

    # Relaying again finds nothing new: nothing is sent twice.
    jobs.enqueue(JobSpec(QUEUE_MAINTENANCE, RELAY))
    await jobs.run()
    assert len(receiver.requests) == 1 and len(smtp[0].messages) == 1
