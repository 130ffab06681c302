"""Daily digests end to end: made after the digest hour in the tenant's time zone, sent
over real SMTP and as a signed ``digest.daily`` webhook, once per tenant-day, quiet
when there is nothing to say."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from qrefund.graphql_schema import ids
from qrefund.jobs.digests import daily_digest, digest_sweep
from qrefund.jobs.registry import QUEUE_MAINTENANCE, JobSpec
from qrefund.platform.db import Database
from qrefund.platform.digests.models import DailyDigest
from qrefund.platform.outbox.models import DomainEvent
from qrefund.platform.refunds.models import RefundCase
from qrefund.platform.risk import service as risk
from qrefund.platform.risk.models import RiskFlagRecord
from tests.digests.api import set_digest
from tests.notifications.conftest import Mailbox
from tests.refunds.helpers import record_txn, scope_of, submit
from tests.risk.helpers import pay
from tests.support.graphql import ok
from tests.support.world import World
from tests.webhooks.api import created
from tests.webhooks.support import Jobs, Receiver, owner_rows

RELAY = "qrefund.jobs.relay.relay_pending"
FEED = """{ events(types: ["digest.daily"]) { edges { node { type subjectId snapshot } } } }"""
SHANGHAI = ZoneInfo("Asia/Shanghai")


def nine_am_before(due: datetime) -> datetime:
    """09:00 in Shanghai on the day before ``due`` (local): the case is then due within
    the next 24 hours or, if the deadline is early in its day, was missed since."""
    local = due.astimezone(SHANGHAI) - timedelta(hours=20)
    at = local.replace(hour=9, minute=0, second=0, microsecond=0)
    return at if at >= local else at + timedelta(days=1)


async def open_case(db: Database, world: World) -> RefundCase:
    txn = await record_txn(db, world, "a", amount="30.00")
    return await submit(db, world, txn, "12.00")


def mails_to(smtp: tuple[Mailbox, int], address: str) -> list[Any]:
    return [m for rcpt, m in smtp[0].messages if rcpt == [address]]


async def test_a_digest_lists_what_needs_attention_by_mail_and_webhook_once_a_day(
    client: httpx.AsyncClient, db: Database, world: World, jobs: Jobs, receiver: Receiver,
    smtp: tuple[Mailbox, int], owner_engine: Any,
) -> None:
    for who, address in (("a", "ops@merchant-a.example"), ("b", "ops@merchant-b.example"),
                         ("agency", "desk@agency.example")):
        done = await set_digest(client, world.key(who), email=address)
        assert done["userErrors"] == [] and done["tenant"]["digestEmailMasked"].startswith(
            address[0] + "***@")
    _endpoint, _secret = await created(client, world.key("a"), receiver.url, ["digest.daily"])
    case = await open_case(db, world)
    now = nine_am_before(case.review_due_at)

    # Before the digest hour nobody is due; at 09:00 local every merchant and agency is.
    early = await digest_sweep((now - timedelta(hours=3)).isoformat())  # Tokyo: 07:00
    assert early["due"] == 0
    swept = await digest_sweep(now.isoformat())
    assert swept["due"] >= 4 and swept["enqueued"] == swept["due"]
    await jobs.run()

    # Merchant A: its case, by mail and by webhook.
    (mail,) = mails_to(smtp, "ops@merchant-a.example")
    assert "daily digest" in mail["Subject"]
    assert case.case_number in mail.get_content()
    jobs.enqueue(JobSpec(QUEUE_MAINTENANCE, RELAY))
    await jobs.run()
    (request,) = receiver.requests
    body = json.loads(request.body)
    assert body["type"] == "digest.daily" and body["tenantId"] == str(world.merchant_a)
    [section] = [s for s in body["data"]["sections"] if s["count"]]
    assert section["key"] in ("nearDeadline", "breachedLastDay")
    assert section["rows"][0]["caseNumber"] == case.case_number
    # The same event in the feed, its subject the merchant itself.
    feed = await ok(client, FEED, key=world.key("a", "VIEWER"))
    [edge] = feed["events"]["edges"]
    assert edge["node"]["subjectId"] == ids.encode("Tenant", world.merchant_a)
    assert edge["node"]["snapshot"]["day"] == body["data"]["day"]
    # The agency's digest covers its merchants: A's case is in it.
    (agency_mail,) = mails_to(smtp, "desk@agency.example")
    assert case.case_number in agency_mail.get_content()
    # Merchant B has nothing to say: no mail, a QUIET record.
    assert mails_to(smtp, "ops@merchant-b.example") == []
    rows = {(r.tenant_id, r.status) for r in owner_rows(owner_engine, DailyDigest)}
    assert (world.merchant_b, "QUIET") in rows and (world.merchant_a, "SENT") in rows

    # Once per tenant-day: a second sweep finds nothing due, a replayed job does nothing.
    assert (await digest_sweep((now + timedelta(hours=1)).isoformat()))["due"] == 0
    day = now.astimezone(SHANGHAI).date().isoformat()
    assert (await daily_digest(str(world.merchant_a), day, now.isoformat()))["status"] == (
        "made before")
    await jobs.run()
    assert len(mails_to(smtp, "ops@merchant-a.example")) == 1
    assert len(receiver.requests) == 1
    assert jobs.failed_job_ids() == []


async def test_set_daily_digest_refusals(client: httpx.AsyncClient, db: Database,
                                         world: World, owner_engine: Any) -> None:
    merchant_a = ids.encode("Tenant", world.merchant_a)
    cases = [
        (world.key("a"), {"email": "not-an-address"}, "INVALID_FORMAT"),
        (world.key("a"), {"email": "x" * 300 + "@example.com"}, "TOO_LONG"),
        (world.key("a", "VIEWER"), {"email": "ops@a.example"}, "FORBIDDEN"),
        (world.key("a", "REFUND_AGENT"), {"email": "ops@a.example"}, "FORBIDDEN"),
        (world.key("b"), {"tenantId": merchant_a, "email": "ops@a.example"}, "NOT_FOUND"),
        (world.key("other_agency"), {"tenantId": merchant_a, "email": "o@a.example"},
         "NOT_FOUND"),
        (world.key("operator"), {"email": "ops@operator.example"}, "NOT_FOUND"),
    ]
    for key, given, code in cases:
        payload = await set_digest(client, key, **given)
        assert payload["tenant"] is None
        assert payload["userErrors"][0]["code"] == code, (given, payload)
    # The agency sets its merchant's; a blank address clears it.
    done = await set_digest(client, world.key("agency"), tenantId=merchant_a,
                            email="  ops@a.example ")
    assert done["tenant"]["digestEmailMasked"] == "o***@a.example"
    cleared = await set_digest(client, world.key("agency"), tenantId=merchant_a, email=" ")
    assert cleared["tenant"]["digestEmailMasked"] is None
    assert owner_rows(owner_engine, DailyDigest) == []


async def test_an_open_anomaly_flag_alone_makes_the_digest_speak(
    db: Database, world: World, jobs: Jobs, owner_engine: Any,
) -> None:
    # A payment charged 12.50 where the integrator expected 10.00: one open flag at A.
    await pay(db, world, "a", amount="12.50", expected="10.00")
    now = datetime.now(SHANGHAI).replace(hour=9, minute=0, second=0, microsecond=0)
    assert (await digest_sweep(now.isoformat()))["due"] >= 2
    await jobs.run()

    def digest_of(tenant: Any, day: datetime) -> dict[str, Any] | None:
        key = day.astimezone(SHANGHAI).date().isoformat()
        found = [e.payload for e in owner_rows(owner_engine, DomainEvent)
                 if e.type == "digest.daily" and e.tenant_id == tenant
                 and e.payload["day"] == key]
        return found[0] if found else None

    flags = [s for s in digest_of(world.merchant_a, now)["sections"]  # type: ignore[index]
             if s["key"] == "openRiskFlags"]
    assert [(s["count"], [(r["merchantId"], r["rule"], r["count"]) for r in s["rows"]])
            for s in flags] == [(1, [(str(world.merchant_a), "AMOUNT_MISMATCH", 1)])]
    assert digest_of(world.merchant_b, now) is None  # B: nothing to say, no event
    # Reviewed, the flag is no longer news: the next day's digest of A is quiet.
    [flag] = owner_rows(owner_engine, RiskFlagRecord)
    async with db.unit_of_work(await scope_of(db, world, "a", "ADMIN")) as uow:
        await risk.dismiss(uow, world.merchant_a, flag.id, "a known price change")
    tomorrow = now + timedelta(days=1)
    await digest_sweep(tomorrow.isoformat())
    await jobs.run()
    assert digest_of(world.merchant_a, tomorrow) is None
    quiet = {(r.tenant_id, r.day) for r in owner_rows(owner_engine, DailyDigest)
             if r.status == "QUIET"}
    assert (world.merchant_a, tomorrow.astimezone(SHANGHAI).date().isoformat()) in quiet
    assert jobs.failed_job_ids() == []
