"""Building blocks for import tests: the upload made as a client makes it (a GraphQL
multipart request), the job run by real workers, the import as then queried."""

from __future__ import annotations

import json
from typing import Any

import httpx

from qrefund.jobs.registry import QUEUE_MAINTENANCE, QUEUE_RELAY
from tests.jobs.support import JobHarness
from tests.support.graphql import ok

HEADER = "merchant_order_no,channel,provider_reference,amount,currency,status,paid_at\n"
IMPORT_FIELDS = """transactionImport { id merchantId format status fileName sizeBytes
  rowsTotal rowsDone rowsRecorded rowsFailed error errorReportUrl }
userErrors { code field message }"""
IMPORT = f"""mutation($input: ImportTransactionsInput!) {{
  importTransactions(input: $input) {{ {IMPORT_FIELDS} }} }}"""
IMPORT_QUERY = """query($id: ID!) { transactionImport(id: $id) { id merchantId status
  fileName rowsTotal rowsDone rowsRecorded rowsFailed error errorReportUrl } }"""
IMPORTS_LIST = """query($m: [ID!]) { transactionImports(merchantIds: $m) {
  edges { node { id merchantId status } } } }"""


def row(n: int | str, amount: str = "12.50", channel: str = "WECHAT_PAY",
        status: str = "SUCCEEDED") -> str:
    return f"IM-{n},{channel},ref-{n},{amount},CNY,{status},2026-10-01T10:00:00+08:00\n"


async def upload(client: httpx.AsyncClient, key: str | None, content: bytes,
                 name: str = "txns.csv", expect_status: int = 200,
                 **fields: Any) -> httpx.Response:
    """``importTransactions`` as a GraphQL multipart request with ``content`` as file."""
    operations = {"query": IMPORT, "variables": {"input": {"file": None, **fields}}}
    parts = {
        "operations": (None, json.dumps(operations)),
        "map": (None, json.dumps({"0": ["variables.input.file"]})),
        "0": (name, content, "text/csv"),
    }
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    response = await client.post("/graphql", files=parts, headers=headers)
    assert response.status_code == expect_status, response.text
    return response


async def imported(client: httpx.AsyncClient, key: str, content: bytes, **fields: Any
                   ) -> dict[str, Any]:
    """The payload of an upload that must not be a GraphQL error."""
    body = (await upload(client, key, content, **fields)).json()
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"]["importTransactions"]
    return payload


async def finished(client: httpx.AsyncClient, workers: JobHarness, key: str,
                   import_id: str) -> dict[str, Any]:
    """Runs the relay and the import job on real workers; the import as then queried."""
    await workers.drain((QUEUE_RELAY, QUEUE_MAINTENANCE))
    data = await ok(client, IMPORT_QUERY, {"id": import_id}, key=key)
    found: dict[str, Any] = data["transactionImport"]
    return found
