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
branch, is a leak.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Engine

from qrefund.graphql_schema import ids
from qrefund.platform.errors import NotFound
from tests.fuzz.world import Caller, FuzzWorld

_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
# A global id is base64url of "<Type>:<uuid>[:<uuid>]": at least 52 characters.
_TOKEN = re.compile(r"[A-Za-z0-9_-]{48,}")
_INHERITED_TYPES = frozenset({"Tenant", "RefundPolicy"})


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

    def check(self, caller: Caller, status: int, body: str) -> None:
        assert status < 500, f"HTTP {status} for {caller.label}: {body[:2000]}"
        try:
            parsed = json.loads(body)
        except ValueError:
            raise AssertionError(f"not JSON (HTTP {status}): {body[:500]}") from None
        assert "INTERNAL_ERROR" not in error_codes(parsed), f"{caller.label}: {body[:2000]}"
        shown = sorted(self.shown(caller, body))
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
        if caller.tenant_id is None:
            return False
        if caller.tenant_id in self.tree.operators:
            return True
        if tenant_id == caller.tenant_id or caller.tenant_id in self.tree.ancestors(tenant_id):
            return True
        return kind in _INHERITED_TYPES and tenant_id in self.tree.ancestors(caller.tenant_id)
