"""Cross-tenant cases for the daily digest (see tests/foundation/cross_tenant.py)."""

from __future__ import annotations

from typing import Any

from tests.digests.api import SET_DIGEST
from tests.foundation.cross_tenant import Case, Expect, Victim


async def _victim(v: Victim) -> dict[str, Any]:
    return {"i": {"tenantId": v.gid, "email": "ops@victim.example"}}


CASES: list[Case] = [
    Case("setDailyDigest", SET_DIGEST, _victim, Expect.NOT_FOUND),
]
