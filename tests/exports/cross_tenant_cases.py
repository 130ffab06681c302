"""Cross-tenant cases for exports (see tests/foundation/cross_tenant.py): another
tenant's merchant named in an export, and another tenant's export read by id."""

from __future__ import annotations

from typing import Any

from tests.exports.helpers import EXPORT_CASES, EXPORT_QUERY, EXPORT_TXNS, period
from tests.foundation.cross_tenant import Case, Expect, Victim
from tests.support.graphql import ok


async def _named(v: Victim) -> dict[str, Any]:
    return {"input": {"merchantIds": [v.gid], "format": "CSV", **period()}}


async def _victims_export(v: Victim) -> dict[str, Any]:
    data = await ok(v.client, EXPORT_TXNS, {"input": {"format": "JSONL", **period()}},
                    key=v.key)
    export = data["exportTransactions"]["export"]
    v.hide(export["id"])
    return {"id": export["id"]}


CASES: list[Case] = [
    Case("exportTransactions", EXPORT_TXNS, _named, Expect.NOT_FOUND, name="merchantIds"),
    Case("exportRefundCases", EXPORT_CASES, _named, Expect.NOT_FOUND, name="merchantIds"),
    Case("export", EXPORT_QUERY, _victims_export, Expect.NULL, name="another's export"),
]
