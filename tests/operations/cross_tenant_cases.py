"""Cross-tenant cases of the operations area (see tests/foundation/cross_tenant.py)."""

from __future__ import annotations

from tests.foundation.cross_tenant import Case

CASES: list[Case] = []
ELSEWHERE = {
    # An archived record exists only after retention ran over an aged, closed subject.
    "archivedRecord": "tests/operations/test_retention.py: another merchant's archived id "
    "answers null",
}
