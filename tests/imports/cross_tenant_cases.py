"""Cross-tenant cases for imports (see tests/foundation/cross_tenant.py): another
tenant's merchant named in the list, and another tenant's import read by id."""

from __future__ import annotations

from typing import Any

from tests.foundation.cross_tenant import Case, Expect, Victim
from tests.imports.helpers import HEADER, IMPORT_QUERY, IMPORTS_LIST, imported, row


async def _named(v: Victim) -> dict[str, Any]:
    return {"m": [v.gid]}


async def _victims_import(v: Victim) -> dict[str, Any]:
    payload = await imported(v.client, v.key, (HEADER + row("victim")).encode(),
                             name="victim-file.csv")
    found = payload["transactionImport"]
    v.hide(found["id"], "victim-file.csv")
    return {"id": found["id"]}


CASES: list[Case] = [
    Case("transactionImports", IMPORTS_LIST, _named, Expect.NOT_FOUND, name="merchantIds"),
    Case("transactionImport", IMPORT_QUERY, _victims_import, Expect.NULL,
         name="another's import"),
]

ELSEWHERE = {
    "importTransactions": "a multipart upload (the table sends JSON): another tenant's "
                          "merchantId is NOT_FOUND with nothing written in "
                          "tests/imports/test_api.py::test_refusals_write_nothing",
}
