# ruff: noqa: RUF001 - the zh-CN subjects use full-width punctuation on purpose
"""Consumer notifications: a real SMTP server, the logging SMS adapter, a real RQ worker.

Refund cases and their transitions go through the refund services; the outbox
events they write are handed to the notification handler as the relay would,
and the resulting jobs run on a real worker against real Redis.
"""

from __future__ import annotations

import dataclasses
import logging
from datetime import timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from rq import Queue

from qrefund.graphql_schema import ids
from qrefund.jobs.registry import QUEUE_NOTIFICATIONS, EventMessage
from qrefund.platform import masking
from qrefund.platform.clock import utcnow
from qrefund.platform.db import Database
from qrefund.platform.notifications import templates
from qrefund.platform.notifications.models import Notification
from qrefund.platform.outbox.models import DomainEvent
from qrefund.platform.refunds import service as refunds
from qrefund.platform.refunds.messages import TEMPLATES as REFUND_TEMPLATES
from qrefund.platform.refunds.models import RefundCase
from qrefund.tenants.auth import authenticate
from qrefund.tenants.models import Tenant
from tests.notifications.conftest import Mailbox
from tests.refunds.helpers import record_txn, submit
from tests.support.graphql import gql, ok
from tests.support.world import World
from tests.webhooks.support import Jobs, message_of, owner_rows, owner_update

HANDLERS = "qrefund.jobs.notifications"
EMAIL, PHONE = "consumer.wang@example.com", "13812345678"
NOTIFICATIONS = """query($c: ID!, $first: Int, $after: String) {
  notifications(caseId: $c, first: $first, after: $after) {
    edges { node { id caseId eventType channel recipient locale template subject body status
      provider attempts error sentAt } cursor } pageInfo { hasNextPage endCursor } } }"""


async def _case(db: Database, world: World, **contact: Any) -> RefundCase:
    txn = await record_txn(db, world, "a", amount="88.00")
    return await submit(db, world, txn, "10.00", **contact)


def _events(owner_engine: Any, type: str) -> list[EventMessage]:
    return [message_of(e) for e in owner_rows(owner_engine, DomainEvent, DomainEvent.type == type)]


async def _notify(jobs: Jobs, message: EventMessage, *, retry: bool = True) -> None:
    for spec in jobs.handle(message, HANDLERS):
        jobs.enqueue(spec if retry else dataclasses.replace(spec, retry_intervals=()), message)
    await jobs.run()


def _stored(owner_engine: Any) -> list[Any]:
    return sorted(owner_rows(owner_engine, Notification), key=lambda n: (n.created_at, n.channel))


async def test_submission_is_emailed_and_texted_and_stored(
    client: httpx.AsyncClient, db: Database, world: World, jobs: Jobs,
    smtp: tuple[Mailbox, int], owner_engine: Any, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="qrefund.platform.notifications.notifier")
    case = await _case(db, world, contact_email=EMAIL, contact_phone=PHONE)
    (submitted,) = _events(owner_engine, "refund_case.submitted")
    await _notify(jobs, submitted)

    mailbox, _port = smtp
    ((recipients, mail),) = mailbox.messages
    assert recipients == [EMAIL]
    assert mail["To"] == EMAIL and mail["From"] == "Refunds <refunds@qrefund.test>"
    assert mail["Subject"] == f"退款申请已受理（{case.case_number}）"
    text = mail.get_content()
    assert "Merchant A" in text and "¥10.00" in text and case.case_number in text
    assert "https://refunds.example.com/r/" in text
    sms_logs = [r.getMessage() for r in caplog.records if r.getMessage().startswith("SMS ")]
    assert len(sms_logs) == 1 and "138****5678" in sms_logs[0] and PHONE not in sms_logs[0]

    email_row, sms_row = sorted(_stored(owner_engine), key=lambda n: n.channel)
    assert (email_row.channel, email_row.status, email_row.provider) == ("EMAIL", "SENT", "smtp")
    assert (sms_row.channel, sms_row.status, sms_row.provider) == ("SMS", "SENT", "log")
    assert email_row.recipient_masked == "c***@example.com"
    assert sms_row.recipient_masked == "138****5678"
    assert email_row.provider_message_id == mail["Message-ID"]
    assert email_row.locale == "zh-CN" and email_row.template == "refund_case.submitted"
    assert all(EMAIL not in str(tuple(r)) and PHONE not in str(tuple(r))
               for r in (email_row, sms_row))

    data = await ok(client, NOTIFICATIONS, {"c": ids.encode("RefundCase", case.tenant_id, case.id)},
                    key=world.key("a", "VIEWER"))
    nodes = [e["node"] for e in data["notifications"]["edges"]]
    assert {(n["channel"], n["status"], n["recipient"]) for n in nodes} == {
        ("EMAIL", "SENT", "c***@example.com"), ("SMS", "SENT", "138****5678")}
    assert all(n["sentAt"] and n["attempts"] == 1 for n in nodes)


async def test_running_the_job_again_sends_nothing_more(
    db: Database, world: World, jobs: Jobs, smtp: tuple[Mailbox, int], owner_engine: Any,
) -> None:
    await _case(db, world, contact_email=EMAIL)
    (submitted,) = _events(owner_engine, "refund_case.submitted")
    await _notify(jobs, submitted)
    for spec in jobs.handle(submitted, HANDLERS):  # a re-relayed event, another job id
        jobs.enqueue(spec)
    await jobs.run()
    assert len(smtp[0].messages) == 1
    (row,) = _stored(owner_engine)
    assert row.attempts == 1 and row.status == "SENT"


async def test_a_case_without_contact_gets_no_message(
    db: Database, world: World, jobs: Jobs, smtp: tuple[Mailbox, int], owner_engine: Any,
) -> None:
    await _case(db, world)
    (submitted,) = _events(owner_engine, "refund_case.submitted")
    await _notify(jobs, submitted)
    assert smtp[0].messages == [] and _stored(owner_engine) == []


async def test_every_step_of_a_case_reaches_the_consumer(
    db: Database, world: World, jobs: Jobs, smtp: tuple[Mailbox, int], owner_engine: Any,
) -> None:
    case = await _case(db, world, contact_email=EMAIL)
    scope = await authenticate(db, world.key("a"))
    until = utcnow() + timedelta(hours=60)
    steps = [
        lambda uow: refunds.start_review(uow, case.tenant_id, case.id),
        lambda uow: refunds.request_info(uow, case.tenant_id, case.id,
                                         message="Please send a photo of the receipt"),
        lambda uow: refunds.provide_info(uow, case.tenant_id, case.id, message="photo sent"),
        lambda uow: refunds.extend_deadline(uow, case.tenant_id, case.id, until=until,
                                            reason="waiting for the bank"),
        lambda uow: refunds.approve(uow, case.tenant_id, case.id, amount=Decimal("8.00")),
        lambda uow: refunds.begin_payout(uow, case.tenant_id, case.id),
        lambda uow: refunds.fail_payout(uow, case.tenant_id, case.id, "account closed"),
        lambda uow: refunds.begin_payout(uow, case.tenant_id, case.id),
        lambda uow: refunds.complete_payout(uow, case.tenant_id, case.id),
    ]
    for step in steps:
        async with db.unit_of_work(scope) as uow:
            await step(uow)
    ordered = sorted(owner_rows(owner_engine, DomainEvent,
                                DomainEvent.aggregate_id == case.id), key=lambda e: e.seq)
    for event in ordered:
        await _notify(jobs, message_of(event))

    subjects = [mail["Subject"] for _to, mail in smtp[0].messages]
    n = case.case_number
    assert subjects == [
        f"退款申请已受理（{n}）", f"退款申请需要补充信息（{n}）", f"退款处理期限已延长（{n}）",
        f"退款已同意（{n}）", f"退款支付未成功（{n}）", f"退款已到账（{n}）",
    ]
    bodies = [mail.get_content() for _to, mail in smtp[0].messages]
    assert "Please send a photo of the receipt" in bodies[1]
    assert "waiting for the bank" in bodies[2]
    assert until.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M CST") in bodies[2]
    assert "¥8.00" in bodies[3] and "account closed" in bodies[4] and "¥8.00" in bodies[5]
    assert [r.template for r in _stored(owner_engine)] == [
        "refund_case.submitted", "refund_case.info_requested", "refund_case.deadline_extended",
        "refund_case.approved", "refund_case.payout_failed", "refund_case.refunded"]


async def test_rejection_in_english_for_a_merchant_outside_china(
    db: Database, world: World, jobs: Jobs, smtp: tuple[Mailbox, int], owner_engine: Any,
) -> None:
    owner_update(owner_engine, Tenant, Tenant.id == world.merchant_a, country="SG")
    case = await _case(db, world, contact_email=EMAIL)
    scope = await authenticate(db, world.key("a"))
    async with db.unit_of_work(scope) as uow:
        await refunds.start_review(uow, case.tenant_id, case.id)
    async with db.unit_of_work(scope) as uow:
        await refunds.reject(uow, case.tenant_id, case.id, reason="outside the refund window")
    (rejected,) = _events(owner_engine, "refund_case.rejected")
    await _notify(jobs, rejected)
    ((_to, mail),) = smtp[0].messages
    assert mail["Subject"] == f"Your refund request was declined ({case.case_number})"
    assert "Reason: outside the refund window" in mail.get_content()
    (row,) = _stored(owner_engine)
    assert row.locale == "en"


async def test_smtp_down_is_recorded_failed_and_a_requeue_sends_it(
    db: Database, world: World, jobs: Jobs, smtp: tuple[Mailbox, int], owner_engine: Any,
) -> None:
    from tests.notifications.conftest import free_port

    live_port = jobs.settings.smtp_port
    jobs.reconfigure(smtp_port=free_port())  # nothing listens there
    await _case(db, world, contact_email=EMAIL, contact_phone=PHONE)
    (submitted,) = _events(owner_engine, "refund_case.submitted")
    (spec,) = jobs.handle(submitted, HANDLERS)
    assert spec.retry_intervals  # the relay lets RQ retry a failed send
    await _notify(jobs, submitted, retry=False)

    email_row, sms_row = sorted(_stored(owner_engine), key=lambda n: n.channel)
    assert email_row.status == "FAILED" and email_row.error.startswith("SMTP: ")
    assert email_row.attempts == 1 and sms_row.status == "SENT"
    failed = Queue(QUEUE_NOTIFICATIONS, connection=jobs.redis).failed_job_registry
    (job_id,) = failed.get_job_ids()

    jobs.reconfigure(smtp_port=live_port)
    failed.requeue(job_id)
    await jobs.run()
    assert len(smtp[0].messages) == 1
    email_row, sms_row = sorted(_stored(owner_engine), key=lambda n: n.channel)
    assert email_row.status == "SENT" and email_row.attempts == 2 and email_row.error is None
    assert sms_row.attempts == 1  # not texted twice
    assert failed.get_job_ids() == []


async def test_notifications_query_refusals_and_paging(
    client: httpx.AsyncClient, db: Database, world: World, jobs: Jobs, owner_engine: Any,
) -> None:
    case = await _case(db, world, contact_email=EMAIL, contact_phone=PHONE)
    (submitted,) = _events(owner_engine, "refund_case.submitted")
    await _notify(jobs, submitted)
    gid = ids.encode("RefundCase", case.tenant_id, case.id)
    missing = ids.encode("RefundCase", case.tenant_id, world.merchant_a)
    for variables, code in (({"c": missing}, "NOT_FOUND"), ({"c": "garbage"}, "NOT_FOUND"),
                            ({"c": gid, "after": "nope"}, "INVALID_CURSOR"),
                            ({"c": gid, "first": 0}, "INVALID_PAGE_SIZE")):
        body = await gql(client, NOTIFICATIONS, variables, key=world.key("a"))
        assert body["errors"][0]["extensions"]["code"] == code, body
    first = (await ok(client, NOTIFICATIONS, {"c": gid, "first": 1}, key=world.key("agency")))
    page = first["notifications"]
    assert len(page["edges"]) == 1 and page["pageInfo"]["hasNextPage"] is True
    rest = await ok(client, NOTIFICATIONS, {"c": gid, "after": page["pageInfo"]["endCursor"]},
                    key=world.key("agency"))
    assert len(rest["notifications"]["edges"]) == 1
    assert rest["notifications"]["edges"][0]["node"]["id"] != page["edges"][0]["node"]["id"]


@pytest.mark.parametrize("locale", templates.LOCALES)
@pytest.mark.parametrize("kind", REFUND_TEMPLATES.kinds)
def test_every_template_renders(kind: str, locale: str) -> None:
    context = {"merchant": "M", "case_number": "R-1", "amount": "¥1.00", "review_due": "soon",
               "new_due": "later", "note": "because", "link": "https://x/r/t"}
    rendered = REFUND_TEMPLATES.render(kind, locale, context)
    for text in (rendered.subject, rendered.email, rendered.sms):
        assert text and "{{" not in text and "{%" not in text
    assert "R-1" in rendered.subject and "https://x/r/t" in rendered.email
    assert rendered.template == f"refund_case.{kind}" and rendered.locale == locale


@pytest.mark.parametrize(
    ("value", "masked"),
    [("wang@example.com", "w***@example.com"), ("x", "***"), ("13812345678", "138****5678"),
     ("+86 138 1234 5678", "+86****5678"), ("12345", "****2345"), ("123", "****")],
)
def test_masking(value: str, masked: str) -> None:
    mask = masking.email if "@" in value or value == "x" else masking.phone
    assert mask(value) == masked
