"""The cross-tenant table: every query and mutation, called with another tenant's ids.

Each domain lists its cases in ``tests/<area>/cross_tenant_cases.py``, a module
exposing ``CASES: list[Case]`` and optionally ``ELSEWHERE: dict[str, str]``
(root field -> why it needs no case here: public, takes no ids, covered by a
named test). :mod:`tests.foundation.test_cross_tenant` discovers those modules,
runs every case for every (attacker, victim) pair, and fails when a root field
of the schema (Query, Mutation, Subscription) has neither a case nor a reason.

A case's ``variables`` builder creates the victim's objects through the API with
the victim's own ADMIN key and returns the variables naming them. The attacker
then calls the operation with an ADMIN key of its own (so a refusal is about
tenancy, not role) and must get *not found* (a ``NOT_FOUND`` user error or query
error, a null node, or an empty connection), with no table changed and none of
the victim's strings in the response.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import httpx

from qrefund.graphql_schema import ids
from tests.support.world import World


class Expect(Enum):
    NOT_FOUND = "NOT_FOUND"  # payload.userErrors has NOT_FOUND, or a query error coded NOT_FOUND
    NULL = "NULL"  # the field is null (node)
    EMPTY = "EMPTY"  # a connection with no edges
    NO_LEAK = "NO_LEAK"  # only: no victim string in the response (lists of the caller's own)
    ITEMS_NOT_FOUND = "ITEMS_NOT_FOUND"  # a bulk payload: every item's result is NOT_FOUND


# (attacker, victim): a sibling merchant under the same agency, and an agency
# reaching for a merchant that is not its own.
DEFAULT_PAIRS: tuple[tuple[str, str], ...] = (("a", "b"), ("agency", "c"))


@dataclass
class Victim:
    """The tenant the attacker must not reach, with an ADMIN key to create its data."""

    client: httpx.AsyncClient
    world: World
    name: str
    tenant_id: uuid.UUID
    key: str
    secrets: list[str] = field(default_factory=list)

    @property
    def gid(self) -> str:
        return ids.encode("Tenant", self.tenant_id)

    def hide(self, *values: str) -> None:
        """Strings of the victim that must not appear in the attacker's response."""
        self.secrets.extend(v for v in values if v)


Builder = Callable[[Victim], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class Case:
    field: str  # the root field, e.g. "recordTransaction"
    document: str  # a GraphQL document taking the builder's variables
    variables: Builder
    expect: Expect = Expect.NOT_FOUND
    pairs: tuple[tuple[str, str], ...] = DEFAULT_PAIRS
    name: str = ""  # tells several cases of one field apart

    @property
    def label(self) -> str:
        return f"{self.field}[{self.name}]" if self.name else self.field


def tenant_of(world: World, name: str) -> uuid.UUID:
    return {
        "operator": world.operator_id,
        "agency": world.agency_id,
        "other_agency": world.other_agency_id,
        "a": world.merchant_a,
        "b": world.merchant_b,
        "c": world.merchant_c,
    }[name]


def check_refused(case: Case, body: dict[str, Any]) -> None:
    """The response is a refusal of the kind the case expects."""
    data = body.get("data") or {}
    value = data.get(case.field)
    if case.expect is Expect.NOT_FOUND:
        if isinstance(value, dict) and "userErrors" in value:
            codes = [e["code"] for e in value["userErrors"]]
            assert "NOT_FOUND" in codes, body
            assert all(v is None for k, v in value.items() if k != "userErrors"), body
        else:
            codes = [(e.get("extensions") or {}).get("code") for e in body.get("errors", [])]
            assert "NOT_FOUND" in codes, body
            assert value is None, body
    elif case.expect is Expect.NULL:
        assert "errors" not in body, body
        assert value is None, body
    elif case.expect is Expect.ITEMS_NOT_FOUND:
        assert "errors" not in body and value["results"], body
        for result in value["results"]:
            assert [e["code"] for e in result["userErrors"]] == ["NOT_FOUND"], body
            assert result["refundCase"] is None, body
    elif case.expect is Expect.EMPTY:
        assert "errors" not in body, body
        assert value is not None and value["edges"] == [], body
    else:
        assert "errors" not in body, body
