"""PostGraphile 4 (Node) as a third server of ``bench.compare``, for the four reads.

``ensure_installed()`` runs ``npm install --no-audit --no-fund --prefix
bench/results/postgraphile postgraphile@4`` once (git-ignored; nothing is vendored)
and answers the installed version, or None when ``node`` is missing (compare then
skips it). ``prepare_database()`` creates, in the bench database only (not in the
app's migrations), the one thing PostGraphile needs to express the page:
``refund_cases_last_event(refund_cases) RETURNS refund_case_events`` (SQL, STABLE,
security invoker, so row-level security still applies; EXECUTE granted to
``qrefund_app``), which PostGraphile exposes as the computed column
``RefundCase.lastEvent``: the event whose ``seq`` is the case's ``event_count``, as
the floor joins it. ``start()`` runs ``bench/postgraphile_server.js`` (postgraphile as
a library on Node's http server, ``NODE_ENV=production``, no GraphiQL, no watch, no
query log, no CRUD mutations, a pool of 10 connections like the floor's) with
``taskset -c <core> node ...``: taskset execs node, so the process's pid is the
server's and its ``/proc`` CPU time and peak RSS are measured as for the others.
Every request is one transaction with ``role = qrefund_app``,
``qrefund.tenant_ids = <tenant of the Bearer key>`` (the floor's rule) and
``qrefund.all_tenants = off``: the settings the policies read
(``qrefund/migrations/rls.py``).

The queries ask for what the floor returns, in PostGraphile's own schema:
``allRefundCases`` / ``allTransactions`` (``first: 50``, ordered by
``(created_at, id)`` / ``(paid_at, id)`` desc, ``condition: {tenantId}`` so the
statement filters on the tenant as the floor's does) and
``refundCaseByTenantIdAndId`` (primary key) for one case, each case with
``transactionByTenantIdAndTransactionId``; ``allComplaintTickets`` (by ``(created_at,
id)`` desc, the tenant condition) with each ticket's payment. PostGraphile compiles
each query into one SQL statement that builds the whole JSON in PostgreSQL; Node passes it through.

Its answers differ in shape (minor units as strings, uuids, its own cursors), so
``validate()`` maps the floor's answer and PostGraphile's to the same canonical rows
(uuids decoded from the floor's global ids with ``qrefund.graphql_schema.ids``,
amounts in minor units with their currency, the refundable amount
``max(amount - refunded - reserved, 0)``, times in UTC, ``hasNextPage``) and requires
them equal for every key and every case id before any timing; a difference stops the
run with a diff. Cursors are not compared (each server has its own encoding).
"""

from __future__ import annotations

import difflib
import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import psycopg

from bench import wrk
from bench.common import HERE, RESULTS, libpq_url
from qrefund.graphql_schema.ids import scoped_id

PREFIX = RESULTS / "postgraphile"
NODE_MODULES = PREFIX / "node_modules"
LAUNCHER = HERE / "postgraphile_server.js"
PACKAGES = ["postgraphile@4"]

PREPARE_SQL = """
CREATE OR REPLACE FUNCTION refund_cases_last_event(c refund_cases)
RETURNS refund_case_events LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT e.* FROM refund_case_events e
  WHERE e.tenant_id = c.tenant_id AND e.case_id = c.id AND e.seq = c.event_count
$$;
GRANT EXECUTE ON FUNCTION refund_cases_last_event(refund_cases) TO qrefund_app;
"""
_CASE_FIELDS = """tenantId id caseNumber status requestedMinor approvedMinor currency reason
  channel method reviewDueAt completionDueAt escalationLevel
  transactionByTenantIdAndTransactionId { tenantId id merchantOrderNo amountMinor
    refundedMinor reservedMinor currency }"""
CASES_QUERY = f"""query Page($first: Int!, $tenant: UUID!) {{ allRefundCases(
  first: $first, orderBy: [CREATED_AT_DESC, ID_DESC], condition: {{tenantId: $tenant}}) {{
  pageInfo {{ hasNextPage endCursor }}
  edges {{ cursor node {{ {_CASE_FIELDS} createdAt
    lastEvent {{ type actor occurredAt }} }} }} }} }}"""
TRANSACTIONS_QUERY = """query Page($first: Int!, $tenant: UUID!) { allTransactions(
  first: $first, orderBy: [PAID_AT_DESC, ID_DESC], condition: {tenantId: $tenant}) {
  pageInfo { hasNextPage endCursor }
  edges { cursor node { tenantId id merchantOrderNo amountMinor refundedMinor
    reservedMinor currency status channel paidAt terminalId } } } }"""
COMPLAINTS_QUERY = """query Page($first: Int!, $tenant: UUID!) { allComplaintTickets(
  first: $first, orderBy: [CREATED_AT_DESC, ID_DESC], condition: {tenantId: $tenant}) {
  pageInfo { hasNextPage endCursor }
  edges { cursor node { tenantId id ticketNumber status priority category channel
    description assignee team firstResponseDueAt resolutionDueAt firstRespondedAt
    nextDueAt escalationLevel repeatOfId resolution createdAt updatedAt
    transactionByTenantIdAndTransactionId { tenantId id merchantOrderNo amountMinor
      currency } } } } }"""
CASE_QUERY = f"""query One($tenantId: UUID!, $id: UUID!) {{
  refundCaseByTenantIdAndId(tenantId: $tenantId, id: $id) {{ {_CASE_FIELDS} }} }}"""

Row = dict[str, Any]


def installed_version() -> str | None:
    manifest = NODE_MODULES / "postgraphile" / "package.json"
    if not manifest.exists():
        return None
    version: str = json.loads(manifest.read_text())["version"]
    return version if version.startswith("4.") else None


def ensure_installed() -> str | None:
    """The installed postgraphile 4 version (npm-installing it under bench/results
    first when missing), or None when there is no ``node``."""
    if shutil.which("node") is None:
        return None
    version = installed_version()
    if version:
        return version
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit("node is installed but npm is not: install npm, or pass "
                         "--no-postgraphile")
    print(f"installing {' '.join(PACKAGES)} under {PREFIX} ...", flush=True)
    PREFIX.mkdir(parents=True, exist_ok=True)
    done = subprocess.run([npm, "install", "--no-audit", "--no-fund", "--prefix",
                           str(PREFIX), *PACKAGES], capture_output=True, text=True)
    version = installed_version()
    if done.returncode != 0 or version is None:
        raise SystemExit(f"npm install {' '.join(PACKAGES)} failed (or pass "
                         f"--no-postgraphile):\n{done.stdout}{done.stderr}")
    return version


def node_version() -> str:
    return subprocess.run(["node", "--version"], check=True, capture_output=True,
                          text=True).stdout.strip()


def prepare_database(database_url: str) -> None:
    """The computed column ``RefundCase.lastEvent`` (bench database only)."""
    with psycopg.connect(libpq_url(database_url), autocommit=True) as conn:
        conn.execute(PREPARE_SQL)


def start(port: int, database_url: str, core: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "DATABASE_URL": libpq_url(database_url),
           "POSTGRAPHILE_MODULES": str(NODE_MODULES), "NODE_ENV": "production"}
    return subprocess.Popen(["taskset", "-c", str(core), "node", str(LAUNCHER), str(port)],
                            env=env)


def key_tenant(key: str) -> uuid.UUID:
    """The tenant inside an API key (bench.reads_floor and the launcher use the same rule)."""
    return uuid.UUID(hex=key.split("_")[2][:32])


# The floor routes of the reads PostGraphile is asked, and its query for each page.
PAGES = {"/cases": CASES_QUERY, "/transactions": TRANSACTIONS_QUERY,
         "/complaints": COMPLAINTS_QUERY}
PATHS = (*PAGES, "/case")


def load(floor_load: wrk.Load) -> wrk.Load:
    """PostGraphile's load for one read: the floor's (key, body) pairs, in the same order,
    each asking PostGraphile's query for the same rows."""
    items = []
    for key, body in floor_load.items:
        variables = json.loads(body)["variables"]
        if floor_load.path == "/case":
            tenant, case_id = scoped_id(variables["id"], "RefundCase")
            query, new = CASE_QUERY, {"tenantId": str(tenant), "id": str(case_id)}
        else:
            query = PAGES[floor_load.path]
            new = {"first": variables["first"], "tenant": str(key_tenant(key))}
        items.append((key, json.dumps({"query": query, "variables": new})))
    return wrk.Load("/graphql", items)


# -- canonical rows --------------------------------------------------------------------


def _utc(text: str) -> str:
    return datetime.fromisoformat(text).astimezone(UTC).isoformat()


def _money(money: dict[str, str] | None) -> list[Any] | None:
    """The floor's ``{amount: "12.30", currency}`` as [minor units, currency]."""
    if money is None:
        return None
    minor = Decimal(money["amount"]).scaleb(2)
    if minor != minor.to_integral_value():
        raise SystemExit(f"amount with more than 2 decimals: {money}")
    return [int(minor), money["currency"]]


def _minor(value: str | None, currency: str) -> list[Any] | None:
    return None if value is None else [int(value), currency]


def _page_fields(row: Row, node: Row) -> Row:
    """The fields only the cases page asks for (the same names on both servers)."""
    if "createdAt" in node:
        row["createdAt"] = _utc(node["createdAt"])
    if "lastEvent" in node:
        event = node["lastEvent"]
        row["lastEvent"] = event and {**event, "occurredAt": _utc(event["occurredAt"])}
    return row


def _floor_case(node: Row) -> Row:
    tenant, case_id = scoped_id(node["id"], "RefundCase")
    txn = node["transaction"]
    txn_tenant, txn_id = scoped_id(txn["id"], "Transaction")
    row = {"tenant": str(tenant), "id": str(case_id), "caseNumber": node["caseNumber"],
           "status": node["status"], "requested": _money(node["requestedAmount"]),
           "approved": _money(node["approvedAmount"]), "reason": node["reason"],
           "channel": node["channel"], "method": node["method"],
           "reviewDueAt": _utc(node["reviewDueAt"]),
           "completionDueAt": _utc(node["completionDueAt"]),
           "escalationLevel": node["escalationLevel"],
           "transaction": {"tenant": str(txn_tenant), "id": str(txn_id),
                           "merchantOrderNo": txn["merchantOrderNo"],
                           "amount": _money(txn["amount"]),
                           "refundable": _money(txn["refundableAmount"])}}
    return _page_fields(row, node)


def _postgraphile_case(node: Row) -> Row:
    cur = node["currency"]
    txn = node["transactionByTenantIdAndTransactionId"]
    amount, refunded, reserved = (int(txn[k]) for k in (
        "amountMinor", "refundedMinor", "reservedMinor"))
    row = {"tenant": node["tenantId"], "id": node["id"], "caseNumber": node["caseNumber"],
           "status": node["status"], "requested": _minor(node["requestedMinor"], cur),
           "approved": _minor(node["approvedMinor"], cur), "reason": node["reason"],
           "channel": node["channel"], "method": node["method"],
           "reviewDueAt": _utc(node["reviewDueAt"]),
           "completionDueAt": _utc(node["completionDueAt"]),
           "escalationLevel": node["escalationLevel"],
           "transaction": {"tenant": txn["tenantId"], "id": txn["id"],
                           "merchantOrderNo": txn["merchantOrderNo"],
                           "amount": [amount, txn["currency"]],
                           "refundable": [max(amount - refunded - reserved, 0),
                                          txn["currency"]]}}
    return _page_fields(row, node)


def _floor_transaction(node: Row) -> Row:
    tenant, txn_id = scoped_id(node["id"], "Transaction")
    return {"tenant": str(tenant), "id": str(txn_id), "merchantOrderNo": node["merchantOrderNo"],
            "amount": _money(node["amount"]), "refundable": _money(node["refundableAmount"]),
            "status": node["status"], "channel": node["channel"],
            "paidAt": _utc(node["paidAt"]), "terminalId": node["terminalId"]}


def _postgraphile_transaction(node: Row) -> Row:
    amount, refunded, reserved = (int(node[k]) for k in (
        "amountMinor", "refundedMinor", "reservedMinor"))
    cur = node["currency"]
    return {"tenant": node["tenantId"], "id": node["id"],
            "merchantOrderNo": node["merchantOrderNo"], "amount": [amount, cur],
            "refundable": [max(amount - refunded - reserved, 0), cur],
            "status": node["status"], "channel": node["channel"],
            "paidAt": _utc(node["paidAt"]), "terminalId": node["terminalId"]}


def _maybe_utc(text: str | None) -> str | None:
    return None if text is None else _utc(text)


def _ticket(node: Row, tenant: str, ident: str, repeat: bool,
            payment: Row | None) -> Row:
    """The fields both servers answer alike, times in UTC."""
    row = {k: node[k] for k in ("ticketNumber", "status", "priority", "category", "channel",
                                "description", "assignee", "team", "escalationLevel",
                                "resolution")}
    row.update(tenant=tenant, id=ident, isRepeat=repeat, transaction=payment,
               **{k: _maybe_utc(node[k]) for k in (
                   "firstResponseDueAt", "resolutionDueAt", "firstRespondedAt", "nextDueAt",
                   "createdAt", "updatedAt")})
    return row


def _floor_ticket(node: Row) -> Row:
    tenant, ident = scoped_id(node["id"], "ComplaintTicket")
    txn = node["transaction"]
    payment = None
    if txn is not None:
        txn_tenant, txn_id = scoped_id(txn["id"], "Transaction")
        payment = {"tenant": str(txn_tenant), "id": str(txn_id),
                   "merchantOrderNo": txn["merchantOrderNo"], "amount": _money(txn["amount"])}
    return _ticket(node, str(tenant), str(ident), node["isRepeat"], payment)


def _postgraphile_ticket(node: Row) -> Row:
    txn = node["transactionByTenantIdAndTransactionId"]
    payment = None if txn is None else {
        "tenant": txn["tenantId"], "id": txn["id"], "merchantOrderNo": txn["merchantOrderNo"],
        "amount": [int(txn["amountMinor"]), txn["currency"]]}
    return _ticket(node, node["tenantId"], node["id"], node["repeatOfId"] is not None,
                   payment)


def _page(connection: Row, row: Callable[[Row], Row]) -> Row:
    return {"hasNextPage": connection["pageInfo"]["hasNextPage"],
            "rows": [row(edge["node"]) for edge in connection["edges"]]}


def canonical(path: str, data: Row, *, floor: bool) -> Row:
    """An answer's ``data`` as canonical rows (``path``: the floor's route of the read)."""
    if path == "/cases":
        return _page(data["refundCases"], _floor_case) if floor else _page(
            data["allRefundCases"], _postgraphile_case)
    if path == "/transactions":
        return _page(data["transactions"], _floor_transaction) if floor else _page(
            data["allTransactions"], _postgraphile_transaction)
    if path == "/complaints":
        return _page(data["complaintTickets"], _floor_ticket) if floor else _page(
            data["allComplaintTickets"], _postgraphile_ticket)
    node = data["node"] if floor else data["refundCaseByTenantIdAndId"]
    if node is None:
        return {"rows": []}
    return {"rows": [_floor_case(node) if floor else _postgraphile_case(node)]}


# -- validation ------------------------------------------------------------------------


async def _ask(client: httpx.AsyncClient, url: str, key: str, body: str) -> Row:
    response = await client.post(url, content=body, headers={
        "Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    answer = response.json() if response.content else {}
    if response.status_code != 200 or answer.get("errors") or "data" not in answer:
        raise SystemExit(f"{url} answered {response.status_code}: {response.text[:1500]}")
    data: Row = answer["data"]
    return data


def _diff(name: str, n: int, floor: Row, other: Row) -> str:
    lines = difflib.unified_diff(
        json.dumps(floor, indent=1, sort_keys=True).splitlines(),
        json.dumps(other, indent=1, sort_keys=True).splitlines(),
        "floor", "postgraphile", lineterm="", n=2)
    return f"{name} #{n}: postgraphile's rows differ from the floor's:\n" + "\n".join(
        list(lines)[:80])


async def validate(loads: dict[str, dict[str, wrk.Load]], floor_url: str,
                   postgraphile_url: str) -> None:
    """Per read, every (key, body) of the floor and its PostGraphile twin answer the same
    canonical rows; SystemExit with a diff on the first difference."""
    async with httpx.AsyncClient(timeout=60) as client:
        for name, by_kind in loads.items():
            if "postgraphile" not in by_kind:
                continue
            floor_load, pg_load = by_kind["floor"], by_kind["postgraphile"]
            rows = 0
            for n, ((key, body), (pg_key, pg_body)) in enumerate(
                    zip(floor_load.items, pg_load.items, strict=True)):
                assert key == pg_key
                expected = canonical(floor_load.path, await _ask(
                    client, floor_url + floor_load.path, key, body), floor=True)
                got = canonical(floor_load.path, await _ask(
                    client, postgraphile_url + pg_load.path, key, pg_body), floor=False)
                if got != expected:
                    raise SystemExit(_diff(name, n, expected, got))
                rows += len(expected["rows"])
            if rows == 0:
                raise SystemExit(f"{name}: no rows in any answer, nothing was compared")
            print(f"  {name}: {len(floor_load.items)} requests, postgraphile's rows equal "
                  f"the floor's ({rows} rows)", flush=True)
