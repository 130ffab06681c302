"""The fuzz checks themselves: each refuses what it must (else the fuzz proves nothing)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from qrefund.graphql_schema import ids
from tests.fuzz.checks import Inspector
from tests.fuzz.world import Caller, FuzzWorld


def _body(data: Any) -> str:
    return json.dumps({"data": data})


def _id(fuzz: FuzzWorld, kind: str, tenant: uuid.UUID) -> str:
    return next(g for g in fuzz.ids_by_type()[kind] if fuzz.owners[g] == tenant)


async def test_checks_refuse_errors_and_other_tenants_ids(
    fuzz_world: FuzzWorld, inspector: Inspector
) -> None:
    world = fuzz_world.world
    callers: dict[str, Caller] = {c.label: c for c in fuzz_world.callers}
    merchant, agency = callers["a:VIEWER"], callers["agency:VIEWER"]
    b_txn = _id(fuzz_world, "Transaction", world.merchant_b)
    agency_endpoint = _id(fuzz_world, "WebhookEndpoint", world.agency_id)
    # Refused: a server error, an internal error in userErrors, another tenant's ids
    with pytest.raises(AssertionError, match="HTTP 500"):
        inspector.check(merchant, 500, "{}")
    with pytest.raises(AssertionError, match="INTERNAL_ERROR"):
        inspector.check(merchant, 200, _body({"x": {"userErrors": [{"code": "INTERNAL_ERROR"}]}}))
    for leak in (b_txn, str(ids.decode_any(b_txn)[1][1]), str(world.merchant_c),
                 agency_endpoint):  # a parent's endpoint is not the merchant's business
        with pytest.raises(AssertionError, match="was shown"):
            inspector.check(merchant, 200, _body({"node": {"id": leak}}))
    with pytest.raises(AssertionError, match="was shown"):
        inspector.check(callers["anonymous"], 200, _body({"x": ids.encode("Tenant",
                                                                          world.merchant_a)}))
    # Allowed: own objects, the parent's tenant id and template policy; an agency its merchants
    own = _id(fuzz_world, "Transaction", world.merchant_a)
    template = _id(fuzz_world, "RefundPolicy", world.agency_id)
    inspector.check(merchant, 200, _body({"node": {"id": own, "merchant": {
        "parentId": ids.encode("Tenant", world.agency_id)}, "policy": {"id": template}}}))
    inspector.check(agency, 200, _body({"node": {"id": b_txn}}))
    inspector.check(callers["operator:ADMIN"], 200, _body({"n": str(world.merchant_c)}))
    assert inspector.hits == 3
