"""The fuzz suite's world: tenants, callers and real objects of every tenant.

:func:`build_fuzz_world` starts from :func:`tests.support.world.build_world`
(operator, two agencies, merchants A and B under the first, C alone, keys) and
adds, through the API with each tenant's own keys, the rows generated ids should
hit: payments, a submitted and an approved refund case, a webhook endpoint, a
published policy and a spare API key per tenant, plus agency keys of every role.
The outbox relay and a real worker then run once, so payouts, webhook deliveries
(to a closed port: failed attempts) and notifications exist too.

The ids of those objects, per tenant, are what the ``ID`` strategy draws from and
what the leak check looks for; the spare keys (never used to call) are the only
API keys whose ids the fuzzer learns, so ``revokeApiKey`` cannot lock a caller out.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
from redis import Redis

from qrefund.graphql_schema import ids
from qrefund.jobs.registry import QUEUE_MAINTENANCE, JobSpec
from qrefund.platform.config import Settings
from qrefund.platform.roles import Role
from tests.channels.api import create_wechat
from tests.complaints.api import mutate as complaint_mutate
from tests.exports.helpers import EXPORT_TXNS
from tests.exports.helpers import period as export_period
from tests.foundation.cross_tenant import tenant_of
from tests.foundation.helpers import record_txn
from tests.imports.helpers import HEADER as IMPORT_HEADER
from tests.imports.helpers import imported
from tests.imports.helpers import row as import_row
from tests.refunds.api import mutate, publish
from tests.support.graphql import ok
from tests.support.world import World
from tests.webhooks.api import created
from tests.webhooks.support import Jobs

MERCHANTS = ("a", "b", "c")
TENANTS = ("operator", "agency", "other_agency", *MERCHANTS)
PAGES = """{ merchants(first: 1) { pageInfo { endCursor } }
  transactions(first: 1) { pageInfo { endCursor } }
  refundCases(first: 1) { pageInfo { endCursor } }
  webhookEndpoints(first: 1) { pageInfo { endCursor } } }"""
# What the jobs made: deliveries of an endpoint, messages and payouts of cases.
DERIVED = """query($e: ID!, $s: ID!, $a: ID!) {
  webhookDeliveries(endpointId: $e) { edges { node { id } } }
  notifications(caseId: $s) { edges { node { id } } }
  node(id: $a) { ... on RefundCase { payouts { id } } } }"""
RELAY = "qrefund.jobs.relay.relay_pending"
CREATE_KEY = """mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) {
  apiKey { id } secret userErrors { code } } }"""


@dataclass(frozen=True)
class Caller:
    """Who sends a fuzzed request: a key (None: anonymous) and its tenant."""

    label: str
    key: str | None
    tenant_id: uuid.UUID | None
    # Merchants whose payment's receipt token the request carried (public fields).
    receipt_tenants: frozenset[uuid.UUID] = frozenset()


@dataclass
class FuzzWorld:
    world: World
    callers: list[Caller]
    # Every global id of a real object, and the tenant that owns it.
    owners: dict[str, uuid.UUID] = field(default_factory=dict)
    # Raw uuids of those objects (they appear in event data and webhook payloads).
    raw_owners: dict[uuid.UUID, uuid.UUID] = field(default_factory=dict)
    cursors: list[str] = field(default_factory=list)  # of real pages
    # Receipt tokens of real payments (one per merchant, with a case and a complaint),
    # so the public consumer fields reach real rows.
    tokens: list[str] = field(default_factory=list)

    def add(self, global_id: str) -> None:
        _type, parts = ids.decode_any(global_id)
        self.owners[global_id] = parts[0]
        for part in parts:
            self.raw_owners[part] = parts[0]

    def ids_by_type(self) -> dict[str, list[str]]:
        by_type: dict[str, list[str]] = {}
        for global_id in sorted(self.owners):
            by_type.setdefault(ids.decode_any(global_id)[0], []).append(global_id)
        return by_type


async def _spare_key(client: httpx.AsyncClient, admin_key: str, tenant_gid: str) -> str:
    data = await ok(client, CREATE_KEY, {"i": {"tenantId": tenant_gid, "name": "spare",
                                                "role": "VIEWER"}}, key=admin_key)
    key_id: str = data["createApiKey"]["apiKey"]["id"]
    return key_id


async def _agency_keys(client: httpx.AsyncClient, world: World) -> None:
    """Keys of every role for the agency (build_world makes only its ADMIN key)."""
    tenant = ids.encode("Tenant", world.agency_id)
    for role in Role:
        if f"agency:{role.value}" in world.keys:
            continue
        data = await ok(client, CREATE_KEY, {"i": {"tenantId": tenant, "name": f"agency {role}",
                                                    "role": role.value}},
                        key=world.key("agency"))
        world.keys[f"agency:{role.value}"] = data["createApiKey"]["secret"]


async def _merchant_objects(client: httpx.AsyncClient, world: World, who: str) -> list[str]:
    """Payments, one refund case submitted and one approved, of one merchant."""
    yen = who == "c"  # merchant C takes JPY: no minor unit
    amount = {"amount": "1200", "currency": "JPY"} if yen else {}
    integration = world.key(who, Role.INTEGRATION)
    txns = [await record_txn(client, integration, **amount) for _ in range(2)]
    submitted = await mutate(client, "SubmitRefundRequest", integration,
                             transactionId=txns[0]["id"], amount="100" if yen else "1.00",
                             reason="QUALITY_ISSUE", channel="API",
                             contactEmail=f"{who}@example.com")
    approved = await mutate(client, "SubmitRefundRequest", integration,
                            transactionId=txns[1]["id"], amount="200" if yen else "2.00",
                            reason="DUPLICATE_CHARGE", channel="API")
    for step in ("StartRefundReview", "ApproveRefund"):
        decided = await mutate(client, step, world.key(who), id=approved["refundCase"]["id"])
        assert decided["userErrors"] == [], decided
    complaint = await complaint_mutate(client, "OpenComplaint", world.key(who, Role.SUPPORT),
                             refundCaseId=submitted["refundCase"]["id"], category="SERVICE",
                             description="The cashier was rude about my refund.",
                             contactEmail=f"{who}@example.com")
    assert complaint["userErrors"] == [], complaint
    export = (await ok(client, EXPORT_TXNS, {"input": {"format": "CSV", **export_period()}},
                       key=world.key(who)))["exportTransactions"]
    assert export["userErrors"] == [], export
    upload = await imported(client, world.key(who), (IMPORT_HEADER + import_row(who)).encode())
    assert upload["userErrors"] == [], upload
    return [t["id"] for t in txns] + [submitted["refundCase"]["id"],
                                      approved["refundCase"]["id"],
                                      complaint["complaintTicket"]["id"],
                                      export["export"]["id"],
                                      upload["transactionImport"]["id"]]


async def _run_jobs(settings: Settings, redis: Redis) -> None:
    """The outbox relay, then one burst of a real worker over every queue."""
    jobs = Jobs(settings.model_copy(update={"webhook_timeout_seconds": 0.5}), redis)
    try:
        jobs.enqueue(JobSpec(QUEUE_MAINTENANCE, RELAY))
        await jobs.run()
    finally:
        await jobs.close()


async def _derived_ids(client: httpx.AsyncClient, key: str, endpoint: str,
                       submitted: str, approved: str) -> list[str]:
    data = await ok(client, DERIVED, {"e": endpoint, "s": submitted, "a": approved}, key=key)
    found = [e["node"]["id"] for e in data["webhookDeliveries"]["edges"]]
    found += [e["node"]["id"] for e in data["notifications"]["edges"]]
    return found + [p["id"] for p in data["node"]["payouts"]]


async def _receipt_token(client: httpx.AsyncClient, key: str, txn_id: str) -> str:
    data = await ok(client, "query($id: ID!) { node(id: $id) { ... on Transaction { "
                    "receiptToken } } }", {"id": txn_id}, key=key)
    token: str = data["node"]["receiptToken"]
    return token


def _callers(world: World) -> list[Caller]:
    """The operator, the agency and merchant A with a key of every role, and no key.
    Hypothesis leans towards the first items it samples: those that reach most lead."""
    callers = [Caller("operator:ADMIN", world.key("operator"), world.operator_id)]
    callers += [Caller(f"{who}:{role.value}", world.key(who, role), tenant_of(world, who))
                for role in Role for who in ("agency", "a")]
    return [*callers, Caller("anonymous", None, None)]


async def _flag_ids(client: httpx.AsyncClient, world: World, who: str) -> list[str]:
    """A payment charged off its order, and the AMOUNT_MISMATCH flag it raised."""
    yen = who == "c"
    amounts = ({"amount": "1250", "expectedAmount": "1000", "currency": "JPY"} if yen
               else {"amount": "12.50", "expectedAmount": "10.00"})
    txn = await record_txn(client, world.key(who, Role.INTEGRATION), **amounts)
    flags = await ok(client, "{ riskFlags(first: 1) { edges { node { id } } } }",
                     key=world.key(who))
    return [txn["id"], flags["riskFlags"]["edges"][0]["node"]["id"]]


async def build_fuzz_world(client: httpx.AsyncClient, world: World, settings: Settings,
                           redis: Redis) -> FuzzWorld:
    await _agency_keys(client, world)
    fuzz = FuzzWorld(world=world, callers=_callers(world))
    for who in TENANTS:
        fuzz.add(ids.encode("Tenant", tenant_of(world, who)))
    endpoints: dict[str, str] = {}
    for who in ("agency", "other_agency", *MERCHANTS):
        tenant_gid = ids.encode("Tenant", tenant_of(world, who))
        endpoints[who], _secret = await created(client, world.key(who),
                                                f"http://127.0.0.1:9/{who}")
        fuzz.add(endpoints[who])
        fuzz.add(await _spare_key(client, world.key(who), tenant_gid))
    cases = {}
    for who in MERCHANTS:
        cases[who] = await _merchant_objects(client, world, who)
        for gid in cases[who]:
            fuzz.add(gid)
    for who in MERCHANTS:  # anomaly flags (node type AnomalyFlag)
        for gid in await _flag_ids(client, world, who):
            fuzz.add(gid)
    for who in MERCHANTS:
        fuzz.tokens.append(await _receipt_token(client, world.key(who), cases[who][0]))
    await _run_jobs(settings, redis)
    for who in MERCHANTS:  # after the jobs: the payouts above went to the sandbox
        fuzz.add((await create_wechat(client, world.key(who)))["id"])
    for who in MERCHANTS:
        _txn, _txn2, submitted, approved, _complaint, _export, _import = cases[who]
        for gid in await _derived_ids(client, world.key(who), endpoints[who], submitted,
                                      approved):
            fuzz.add(gid)
    for who in ("agency", "c"):  # an agency template, and a merchant's own policy
        published: dict[str, Any] = await publish(client, world.key(who))
        assert published["userErrors"] == [], published
        fuzz.add(published["refundPolicy"]["id"])
    for who in ("operator", "agency", "c"):
        pages = await ok(client, PAGES, key=world.key(who))
        fuzz.cursors += [p["pageInfo"]["endCursor"] for p in pages.values()
                         if p["pageInfo"]["endCursor"]]
    return fuzz
