"""Tests that set up or inspect rows directly, past the repository guards.

Production code reaches tenant tables only through repositories (the guards raise
otherwise); a test sometimes needs a plain statement to arrange a state or read
one back. ``unchecked(uow).execute(stmt)`` marks such a statement as deliberate.
The unit's scope still goes to PostgreSQL, so row-level security applies.
"""

from __future__ import annotations

from typing import Any

from qrefund.platform.db import UnitOfWork
from qrefund.platform.repository import SCOPED_OPTION


class _Unchecked:
    def __init__(self, uow: UnitOfWork) -> None:
        self._session = uow._session

    async def execute(self, stmt: Any, params: Any = None) -> Any:
        return await self._session.execute(stmt, params,
                                           execution_options={SCOPED_OPTION: True})


def unchecked(uow: UnitOfWork) -> _Unchecked:
    return _Unchecked(uow)
