"""Cross-tenant cases for the foundation's queries and mutations (see cross_tenant.py)."""

from __future__ import annotations

from typing import Any

from tests.foundation.cross_tenant import Case, Expect, Victim
from tests.foundation.helpers import record_txn
from tests.support.graphql import ok

_NODE = "query($id: ID!) { node(id: $id) { id __typename } }"


async def _victim_txn(v: Victim) -> dict[str, Any]:
    txn = await record_txn(v.client, v.key, merchantOrderNo="VICTIM-ORDER-1", merchantId=None)
    v.hide("VICTIM-ORDER-1", txn["id"])
    return txn


async def _victim_key_id(v: Victim) -> str:
    data = await ok(
        v.client,
        "mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) { apiKey { id } secret } }",
        {"i": {"tenantId": v.gid, "name": "victim key", "role": "VIEWER"}},
        key=v.key,
    )
    key_id: str = data["createApiKey"]["apiKey"]["id"]
    v.hide(key_id, data["createApiKey"]["secret"])
    return key_id


async def _node_tenant(v: Victim) -> dict[str, Any]:
    v.hide(v.gid)
    return {"id": v.gid}


async def _node_transaction(v: Victim) -> dict[str, Any]:
    return {"id": (await _victim_txn(v))["id"]}


async def _node_api_key(v: Victim) -> dict[str, Any]:
    return {"id": await _victim_key_id(v)}


async def _merchants(v: Victim) -> dict[str, Any]:
    v.hide(v.gid)
    return {}


async def _transactions_filter(v: Victim) -> dict[str, Any]:
    await _victim_txn(v)
    return {"f": {"merchantIds": [v.gid]}}


async def _transactions_plain(v: Victim) -> dict[str, Any]:
    await _victim_txn(v)
    return {}


async def _tenant_id(v: Victim) -> dict[str, Any]:
    return {"i": {"tenantId": v.gid, "name": "intruder", "role": "ADMIN"}}


async def _revoke(v: Victim) -> dict[str, Any]:
    return {"i": {"id": await _victim_key_id(v)}}


async def _create_merchant(v: Victim) -> dict[str, Any]:
    return {"i": {"name": "Planted", "slug": "planted-merchant", "agencyId": v.gid}}


async def _record(v: Victim) -> dict[str, Any]:
    return {
        "i": {
            "merchantId": v.gid,
            "merchantOrderNo": "PLANTED-1",
            "channel": "ALIPAY",
            "providerReference": "ali-1",
            "amount": "1.00",
            "currency": "CNY",
            "status": "SUCCEEDED",
            "paidAt": "2026-11-01T10:00:00Z",
        }
    }


CASES: list[Case] = [
    Case("node", _NODE, _node_tenant, Expect.NULL, name="Tenant"),
    Case("node", _NODE, _node_transaction, Expect.NULL, name="Transaction"),
    Case("node", _NODE, _node_api_key, Expect.NULL, name="ApiKey"),
    Case("merchants", "{ merchants { edges { node { id slug } } } }", _merchants, Expect.NO_LEAK),
    Case(
        "transactions",
        "query($f: TransactionFilterInput) { transactions(filter: $f) "
        "{ totalCount edges { node { id merchantOrderNo } } } }",
        _transactions_filter,
        name="merchantIds",
    ),
    Case(
        "transactions",
        "{ transactions { edges { node { id merchantOrderNo } } } }",
        _transactions_plain,
        Expect.NO_LEAK,
        name="unfiltered",
    ),
    Case(
        "createApiKey",
        "mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) "
        "{ apiKey { id } secret userErrors { code field } } }",
        _tenant_id,
    ),
    Case(
        "revokeApiKey",
        "mutation($i: RevokeApiKeyInput!) { revokeApiKey(input: $i) "
        "{ apiKey { id revokedAt } userErrors { code field } } }",
        _revoke,
    ),
    Case(
        "createMerchant",
        "mutation($i: CreateMerchantInput!) { createMerchant(input: $i) "
        "{ merchant { id } userErrors { code field } } }",
        _create_merchant,
        pairs=(("agency", "other_agency"),),
    ),
    Case(
        "recordTransaction",
        "mutation($i: RecordTransactionInput!) { recordTransaction(input: $i) "
        "{ transaction { id } userErrors { code field } } }",
        _record,
    ),
]

async def _merchant_status(v: Victim) -> dict[str, Any]:
    return {"i": {"id": v.gid, "reason": "intruder"}}


def _lifecycle(field: str, input_type: str) -> Case:
    # Merchant keys are FORBIDDEN before any look-up (test_merchant_lifecycle); the
    # pairs here are agencies reaching for merchants that are not theirs.
    return Case(field, f"mutation($i: {input_type}!) {{ {field}(input: $i) "
                "{ merchant { id status } userErrors { code field } } }", _merchant_status,
                pairs=(("agency", "c"), ("other_agency", "a")))


CASES += [
    _lifecycle("suspendMerchant", "SuspendMerchantInput"),
    _lifecycle("reactivateMerchant", "ReactivateMerchantInput"),
    _lifecycle("closeMerchant", "CloseMerchantInput"),
]


ELSEWHERE: dict[str, str] = {
    "viewer": "takes no ids; answers the caller's own tenant (test_auth)",
    "createAgency": "takes no tenant id; operator only, FORBIDDEN for others (test_auth)",
}
