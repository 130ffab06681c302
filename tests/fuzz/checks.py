"""What every fuzzed (and replayed) response must satisfy.

1. no HTTP status of 500 or more;
2. no ``INTERNAL_ERROR`` code anywhere in the body (``errors`` or ``userErrors``);
3. no id of a tenant outside the caller's sight: every global id in the body is
   decoded (:func:`qrefund.graphql_schema.ids.decode_any`) and its tenant part
   checked, and every raw uuid is looked up among the world's objects and tenants.

A caller sees its own tenant and those below it (an agency its merchants, the
operator everyone). Of the tenants above it, it may see only their ``Tenant`` id
(``parentId``) and the policy it inherits (an agency's template, ``RefundPolicy``);
anything else of an ancestor, and anything at all of a sibling or another
branch, is a leak. A request carrying an authentic receipt token may also see that
payment's merchant (the public consumer fields; that a token reaches its one payment
and nothing else is tested in ``tests/consumer``), and an error message quoting the
caller's own input back is not a leak (ids in ``data`` always count).
"""

from __future__ import annotations

import dataclasses
import json
import re
import uuid
from collections.abc import Iterator
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Engine

from qrefund.graphql_schema import ids
from qrefund.platform.crypto import key_ring
from qrefund.platform.errors import NotFound
from qrefund.platform.transactions.receipt import parse_token
from tests.fuzz.world import Caller, FuzzWorld

_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
# A global id is base64url of "<Type>:<uuid>[:<uuid>]": at least 52 characters.
_TOKEN = re.compile(r"[A-Za-z0-9_-]{48,}")
_INHERITED_TYPES = frozenset({"Tenant", "RefundPolicy"})


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _without_echoes(parsed: Any, sent: set[str], body: str) -> str:
    """The body with request errors that quote the caller's own input left out (only
    ``errors[].message``: data is always scanned whole)."""
    if not isinstance(parsed, dict) or not isinstance(parsed.get("errors"), list):
        return body
    kept = [e for e in parsed["errors"]
            if not (isinstance(e, dict) and any(v in str(e.get("message")) for v in sent))]
    return json.dumps({**parsed, "errors": kept})


def with_receipts(caller: Caller, request: Any) -> Caller:
    """The caller, seeing also the merchants of the authentic receipt tokens it sent."""
    ring = key_ring()
    found = set()
    for text_value in _strings(request):
        for candidate in re.findall(r"[A-Za-z0-9_-]{60,80}", text_value):
            parsed = parse_token(ring, candidate)
            if parsed is not None:
                found.add(parsed[0])
    if not found:
        return caller
    return dataclasses.replace(caller, receipt_tenants=frozenset(found))


class TenantTree:
    """Parent of every tenant, read as the database owner; refreshed when a tenant
    created during the run (createMerchant, createAgency) is first met."""

    def __init__(self, owner_engine: Engine) -> None:
        self.engine = owner_engine
        self.parents: dict[uuid.UUID, uuid.UUID | None] = {}
        self.operators: set[uuid.UUID] = set()
        self.strangers: set[uuid.UUID] = set()  # uuids known not to be tenants

    def _refresh(self) -> None:
        with self.engine.connect() as conn:
            rows = conn.execute(text("SELECT id, parent_id, kind FROM tenants")).all()
        self.parents = {_as_uuid(r[0]): _as_uuid(r[1]) if r[1] else None for r in rows}
        self.operators = {_as_uuid(r[0]) for r in rows if r[2] == "OPERATOR"}

    def known(self, tenant_id: uuid.UUID) -> bool:
        if tenant_id not in self.parents and tenant_id not in self.strangers:
            self._refresh()
            if tenant_id not in self.parents:
                self.strangers.add(tenant_id)
        return tenant_id in self.parents

    def ancestors(self, tenant_id: uuid.UUID) -> list[uuid.UUID]:
        chain: list[uuid.UUID] = []
        parent = self.parents.get(tenant_id) if self.known(tenant_id) else None
        while parent is not None and parent not in chain:
            chain.append(parent)
            parent = self.parents.get(parent)
        return chain


def _as_uuid(value: Any) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def _codes(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "code" and isinstance(item, str):
                yield item
            yield from _codes(item)
    elif isinstance(value, list):
        for item in value:
            yield from _codes(item)


def error_codes(body: Any) -> set[str]:
    """Every ``code`` in a response: of query errors and of userErrors."""
    return set(_codes(body))


class Inspector:
    """Runs the three checks on one response of one caller."""

    def __init__(self, fuzz: FuzzWorld, tree: TenantTree) -> None:
        self.fuzz = fuzz
        self.tree = tree
        # Responses that showed some tenant's object (to a caller allowed to see it):
        # proof that generated calls reach real rows, else the leak check sees nothing.
        self.hits = 0

    def check(self, caller: Caller, status: int, body: str, request: Any = None) -> None:
        """``request``: what was sent; a receipt token in it lets the caller see its
        payment's merchant (the public consumer fields), as the token's holder may."""
        sent: set[str] = set()
        if request is not None:
            caller = with_receipts(caller, request)
            # An error quoting the caller's own input back (a document that failed
            # validation) shows nothing the caller did not send.
            sent = {value for text_value in _strings(request)
                    for value in (*_TOKEN.findall(text_value), *_UUID.findall(text_value))}
        assert status < 500, f"HTTP {status} for {caller.label}: {body[:2000]}"
        try:
            parsed = json.loads(body)
        except ValueError:
            raise AssertionError(f"not JSON (HTTP {status}): {body[:500]}") from None
        assert "INTERNAL_ERROR" not in error_codes(parsed), f"{caller.label}: {body[:2000]}"
        scanned = _without_echoes(parsed, sent, body) if sent else body
        shown = sorted(self.shown(caller, scanned))
        leaks = [what for what, visible in shown if not visible]
        assert not leaks, f"{caller.label} was shown {leaks}: {body[:2000]}"
        self.hits += bool(shown)

    def shown(self, caller: Caller, body: str) -> Iterator[tuple[str, bool]]:
        """Each id of a tenant's object in the body, and whether the caller may see it."""
        for token in set(_TOKEN.findall(body)):
            try:
                kind, parts = ids.decode_any(token)
            except NotFound:
                continue
            if parts and self.tree.known(parts[0]):
                yield (f"{kind} id {token} of tenant {parts[0]}",
                       self.visible(caller, parts[0], kind))
        for raw in set(_UUID.findall(body)):
            value = uuid.UUID(raw)
            owner = self.fuzz.raw_owners.get(value)
            if owner is None and self.tree.known(value):
                owner = value  # a tenant's own id
            if owner is not None:
                kind = "Tenant" if owner == value else "object"
                yield f"uuid {raw} of tenant {owner}", self.visible(caller, owner, kind)

    def visible(self, caller: Caller, tenant_id: uuid.UUID, kind: str) -> bool:
        if tenant_id in caller.receipt_tenants:
            return True
        if caller.tenant_id is None:
            return False
        if caller.tenant_id in self.tree.operators:
            return True
        if tenant_id == caller.tenant_id or caller.tenant_id in self.tree.ancestors(tenant_id):
            return True
        return kind in _INHERITED_TYPES and tenant_id in self.tree.ancestors(caller.tenant_id)
