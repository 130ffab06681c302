"""The seed corpus: the hardening audit's findings, as requests to replay.

Each family builds its seeds from the fuzz world (real ids, so a request gets as
far as the hostile value). :mod:`tests.fuzz.test_corpus` sends every seed and
holds its response to the fuzz checks, and to the refusal the seed expects.
The documents and hostile values come from the targeted tests of the audit
(:mod:`tests.foundation.test_input_normalization`,
:mod:`tests.foundation.test_request_hardening`); here they are run through the
same checks as fuzzed calls, as every caller the fuzzer uses.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from qrefund.graphql_schema import ids
from tests.foundation.helpers import RECORD, txn_input
from tests.foundation.test_input_normalization import (
    BAD_CURSORS,
    MUTATIONS,
    TEXT_CASES,
    _sample,
    _with,
)
from tests.foundation.test_request_hardening import DOS_QUERY
from tests.fuzz.world import FuzzWorld

NUL, SURROGATE = "ok\x00", "ok\ud800"
# Naive, no UTC instant, past what is stored (with and without an offset).
BAD_DATETIMES = ["2026-11-01T10:00:00", "0001-01-01T00:00:00+08:00", "0001-01-01T00:00:00",
                 "9999-12-31T23:59:59-08:00", "9999-12-31T23:59:59Z", "9999-12-31T23:59:59"]


@dataclass(frozen=True)
class Seed:
    name: str
    document: str
    variables: dict[str, Any]
    caller: str  # a label of FuzzWorld.callers
    # The refusal expected: an HTTP status, or error codes (query errors or userErrors).
    status: int = 200
    codes: frozenset[str] = frozenset()


def _cursor(raw: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(raw).encode()).decode().rstrip("=")


def _of_type(fuzz: FuzzWorld, kind: str, tenant: uuid.UUID) -> str:
    return next(g for g, owner in fuzz.owners.items()
                if owner == tenant and ids.decode_any(g)[0] == kind)


def decimal_seeds(fuzz: FuzzWorld) -> list[Seed]:
    """Exponents that took seconds of CPU to scale, as a Decimal filter value."""
    seeds = []
    for value in ("1E+600000", "1E+999999"):
        seeds.append(Seed(f"decimal {value} anonymous", DOS_QUERY, {"a": value}, "anonymous",
                          status=401, codes=frozenset({"UNAUTHENTICATED"})))
        seeds += [Seed(f"decimal {value} as {who}", DOS_QUERY, {"a": value}, f"{who}:ADMIN")
                  for who in ("a", "agency", "operator")]
    return seeds


def text_seeds(fuzz: FuzzWorld) -> list[Seed]:
    """NUL and a lone surrogate in the public slug, the assignee filter and every
    text field of every mutation."""
    invalid = frozenset({"INVALID_FORMAT"})
    public = 'query($s: String!) { publicRefundPolicy(merchantSlug: $s) { merchantName } }'
    assignee = 'query($a: String) { refundCases(filter: {assignee: $a}) { totalCount } }'
    seeds = []
    for label, bad in (("NUL", NUL), ("surrogate", SURROGATE)):
        seeds += [Seed(f"publicRefundPolicy {label} {who}", public, {"s": "merchant-a" + bad},
                       who, codes=invalid) for who in ("anonymous", "a:VIEWER")]
        seeds += [Seed(f"assignee {label} {who}", assignee, {"a": bad}, who, codes=invalid)
                  for who in ("a:VIEWER", "agency:REFUND_AGENT")]
        for name, path in TEXT_CASES:
            field = MUTATIONS[name]
            document = (f"mutation($input: {field.args['input'].type}) {{ {name}(input: $input) "
                        "{ userErrors { code field } } }")
            value = _with(_sample(field.args["input"].type), path, bad)
            seeds.append(Seed(f"{name}.{'.'.join(path)} {label}", document, {"input": value},
                              "a:ADMIN", codes=invalid))
    return seeds


def cursor_seeds(fuzz: FuzzWorld) -> list[Seed]:
    """Deeply nested JSON, naive and year-1/9999 datetimes as ``after`` of every connection."""
    world = fuzz.world
    case_id = _of_type(fuzz, "RefundCase", world.merchant_a)
    endpoint_id = _of_type(fuzz, "WebhookEndpoint", world.merchant_a)
    connections = {
        "merchants": ("merchants(after: $c)", "agency:VIEWER"),
        "transactions": ("transactions(after: $c)", "a:VIEWER"),
        "refundCases": ("refundCases(after: $c)", "a:VIEWER"),
        "refundCases DUE_ASC": ("refundCases(after: $c, orderBy: DUE_ASC)", "agency:VIEWER"),
        "webhookEndpoints": ("webhookEndpoints(after: $c)", "a:ADMIN"),
        "webhookDeliveries": (f'webhookDeliveries(endpointId: "{endpoint_id}", after: $c)',
                              "a:ADMIN"),
        "notifications": (f'notifications(caseId: "{case_id}", after: $c)', "a:SUPPORT"),
    }
    cursors = [*BAD_CURSORS,
               *(_cursor([when, str(uuid.uuid4())]) for when in BAD_DATETIMES),
               _cursor([[[["x"]]], str(uuid.uuid4())]), _cursor({"a": "1E+600000"})]
    return [Seed(f"{name} cursor {i}", f"query($c: String) {{ {connection} "
                 "{ edges { cursor } } }", {"c": cursor}, who,
                 codes=frozenset({"INVALID_CURSOR", "INVALID_FORMAT"}))
            for name, (connection, who) in connections.items()
            for i, cursor in enumerate(cursors)]


def datetime_seeds(fuzz: FuzzWorld) -> list[Seed]:
    """Naive and year-1/9999 datetimes in filters and in mutation inputs."""
    invalid = frozenset({"INVALID_DATETIME"})
    tenant = ids.encode("Tenant", fuzz.world.merchant_a)
    create_key = """mutation($t: ID!, $w: DateTime) { createApiKey(input:
      {tenantId: $t, name: "k", role: VIEWER, expiresAt: $w}) { userErrors { code field } } }"""
    filters = {
        "paidFrom": "query($w: DateTime) { transactions(filter: {paidFrom: $w}) { totalCount } }",
        "createdFrom": "query($w: DateTime) { refundCases(filter: {createdFrom: $w}) "
                       "{ totalCount } }",
        "dueBefore": "query($w: DateTime) { refundCases(filter: {dueBefore: $w}) "
                     "{ totalCount } }",
    }
    seeds = []
    for when in BAD_DATETIMES:
        seeds += [Seed(f"{name} {when} {who}", document, {"w": when}, who, codes=invalid)
                  for name, document in filters.items() for who in ("a:VIEWER", "agency:ADMIN")]
        seeds.append(Seed(f"paidAt {when}", RECORD, {"input": txn_input(paidAt=when)},
                          "a:INTEGRATION", codes=invalid))
        seeds.append(Seed(f"expiresAt {when}", create_key, {"t": tenant, "w": when}, "a:ADMIN",
                          codes=invalid))
    return seeds


FAMILIES: dict[str, Callable[[FuzzWorld], list[Seed]]] = {
    "decimal": decimal_seeds,
    "text": text_seeds,
    "cursor": cursor_seeds,
    "datetime": datetime_seeds,
}
