"""The floor of each measured write: plain Starlette endpoints doing, with raw psycopg, the
rows the API writes for ``submitRefundRequest``, ``startRefundReview`` and
``approveRefund``, and answering the JSON the API answers.

Routes (served on the read floor's app, ``bench.reads_floor:app``, and its pool):
``POST /submit``, ``POST /review``, ``POST /approve``. They take the API's request
bodies (``{"query": ..., "variables": {"i": {...}}}``; the query is ignored) and the
same ``Authorization: Bearer <key>``, of which only the ids are read: the tenant (as
the read floor does) and the key id, for the actor the API stamps on its rows
(``api_key:<id>``). No authentication, no permission check, no GraphQL.

Each request is ONE transaction on a connection acting as ``qrefund_app`` (row-level
security applies) that first publishes the tenant setting, then writes the same rows
as the API, taking the same row locks in the same order:

* submit: the idempotency record (``INSERT ... ON CONFLICT DO NOTHING``; a replay
  answers the first case), the payment's row lock (``FOR UPDATE``, with its
  merchant's clock and policy and the open-flag check folded into that statement),
  the merchant's ``refund_case`` counter (case number), the case, the payment's
  reservation and refund count, the timeline event, the merchant's ``events``
  counter (its row lock: every write of a merchant queues on it) and the outbox event;
* review: the case's row lock and its change in one ``UPDATE ... WHERE status IN
  (<the states the transition table allows>)``, then event, ``events`` counter, outbox;
* approve: the idempotency record, the case's row lock (``FOR UPDATE``, with its
  payment's channel and whether the merchant has an enabled account of it), the
  payment's row lock, the case's change, event, ``events`` counter, outbox.

The rule: one statement per row written or lock taken, reads folded into the statement
that takes a lock; the API's statements that neither write nor decide anything here
are left out (the second policy read and the risk-feedback count of the anomaly
screen, whose rules cannot fire for a payment without terminal or store; the unlocked
payment read before the locked one; the idempotency ``SELECT`` and ``SAVEPOINT``
around its insert; the ``UPDATE`` of the case's event count right after its
``INSERT``). The API's read unit for the key look-up, its rate-limit call and its
after-commit relay nudge (Redis) are not database writes and are left out too; no
payout row is written by the API in these mutations (the payout job makes it, and no
worker runs in the benchmark), so none here either.

Pure computations come from ``qrefund`` so that the rows are equal in shape: input
checks (``intake._clean``), eligibility (``intake.check_eligibility``), risk flags,
SLA deadlines (``policies.sla.due_at``), the transition table, idempotency hashes,
the outbox payload (``refunds.service.event_payload``), global ids. The case number
format (``RF<local yymmdd>-<number:06d>``) is copied from ``intake._new_case``.

Paths the benchmark never takes answer HTTP 501 (``bench.compare`` counts them bad and
its check before timing fails): evidence, contacts or a bank destination on submit
(encrypted columns, evidence rows), a payment with a terminal or store or an open risk
flag (the anomaly rules would read or write), a policy that would auto-approve,
a partial approval, and approval without the merchant's own channel account (the API
would look for its agency's link). ``python -m bench.write_capture`` prints the
statements of both sides.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg.types.json import Json
from psycopg_pool import AsyncConnectionPool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from qrefund.graphql_schema.ids import encode, scoped_id
from qrefund.platform import validation
from qrefund.platform.channels.models import AccountChannel, AccountStatus
from qrefund.platform.clock import utcnow
from qrefund.platform.errors import DomainError, IdempotencyKeyReused, InvalidInput, NotFound
from qrefund.platform.ids import new_id
from qrefund.platform.money import Money
from qrefund.platform.policies.models import RefundPolicy
from qrefund.platform.policies.sla import due_at
from qrefund.platform.policies.terms import DEFAULT_TERMS, PolicySource, PolicyTerms
from qrefund.platform.refunds import intake
from qrefund.platform.refunds.errors import RefundError
from qrefund.platform.refunds.idempotency import request_hash
from qrefund.platform.refunds.lifecycle import TRANSITIONS, Action, next_status
from qrefund.platform.refunds.models import RefundCase
from qrefund.platform.refunds.service import NOTE_MAX, event_payload
from qrefund.platform.transactions.models import Transaction
from qrefund.platform.vocabulary import RefundCaseStatus as S
from qrefund.platform.vocabulary import RefundMethod, RefundReason, RequestChannel
from qrefund.tenants.auth import parse_key

SCOPE_SQL = ("SELECT set_config('qrefund.tenant_ids', %(ids)s, true), "
             "set_config('qrefund.all_tenants', 'off', true)")
CLAIM_SQL = """INSERT INTO idempotency_records
  (tenant_id, operation, key, request_hash, result_id, created_at)
VALUES (%(tenant)s, %(operation)s, %(key)s, %(hash)s, %(result)s, %(now)s)
ON CONFLICT (tenant_id, operation, key) DO NOTHING RETURNING result_id"""
CLAIMED_SQL = """SELECT request_hash, result_id FROM idempotency_records
WHERE tenant_id = %(tenant)s AND operation = %(operation)s AND key = %(key)s"""
NEXT_SQL = """INSERT INTO tenant_sequences (tenant_id, name, value) VALUES (%(tenant)s, %(name)s, 1)
ON CONFLICT (tenant_id, name) DO UPDATE SET value = tenant_sequences.value + 1 RETURNING value"""
PAYMENT_SQL = """SELECT t.merchant_order_no, t.provider_reference, t.amount_minor,
  t.refunded_minor, t.reserved_minor, t.refund_count, t.currency, t.status, t.paid_at,
  t.channel, t.terminal_id, t.store_id, m.timezone, m.country,
  (SELECT row_to_json(p) FROM refund_policies p
    WHERE p.tenant_id = m.id OR (m.kind = 'MERCHANT' AND p.tenant_id = m.parent_id)
    ORDER BY p.tenant_id = m.id DESC, p.version DESC LIMIT 1) AS policy,
  EXISTS (SELECT 1 FROM risk_flags f WHERE f.tenant_id = t.tenant_id
    AND f.transaction_id = t.id AND f.subject_type = 'TRANSACTION' AND f.status = 'OPEN')
    AS flagged
FROM transactions t JOIN tenants m ON m.id = t.tenant_id
WHERE t.tenant_id = %(tenant)s AND t.id = %(id)s FOR UPDATE OF t"""
_CASE_FIELDS = ("tenant_id", "id", "case_number", "transaction_id", "status", "requested_minor",
                "approved_minor", "currency", "reason", "channel", "method", "escalation_level",
                "review_due_at", "completion_due_at", "event_count")
CASE_COLUMNS = ", ".join(_CASE_FIELDS)
INSERT_CASE_SQL = """INSERT INTO refund_cases (tenant_id, id, case_number, transaction_id, status,
  requested_minor, currency, reason, channel, method, description, risk_flags, policy_tenant_id,
  policy_id, policy_version, extension_used_minutes, review_due_at, completion_due_at,
  next_due_at, escalation_level, submitted_by, event_count, created_at, updated_at)
VALUES (%(tenant_id)s, %(id)s, %(case_number)s, %(transaction_id)s, %(status)s,
  %(requested_minor)s, %(currency)s, %(reason)s, %(channel)s, %(method)s, %(description)s,
  %(risk_flags)s, %(policy_tenant_id)s, %(policy_id)s, %(policy_version)s, 0,
  %(review_due_at)s, %(completion_due_at)s, %(review_due_at)s, 0, %(submitted_by)s, 1,
  %(now)s, %(now)s)"""
RESERVE_SQL = """UPDATE transactions SET reserved_minor = reserved_minor + %(minor)s,
  refund_count = refund_count + 1 WHERE tenant_id = %(tenant)s AND id = %(id)s"""
REVIEW_SQL = f"""UPDATE refund_cases SET status = %(to)s, assignee = %(who)s,
  review_started_at = %(now)s, next_due_at = review_due_at, event_count = event_count + 1,
  updated_at = %(now)s
WHERE tenant_id = %(tenant)s AND id = %(id)s AND status = ANY(%(from)s)
RETURNING {CASE_COLUMNS}"""
STATUS_SQL = "SELECT status FROM refund_cases WHERE tenant_id = %(tenant)s AND id = %(id)s"
LOCK_CASE_SQL = f"""SELECT {", ".join("c." + f for f in _CASE_FIELDS)}, t.channel AS txn_channel,
  EXISTS (SELECT 1 FROM payment_channel_accounts a WHERE a.tenant_id = c.tenant_id
    AND a.channel = t.channel AND a.status = %(enabled)s) AS has_account
FROM refund_cases c JOIN transactions t ON t.tenant_id = c.tenant_id AND t.id = c.transaction_id
WHERE c.tenant_id = %(tenant)s AND c.id = %(id)s FOR UPDATE OF c"""
LOCK_PAYMENT_SQL = "SELECT 1 FROM transactions WHERE tenant_id = %(tenant)s AND id = %(id)s " \
    "FOR UPDATE"
APPROVE_SQL = f"""UPDATE refund_cases SET status = %(to)s, approved_minor = %(minor)s,
  decision_note = %(note)s, approved_at = %(now)s, next_due_at = completion_due_at,
  event_count = event_count + 1, updated_at = %(now)s
WHERE tenant_id = %(tenant)s AND id = %(id)s RETURNING {CASE_COLUMNS}"""
CASE_EVENT_SQL = """INSERT INTO refund_case_events
  (tenant_id, id, case_id, seq, type, from_status, to_status, actor, note, data, occurred_at)
VALUES (%(tenant)s, %(id)s, %(case)s, %(seq)s, %(type)s, %(from)s, %(to)s, %(actor)s, %(note)s,
  %(data)s, %(now)s)"""
OUTBOX_SQL = """INSERT INTO domain_events
  (tenant_id, id, seq, type, aggregate_type, aggregate_id, payload, actor, occurred_at)
VALUES (%(tenant)s, %(id)s, %(seq)s, %(type)s, 'refund_case', %(case)s, %(payload)s, %(actor)s,
  %(now)s)"""

Conn = AsyncConnection[Any]


class Unsupported(Exception):
    """A path of the API's mutation that the floor does not implement (HTTP 501)."""


@dataclass(frozen=True)
class Answer:
    """What the mutation answers: ``refundCase { id status }``."""

    tenant: uuid.UUID
    id: uuid.UUID
    status: str

    @classmethod
    def of(cls, case: RefundCase) -> Answer:
        return cls(case.tenant_id, case.id, case.status)


@dataclass(frozen=True)
class Caller:
    tenant: uuid.UUID  # the key's tenant: the RLS setting
    actor: str  # what the API stamps on rows: ``api_key:<key id>``


def caller(request: Request) -> Caller:
    tenant, key_id, _secret = parse_key(
        request.headers.get("authorization", "").removeprefix("Bearer "))
    return Caller(tenant, f"api_key:{key_id}")


async def _one(conn: Conn, sql: str, params: dict[str, Any]) -> dict[str, Any] | None:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(sql, params)
        return await cur.fetchone()


async def _next(conn: Conn, tenant: uuid.UUID, name: str) -> int:
    """A per-tenant counter's next value; its row stays locked until commit."""
    row = await (await conn.execute(NEXT_SQL, {"tenant": tenant, "name": name})).fetchone()
    assert row is not None
    return int(row[0])


async def _claim(conn: Conn, tenant: uuid.UUID, operation: str, key: str,
                 request: dict[str, Any], result: uuid.UUID) -> uuid.UUID | None:
    """``qrefund.platform.refunds.idempotency.claim`` in one statement: None when this
    call owns ``key``; else the first call's result id (a replay)."""
    key = validation.code(key, "idempotencyKey", max_len=128) or ""
    params = {"tenant": tenant, "operation": operation, "key": key,
              "hash": request_hash(request), "result": result, "now": utcnow()}
    if (await (await conn.execute(CLAIM_SQL, params)).fetchone()) is not None:
        return None
    found = await _one(conn, CLAIMED_SQL, params)
    assert found is not None  # the conflicting row committed before ours could insert
    if found["request_hash"] != params["hash"]:
        raise IdempotencyKeyReused("this idempotencyKey was used with different input",
                                   field=["idempotencyKey"])
    return uuid.UUID(str(found["result_id"]))


async def _replay(conn: Conn, tenant: uuid.UUID, case_id: uuid.UUID) -> Answer:
    """A replayed idempotency key answers the first call's case as it is now."""
    row = await _one(conn, STATUS_SQL, {"tenant": tenant, "id": case_id})
    if row is None:
        raise NotFound("refund case not found", field=["id"])
    return Answer(tenant, case_id, row["status"])


async def record_event(conn: Conn, who: Caller, case: RefundCase, now: datetime, *, type: str,
                       source: S | None, note: str | None, data: dict[str, Any]) -> None:
    """``refunds.service.record_case_event``: the timeline row (``case.event_count`` is
    already the new count), the tenant's ``events`` counter, the outbox row."""
    target = S(case.status)
    await conn.execute(CASE_EVENT_SQL, {
        "tenant": case.tenant_id, "id": new_id(), "case": case.id, "seq": case.event_count,
        "type": type, "from": source.value if source else None, "to": target.value,
        "actor": who.actor[:80], "note": note, "data": Json(data), "now": now})
    seq = await _next(conn, case.tenant_id, "events")
    payload = {**event_payload(case), "fromStatus": source.value if source else None,
               "toStatus": target.value, "note": note, "actor": who.actor, **data}
    await conn.execute(OUTBOX_SQL, {
        "tenant": case.tenant_id, "id": new_id(), "seq": seq, "type": f"refund_case.{type}",
        "case": case.id, "payload": Json(payload), "actor": who.actor, "now": now})


def _submission(i: dict[str, Any]) -> intake.SubmitRefund:
    """``graphql_schema.refunds.mutations._submission`` from the JSON variables."""
    tenant_id, txn_id = scoped_id(i["transactionId"], "Transaction", "transactionId")
    if i.get("evidence") or i.get("contactPhone") or i.get("contactEmail") \
            or i.get("bankDestination"):
        raise Unsupported("evidence, contacts and bank destinations are not in the floor")
    method = i.get("method")
    return intake.SubmitRefund(
        tenant_id=tenant_id, transaction_id=txn_id, amount=Decimal(str(i["amount"])),
        reason=RefundReason(i["reason"]), channel=RequestChannel(i["channel"]),
        method=RefundMethod(method) if method else None, description=i.get("description"),
        currency=i.get("currency"), flagged_as_risk=bool(i.get("flaggedAsRisk", False)),
        idempotency_key=i.get("idempotencyKey"))


def _terms(policy: dict[str, Any] | None, merchant: uuid.UUID) -> PolicyTerms:
    """``policies.service.effective_for`` from the policy row the lock statement read
    (``row_to_json``: ids and times come back as text)."""
    if policy is None:
        return DEFAULT_TERMS
    row = RefundPolicy(**{**policy, "tenant_id": uuid.UUID(policy["tenant_id"]),
                          "id": uuid.UUID(policy["id"]),
                          "published_at": datetime.fromisoformat(policy["published_at"])})
    own = row.tenant_id == merchant
    return PolicyTerms.of(row, PolicySource.MERCHANT if own else PolicySource.AGENCY_TEMPLATE)


def _payment(cmd: intake.SubmitRefund, row: dict[str, Any]) -> Transaction:
    return Transaction(
        tenant_id=cmd.tenant_id, id=cmd.transaction_id,
        merchant_order_no=row["merchant_order_no"], provider_reference=row["provider_reference"],
        amount_minor=row["amount_minor"],
        refunded_minor=row["refunded_minor"], reserved_minor=row["reserved_minor"],
        refund_count=row["refund_count"], currency=row["currency"], status=row["status"],
        paid_at=row["paid_at"], channel=row["channel"])


@dataclass(frozen=True)
class _Judged:
    """What the payment's lock statement decided: its row, the terms, the amount."""

    row: dict[str, Any]
    terms: PolicyTerms
    money: Money
    flags: list[str]


def _new_case(cmd: intake.SubmitRefund, clean: intake._Clean, who: Caller, case_id: uuid.UUID,
              judged: _Judged, number: int, now: datetime) -> RefundCase:
    """``intake._new_case`` without contacts (event_count is already 1: its event)."""
    row, terms, money = judged.row, judged.terms, judged.money
    local_day = now.astimezone(ZoneInfo(row["timezone"])).strftime("%y%m%d")
    clock = (row["timezone"], row["country"])
    return RefundCase(
        tenant_id=cmd.tenant_id, id=case_id, case_number=f"RF{local_day}-{number:06d}",
        transaction_id=cmd.transaction_id, status=S.SUBMITTED.value,
        requested_minor=money.minor, currency=money.currency, reason=cmd.reason.value,
        channel=cmd.channel.value, method=clean.method.value, description=clean.description,
        risk_flags=judged.flags, policy_tenant_id=terms.owner_tenant_id, policy_id=terms.policy_id,
        policy_version=terms.version, escalation_level=0, event_count=1,
        review_due_at=due_at(terms, now, terms.review_sla_hours, *clock),
        completion_due_at=due_at(terms, now, terms.completion_sla_hours, *clock),
        submitted_by=who.actor[:80])


async def _judge(conn: Conn, cmd: intake.SubmitRefund, clean: intake._Clean, now: datetime
                 ) -> _Judged:
    """The payment under its row lock, its merchant's terms, the eligibility verdict."""
    row = await _one(conn, PAYMENT_SQL, {"tenant": cmd.tenant_id, "id": cmd.transaction_id})
    if row is None:
        raise NotFound("transaction not found")
    txn = _payment(cmd, row)
    terms = _terms(row["policy"], cmd.tenant_id)
    money = intake.check_eligibility(txn, terms, cmd, clean, now)
    flags = intake._risk_flags(txn, cmd, clean)
    if row["terminal_id"] or row["store_id"] or row["flagged"]:
        raise Unsupported("a payment with a terminal, a store or an open risk flag runs the "
                          "anomaly rules, which the floor does not")
    if terms.auto_approves(amount_minor=money.minor, currency=money.currency,
                           reason=cmd.reason.value, risk_flags=flags):
        raise Unsupported("auto-approval is not in the floor")
    return _Judged(row, terms, money, flags)


async def submit(conn: Conn, who: Caller, i: dict[str, Any]) -> Answer:
    """submitRefundRequest (``intake.submit``): the case, and whether it is a replay."""
    cmd = _submission(i)
    clean = intake._clean(cmd)
    result = new_id()
    if cmd.idempotency_key is not None:
        first = await _claim(conn, cmd.tenant_id, "submitRefundRequest", cmd.idempotency_key,
                             cmd.fingerprint(), result)
        if first is not None:
            return await _replay(conn, cmd.tenant_id, first)
    now = utcnow()
    judged = await _judge(conn, cmd, clean, now)
    number = await _next(conn, cmd.tenant_id, "refund_case")
    case = _new_case(cmd, clean, who, result, judged, number, now)
    await conn.execute(INSERT_CASE_SQL, {
        **{f: getattr(case, f) for f in _CASE_FIELDS}, "description": case.description,
        "risk_flags": Json(case.risk_flags), "policy_tenant_id": case.policy_tenant_id,
        "policy_id": case.policy_id, "policy_version": case.policy_version,
        "submitted_by": case.submitted_by, "now": now})
    await conn.execute(RESERVE_SQL, {"minor": case.requested_minor, "tenant": cmd.tenant_id,
                                     "id": cmd.transaction_id})
    await record_event(conn, who, case, now, type="submitted", source=None,
                       note=case.description,
                       data={"policyVersion": judged.terms.version, "riskFlags": case.risk_flags})
    return Answer.of(case)


def _sources(action: Action) -> list[str]:
    return [source.value for (a, source) in TRANSITIONS if a == action]


def _case(row: dict[str, Any]) -> RefundCase:
    """A case from a ``RETURNING`` row (times in UTC, as the API's column type gives them)."""
    case = RefundCase(**row)
    case.review_due_at = case.review_due_at.astimezone(UTC)
    case.completion_due_at = case.completion_due_at.astimezone(UTC)
    return case


async def _refused(conn: Conn, tenant: uuid.UUID, case_id: uuid.UUID, action: Action) -> None:
    """Why a guarded ``UPDATE`` found no row: not found, or the transition's error."""
    row = await _one(conn, STATUS_SQL, {"tenant": tenant, "id": case_id})
    if row is None:
        raise NotFound("refund case not found", field=["id"])
    next_status(action, S(row["status"]))


async def review(conn: Conn, who: Caller, i: dict[str, Any]) -> Answer:
    """startRefundReview (``service.start_review``)."""
    tenant, case_id = scoped_id(i["id"], "RefundCase")
    assignee = validation.text(i.get("assignee"), "assignee", max_len=80, required=False)
    who_name = assignee or who.actor[:80]
    sources = _sources(Action.START_REVIEW)
    assert len(sources) == 1  # so that the event's fromStatus is known without a read
    now = utcnow()
    row = await _one(conn, REVIEW_SQL, {
        "to": S.UNDER_REVIEW.value, "who": who_name, "now": now, "tenant": tenant,
        "id": case_id, "from": sources})
    if row is None:
        await _refused(conn, tenant, case_id, Action.START_REVIEW)
        raise AssertionError("unreachable: the case is in a state that starts review")
    case = _case(row)
    await record_event(conn, who, case, now, type="review_started", source=S(sources[0]),
                       note=None, data={"assignee": who_name})
    return Answer.of(case)


def _approved_minor(i: dict[str, Any], case: dict[str, Any]) -> int:
    if i.get("amount") is None:
        return int(case["requested_minor"])
    approved = Money.parse(Decimal(str(i["amount"])), case["currency"]).minor
    if approved > case["requested_minor"]:
        raise InvalidInput(f"the approved amount is more than the requested "
                           f"{Money(case['requested_minor'], case['currency'])}",
                           field=["amount"], code=RefundError.AMOUNT_EXCEEDS_REQUESTED)
    if approved < case["requested_minor"]:
        raise Unsupported("partial approval is not in the floor")
    return approved


async def approve(conn: Conn, who: Caller, i: dict[str, Any]) -> Answer:
    """approveRefund (``service.approve`` and ``approve_locked``), in full."""
    tenant, case_id = scoped_id(i["id"], "RefundCase")
    if i.get("idempotencyKey") is not None:
        amount = i.get("amount")
        request = {"id": str(case_id),
                   "amount": str(Decimal(str(amount))) if amount is not None else None,
                   "note": i.get("note")}
        first = await _claim(conn, tenant, "approveRefund", i["idempotencyKey"], request, case_id)
        if first is not None:
            return await _replay(conn, tenant, first)
    row = await _one(conn, LOCK_CASE_SQL, {"tenant": tenant, "id": case_id,
                                           "enabled": AccountStatus.ENABLED.value})
    if row is None:
        raise NotFound("refund case not found", field=["id"])
    source = S(row["status"])
    next_status(Action.APPROVE, source)
    if row["method"] == RefundMethod.ORIGINAL_ROUTE.value and not row["has_account"] \
            and row["txn_channel"] in AccountChannel.__members__:
        raise Unsupported("approval without the merchant's own channel account")
    approved = _approved_minor(i, row)
    note = validation.text(i.get("note"), "note", max_len=NOTE_MAX, required=False)
    await conn.execute(LOCK_PAYMENT_SQL, {"tenant": tenant, "id": row["transaction_id"]})
    now = utcnow()
    updated = await _one(conn, APPROVE_SQL, {"to": S.APPROVED.value, "minor": approved,
                                             "note": note, "now": now, "tenant": tenant,
                                             "id": case_id})
    assert updated is not None  # locked above
    case = _case(updated)
    await record_event(conn, who, case, now, type="approved", source=source, note=note,
                       data={"autoApproved": False})
    return Answer.of(case)


Work = Callable[[Conn, Caller, dict[str, Any]], Awaitable[Answer]]


def _answer(field: str, case: Answer | None, errors: list[dict[str, Any]]) -> Response:
    node = None if case is None else {
        "id": encode("RefundCase", case.tenant, case.id), "status": case.status}
    body = {"data": {field: {"refundCase": node, "userErrors": errors}}}
    return Response(json.dumps(body, separators=(",", ":")), media_type="application/json")


def write_routes(pool: AsyncConnectionPool[Any]) -> list[Route]:
    """``POST /submit``, ``/review``, ``/approve`` on ``pool`` (connections set to the
    RLS role): one transaction each, answered like the API's mutation."""

    def endpoint(field: str, work: Work) -> Callable[[Request], Awaitable[Response]]:
        async def handle(request: Request) -> Response:
            variables = json.loads(await request.body())["variables"]["i"]
            who = caller(request)
            try:
                async with pool.connection() as conn, conn.transaction():
                    await conn.execute(SCOPE_SQL, {"ids": str(who.tenant)})
                    case = await work(conn, who, variables)
            except DomainError as error:  # rolled back, like the API's unit of work
                return _answer(field, None, [{"code": error.code.value,
                                              "message": error.message}])
            except Unsupported as error:
                return PlainTextResponse(f"not in the write floor: {error}", status_code=501)
            return _answer(field, case, [])

        return handle

    return [Route("/submit", endpoint("submitRefundRequest", submit), methods=["POST"]),
            Route("/review", endpoint("startRefundReview", review), methods=["POST"]),
            Route("/approve", endpoint("approveRefund", approve), methods=["POST"])]
