"""No secret and no personal datum reaches a log line.

Representative flows run through the API and real workers with every log line
of the process captured (stdlib and structlog, DEBUG, the production JSON
format); then every secret and personal value the test created is searched
for, in the forms it may take (as given, without spaces).
"""

from __future__ import annotations

import logging
from typing import Any

import httpx
import structlog

from qrefund.graphql_schema import ids
from qrefund.jobs.registry import QUEUES
from qrefund.observability.redaction import REDACTED, scrub
from tests.channels.api import CREATE as CREATE_CHANNEL
from tests.channels.api import wechat_input
from tests.consumer import api as consumer
from tests.foundation.helpers import record_txn
from tests.jobs.support import JobHarness
from tests.observability.conftest import CapturedLogs
from tests.refunds.api import mutate
from tests.support.graphql import ok
from tests.support.world import World

CREATE_KEY = """mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) {
  apiKey { id } secret userErrors { code field message } } }"""
CREATE_HOOK = """mutation($i: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $i) {
  webhookEndpoint { id } secret userErrors { code field message } } }"""

PHONE, EMAIL = "13912345678", "alice.wong@example.cn"
PAYER, BANK = "6217000010001234567", "6222 0000 1111 2222"


def _forms(value: str) -> set[str]:
    """A value as it might be logged: as given, without spaces, PEM body lines."""
    forms = {value, value.replace(" ", "")}
    forms |= {line for line in value.splitlines() if len(line) >= 16 and "-----" not in line}
    return forms


async def _flows(client: httpx.AsyncClient, world: World, jobs: JobHarness) -> dict[str, str]:
    """Keys, webhook and channel secrets, payer, consumer and bank data, through the API."""
    admin = world.key("a")
    made: dict[str, str] = {}
    key = (await ok(client, CREATE_KEY, {"i": {"tenantId": ids.encode("Tenant", world.merchant_a),
                                               "name": "till 9", "role": "INTEGRATION"}},
                    key=admin))["createApiKey"]
    made["api key"] = key["secret"]
    hook = (await ok(client, CREATE_HOOK, {"i": {"url": "http://127.0.0.1:9/hook",
                                                 "eventTypes": ["refund_case.*"]}},
                     key=admin))["createWebhookEndpoint"]
    made["webhook secret"] = hook["secret"]
    creds = wechat_input()
    channel = (await ok(client, CREATE_CHANNEL, {"i": {"channel": "WECHAT_PAY",
                                                       "wechatPay": creds}}, key=admin))
    assert channel["createPaymentChannelAccount"]["userErrors"] == [], channel
    made["channel private key"] = creds["merchantPrivateKey"]
    made["channel api v3 key"] = creds["apiV3Key"]
    # The new integration key records a payment with the payer's account ...
    txn = await record_txn(client, made["api key"], amount="80.00", payerAccount=PAYER)
    made["payer account"] = PAYER
    # ... the consumer applies with phone, e-mail and a bank account ...
    applied = await consumer.payload(
        client, "ApplyForRefund", receiptToken=txn["receiptToken"], amount="30.00",
        reason="QUALITY_ISSUE", method="BANK_TRANSFER", bankDestination=BANK,
        contactPhone=PHONE, contactEmail=EMAIL, description="cracked screen")
    assert applied["userErrors"] == [], applied
    made |= {"receipt token": txn["receiptToken"], "phone": PHONE, "e-mail": EMAIL,
             "bank destination": BANK}
    # ... and the merchant approves: notifications, webhooks and a bank payout run.
    agent = world.key("a", "REFUND_AGENT")
    case_id = applied["refundCase"]["id"]
    for name in ("StartRefundReview", "ApproveRefund"):
        assert (await mutate(client, name, agent, id=case_id))["userErrors"] == []
    await jobs.drain(QUEUES)
    return made


async def test_flows_log_no_secret_and_no_personal_data(
        client: httpx.AsyncClient, world: World, jobs: JobHarness,
        captured_logs: CapturedLogs) -> None:
    made = await _flows(client, world, jobs)
    text = captured_logs.text
    # The flows did log (requests, jobs, notifications), so the search means something
    records = captured_logs.records()
    assert len(records) > 20
    assert any(r.get("job_id") for r in records), "worker lines carry their job id"
    assert any(r.get("logger") == "qrefund.notifications" or "SMS" in r["event"]
               or "e-mail" in r["event"] for r in records), "notifications were logged"
    leaks = {name: form for name, value in made.items() for form in _forms(value)
             if form in text}
    assert leaks == {}


def test_the_search_would_find_a_leak_if_redaction_were_off(
        captured_logs: CapturedLogs) -> None:
    # The capture sees stdlib lines: here one that redaction does not know about
    logging.getLogger("qrefund.test").info("plain %s", "harmless-value")
    assert "harmless-value" in captured_logs.text


def test_stdlib_and_structlog_lines_are_redacted_by_shape_and_by_name(
        captured_logs: CapturedLogs) -> None:
    logging.getLogger("qrefund.test").warning(
        "contact %s / %s, key qrk_0a1b2c3d_%s, hook whsec_%s, card 6222020200112233 "
        "or 6222 0202 0011 2233",
        "+86 139 1234 5678", "bob@example.com", "S" * 43, "W" * 43)
    structlog.get_logger("qrefund.test").info("made", secret="hunter2", phone="555",
                                              payer_account="acct-1", note="fine")
    try:
        raise ValueError("Authorization: Bearer qrk_0a1b2c3d_" + "T" * 43)
    except ValueError:
        logging.getLogger("qrefund.test").exception("boom")
    text = captured_logs.text
    for leaked in ("139 1234 5678", "bob@example.com", "S" * 43, "W" * 43,
                   "6222020200112233", "6222 0202 0011 2233", "hunter2", "acct-1", "T" * 43):
        assert leaked not in text, leaked
    made = next(r for r in captured_logs.records() if r["event"] == "made")
    assert made["secret"] == made["phone"] == made["payer_account"] == REDACTED
    assert made["note"] == "fine"
    assert "qrk_0a1b2c3d" + REDACTED in text  # the public prefix stays, for look-ups


def test_ids_dates_and_amounts_stay_readable() -> None:
    line = ("case 01a22bb7-2590-702e-9cfa-4d7b7e551fd8 due 2026-11-30T09:00:00Z "
            "amount 3650 CNY, 12 jobs, job ev-01a22bba35f0774eaa3b865796f232ff-2e8cd9f13514 "
            "on worker 0a1b2c3d4e5f60718293a4b5c6d7e8f9")
    assert scrub(line) == line


def test_the_redactor_keeps_unknown_structures_printable() -> None:
    value: Any = {"nested": {"email": "x@y.cn", "list": ["13800138000", 5]}}
    assert scrub(str(value)).count(REDACTED) == 2
