"""Risk flags for people: list them, review them (dismiss or confirm, with a note), read
them by payment or case, and the open-flag summary the daily digest shows.

A review is feedback: dismissals of a rule at a merchant loosen that rule's threshold
there (qrefund.platform.risk.thresholds); confirmations cancel dismissals out.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from qrefund.platform import validation
from qrefund.platform.clock import utcnow
from qrefund.platform.db import UnitOfWork
from qrefund.platform.errors import InvalidState
from qrefund.platform.pagination import Page, cursor_datetime, encode_cursor, parse_cursor
from qrefund.platform.repository import Key
from qrefund.platform.risk.errors import RiskError
from qrefund.platform.risk.models import FlagStatus, RiskFlagRecord
from qrefund.platform.risk.repository import FlagFilter, RiskFlagRepository
from qrefund.platform.roles import Permission

__all__ = ["FlagFilter", "OpenFlags", "by_keys", "confirm", "count", "dismiss", "flags_by_case",
           "flags_by_transaction", "list_page", "open_flags_summary"]

MAX_NOTE = 2000


async def _review(uow: UnitOfWork, tenant_id: uuid.UUID, flag_id: uuid.UUID, note: str,
                  status: FlagStatus) -> RiskFlagRecord:
    repo = RiskFlagRepository(uow)
    flag = await repo.require(tenant_id, flag_id, lock=True, what="risk flag")
    uow.scope.require(Permission.DECIDE_REFUNDS)
    text = validation.required_text(note, "note", max_len=MAX_NOTE)
    if flag.status != FlagStatus.OPEN:
        raise InvalidState(f"the flag is already {flag.status}", field=["id"],
                           code=RiskError.FLAG_ALREADY_REVIEWED)
    now = utcnow()
    flag.status, flag.note, flag.reviewer = status.value, text, uow.scope.actor[:80]
    flag.reviewed_at = flag.updated_at = now
    repo.add(flag)
    return flag


async def dismiss(uow: UnitOfWork, tenant_id: uuid.UUID, flag_id: uuid.UUID, note: str
                  ) -> RiskFlagRecord:
    """A false alarm: closes the flag and counts towards loosening its rule here."""
    return await _review(uow, tenant_id, flag_id, note, FlagStatus.DISMISSED)


async def confirm(uow: UnitOfWork, tenant_id: uuid.UUID, flag_id: uuid.UUID, note: str
                  ) -> RiskFlagRecord:
    """A real anomaly: closes the flag and cancels one dismissal of its rule out."""
    return await _review(uow, tenant_id, flag_id, note, FlagStatus.CONFIRMED)


async def list_page(uow: UnitOfWork, flt: FlagFilter, *, first: int, after: str | None
                    ) -> Page[RiskFlagRecord]:
    """Newest first by (created_at, id); one statement for the page."""
    uow.scope.require(Permission.READ)
    position = parse_cursor(after, cursor_datetime, uuid.UUID) if after else None
    rows = await RiskFlagRepository(uow).page(flt, first=first,
                                              after=position)  # type: ignore[arg-type]
    return Page.from_rows(rows, first=first, after=after,
                          cursor=lambda f: encode_cursor([f.created_at, f.id]))


async def count(uow: UnitOfWork, flt: FlagFilter) -> int:
    return await RiskFlagRepository(uow).count_where(flt)


async def flags_by_transaction(uow: UnitOfWork, keys: Sequence[Key]
                               ) -> dict[Key, list[RiskFlagRecord]]:
    """Flags of payments (and of their cases) by (merchant, payment id), in one statement."""
    return await RiskFlagRepository(uow).by_transactions(keys)


async def by_keys(uow: UnitOfWork, keys: Sequence[Key]) -> dict[Key, RiskFlagRecord]:
    """Flags by (merchant, flag id); those outside the scope are left out."""
    return await RiskFlagRepository(uow).by_keys(keys)


async def flags_by_case(uow: UnitOfWork, keys: Sequence[Key]) -> dict[Key, list[RiskFlagRecord]]:
    return await RiskFlagRepository(uow).by_cases(keys)


@dataclass(frozen=True)
class OpenFlags:
    merchant_id: uuid.UUID
    rule: str
    severity: str
    count: int
    oldest_at: datetime


async def open_flags_summary(uow: UnitOfWork, tenant_ids: Sequence[uuid.UUID]
                             ) -> list[OpenFlags]:
    """Open flags per merchant, rule and severity (count, oldest), for a digest: one
    grouped statement; merchants outside the unit's scope are left out."""
    wanted = [t for t in tenant_ids if uow.scope.allows(t)]
    if not wanted:
        return []
    rows = await RiskFlagRepository(uow).open_summary(wanted)
    return sorted((OpenFlags(*r) for r in rows),
                  key=lambda o: (str(o.merchant_id), o.rule, o.severity))
