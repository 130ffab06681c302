"""What a write did to the database, per table: rows inserted, rows updated, and what
each of them holds, read from outside (a superuser connection, RLS not applied).

``mark()`` before the write: every table's row count (of the tenant, where the table
has ``tenant_id``), the next transaction id, and the current version of the rows the
caller names in ``watch``. ``deltas()`` after it: the rows whose ``xmin`` is that
transaction id or newer are the ones the write inserted or updated (a row lock alone,
``FOR UPDATE``, leaves ``xmin`` as it is); the count difference says how many were
inserted, the rest were updated. No write in the benchmark deletes.

Each row written gets a *shape*: for a new row, its columns with ids, times, case
numbers and hashes masked (``<uuid>``, ``<time>`` ...; JSON values likewise, key by
key), a time column as its distance from the row's ``created_at`` (or
``occurred_at``) in whole minutes (``review_due_at: <created_at+2880m>``); for a row
updated from a watched version, the columns that changed, whole numbers as a
difference (``reserved_minor: +500``), the rest masked as above. Two
writes are equal when every table has the same inserted and updated counts and the
same shapes. ``api_keys`` is left out: the API's key look-up writes its
``last_used_at`` at most once a minute, which is authentication, not the mutation.
"""

from __future__ import annotations

import json
import re
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
import psycopg
from psycopg import sql

IGNORED = {"api_keys": "the key look-up's last_used_at (authentication, at most once a minute)"}
# Values that differ between two equal writes because of what happened before them.
MASKED = {("domain_events", "seq")}  # the tenant's event counter
_PATTERNS = [
    (re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"), "<uuid>"),
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?([+-]\d\d:\d\d|Z)?"), "<time>"),
    (re.compile(r"RF\d{6}-\d{6}"), "<case number>"),
    (re.compile(r"\b[0-9a-f]{64}\b"), "<hash>"),
    (re.compile(r"\b[0-9a-f]{32}\b"), "<hex>"),
]
Key = tuple[Any, ...]


@dataclass(frozen=True)
class Table:
    name: str
    scoped: bool  # has tenant_id
    key: tuple[str, ...]  # primary key columns


@dataclass
class Mark:
    xid: int
    counts: dict[str, int]
    before: dict[str, dict[Key, dict[str, Any]]]


@dataclass
class TableDelta:
    inserted: int = 0
    updated: int = 0
    shapes: list[str] = field(default_factory=list)

    def brief(self) -> str:
        return f"+{self.inserted} inserted, {self.updated} updated"


def tables(conn: psycopg.Connection[Any]) -> list[Table]:
    rows = conn.execute("""
        SELECT c.relname,
               EXISTS (SELECT 1 FROM pg_attribute t WHERE t.attrelid = c.oid
                       AND t.attname = 'tenant_id' AND NOT t.attisdropped),
               (SELECT array_agg(a.attname ORDER BY array_position(i.indkey, a.attnum))
                FROM pg_index i JOIN pg_attribute a ON a.attrelid = c.oid
                     AND a.attnum = ANY(i.indkey)
                WHERE i.indrelid = c.oid AND i.indisprimary)
        FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r'
        ORDER BY c.relname""").fetchall()
    return [Table(r[0], r[1], tuple(r[2] or ())) for r in rows if r[0] not in IGNORED]


def _where(table: Table) -> sql.Composable:
    return sql.SQL("tenant_id = %(tenant)s") if table.scoped else sql.SQL("true")


def _rows(conn: psycopg.Connection[Any], table: Table, condition: sql.Composable,
          params: dict[str, Any]) -> list[dict[str, Any]]:
    query = sql.SQL("SELECT row_to_json(t) FROM {} t WHERE {} AND {}").format(
        sql.Identifier(table.name), _where(table), condition)
    return [r[0] for r in conn.execute(query, params).fetchall()]


def mark(conn: psycopg.Connection[Any], tenant: uuid.UUID,
         watch: dict[str, list[uuid.UUID] | None]) -> Mark:
    """Before a write: counts, the next transaction id, the watched rows (``watch``: table
    -> ids of the tenant's rows, or None for all of them)."""
    xid = conn.execute("SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint"
                       ).fetchone()
    assert xid is not None
    counts: dict[str, int] = {}
    before: dict[str, dict[Key, dict[str, Any]]] = {}
    for table in tables(conn):
        query = sql.SQL("SELECT count(*) FROM {} t WHERE {}").format(
            sql.Identifier(table.name), _where(table))
        row = conn.execute(query, {"tenant": tenant}).fetchone()
        counts[table.name] = int(row[0]) if row else 0
        if table.name in watch:
            ids = watch[table.name]
            condition = sql.SQL("id = ANY(%(ids)s)") if ids is not None else sql.SQL("true")
            before[table.name] = {_key(table, r): r for r in _rows(
                conn, table, condition, {"tenant": tenant, "ids": ids})}
    return Mark(int(xid[0]) % 2**32, counts, before)


def _key(table: Table, row: dict[str, Any]) -> Key:
    return tuple(row[c] for c in table.key)


def _mask(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _mask(v) for k, v in sorted(value.items())}
    if isinstance(value, list):
        return [_mask(v) for v in value]
    if isinstance(value, str):
        for pattern, name in _PATTERNS:
            value = pattern.sub(name, value)
    return value


def _time(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _column(table: Table, row: dict[str, Any], column: str) -> Any:
    """A column's value as it goes into a shape."""
    value = row[column]
    if (table.name, column) in MASKED:
        return "<masked>"
    base_column = "created_at" if "created_at" in row else "occurred_at"
    when, base = _time(value), _time(row.get(base_column))
    if when is not None and base is not None and column != base_column:
        return f"<{base_column}{round((when - base).total_seconds() / 60):+d}m>"
    return _mask(value)


def _shape(table: Table, row: dict[str, Any], old: dict[str, Any] | None) -> str:
    if old is None:
        return json.dumps({c: _column(table, row, c) for c in sorted(row)
                           if row[c] is not None})
    changed: dict[str, Any] = {}
    for column, value in sorted(row.items()):
        if value == old.get(column):
            continue
        if isinstance(value, int) and isinstance(old.get(column), int) \
                and not isinstance(value, bool):
            changed[column] = f"{value - old[column]:+d}"
        else:
            changed[column] = _column(table, row, column)
    return json.dumps({"changed": changed})


def deltas(conn: psycopg.Connection[Any], tenant: uuid.UUID, since: Mark
           ) -> dict[str, TableDelta]:
    """After a write: per table that it touched, inserted and updated rows and shapes."""
    out: dict[str, TableDelta] = {}
    young = sql.SQL("age(xmin) <= age(%(xid)s::text::xid)")
    for table in tables(conn):
        rows = _rows(conn, table, young, {"tenant": tenant, "xid": str(since.xid)})
        if not rows:
            continue
        query = sql.SQL("SELECT count(*) FROM {} t WHERE {}").format(
            sql.Identifier(table.name), _where(table))
        count = conn.execute(query, {"tenant": tenant}).fetchone()
        inserted = (int(count[0]) if count else 0) - since.counts.get(table.name, 0)
        watched = since.before.get(table.name, {})
        out[table.name] = TableDelta(
            inserted=inserted, updated=len(rows) - inserted,
            shapes=sorted(_shape(table, r, watched.get(_key(table, r))) for r in rows))
    return out


def differences(a: dict[str, TableDelta], b: dict[str, TableDelta], a_name: str,
                b_name: str) -> list[str]:
    """What differs between two writes' deltas (empty: equal)."""
    found = []
    for name in sorted(set(a) | set(b)):
        da, db = a.get(name, TableDelta()), b.get(name, TableDelta())
        if (da.inserted, da.updated) != (db.inserted, db.updated):
            found.append(f"{name}: {a_name} {da.brief()}, {b_name} {db.brief()}")
            continue
        only_a = Counter(da.shapes) - Counter(db.shapes)
        only_b = Counter(db.shapes) - Counter(da.shapes)
        found += [f"{name}: row only in {a_name}: {s}" for s in only_a]
        found += [f"{name}: row only in {b_name}: {s}" for s in only_b]
    return found


@dataclass
class Outcome:
    """One mutation on one server: its status, what it did to the tables, its statements
    (when the caller traces them)."""

    mutation: str
    status: str
    deltas: dict[str, TableDelta]
    statements: list[str] = field(default_factory=list)


MUTATIONS = [("SubmitRefundRequest", "INTEGRATION"), ("StartRefundReview", "REFUND_AGENT"),
             ("ApproveRefund", "REFUND_AGENT")]
Body = Callable[[str, dict[str, Any]], str]


def _variables(name: str, tenant: uuid.UUID, payment: str, case: str) -> dict[str, Any]:
    from qrefund.graphql_schema.ids import encode

    if name == "SubmitRefundRequest":
        return {"transactionId": encode("Transaction", tenant, uuid.UUID(payment)),
                "amount": "5.00", "reason": "QUALITY_ISSUE", "channel": "API",
                "idempotencyKey": uuid.uuid4().hex}
    if name == "ApproveRefund":
        return {"id": case, "idempotencyKey": uuid.uuid4().hex}
    return {"id": case}


def _watch(payment: str, case: str) -> dict[str, list[uuid.UUID] | None]:
    from qrefund.graphql_schema.ids import scoped_id

    watch: dict[str, list[uuid.UUID] | None] = {
        "tenant_sequences": None, "transactions": [uuid.UUID(payment)]}
    if case:
        watch["refund_cases"] = [scoped_id(case, "RefundCase")[1]]
    return watch


async def write_once(client: httpx.AsyncClient, paths: dict[str, str], body: Body,
                     data: dict[str, Any], merchant: int, payment: str, database: str,
                     trace: list[str] | None = None) -> list[Outcome]:
    """submitRefundRequest on ``payment``, then startRefundReview and approveRefund on its
    case, as the benchmark sends them (``body``; ``paths``: mutation -> path on
    ``client``'s server), with the row deltas of each; a failed one stops the run.
    ``trace``: a statement log the server side appends to, cleared before each request."""
    tenant = uuid.UUID(data["merchants"][merchant])
    outcomes: list[Outcome] = []
    case = ""
    with psycopg.connect(database, autocommit=True) as conn:
        for name, role in MUTATIONS:
            before = mark(conn, tenant, _watch(payment, case))
            if trace is not None:
                trace.clear()
            response = await client.post(
                paths[name], content=body(name, _variables(name, tenant, payment, case)),
                headers={"Authorization": f"Bearer {data['keys'][f'{merchant}:{role}']}",
                         "Content-Type": "application/json"})
            if response.status_code != 200 or '"userErrors":[]' not in response.text:
                raise SystemExit(f"{name} on {client.base_url}{paths[name]}: "
                                 f"{response.status_code} {response.text[:500]}")
            answer = response.json()["data"][name[0].lower() + name[1:]]["refundCase"]
            case = answer["id"]
            outcomes.append(Outcome(name, answer["status"], deltas(conn, tenant, before),
                                    list(trace or [])))
    return outcomes


def summary(found: dict[str, TableDelta]) -> str:
    return "; ".join(f"{name} {d.brief()}" for name, d in sorted(found.items())) or "nothing"
