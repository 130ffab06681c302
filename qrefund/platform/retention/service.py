"""Retention (README "Backups and retention"): archive closed subjects, purge old logs.

* A refund case that ended (REFUNDED, REJECTED, CANCELLED) and a complaint ticket that
  was CLOSED, more than ``QREFUND_RETENTION_DAYS`` ago, move to ``archived_records``
  with every row that depends on them, in one unit of work per batch: the live tables
  stay small and nothing is deleted without its copy being written first. The archive
  is read through ``archivedRecord(id)`` with the subject's own global id.
* Webhook deliveries that finished (delivered, failed for good, cancelled) more than
  ``QREFUND_DELIVERY_LOG_DAYS`` ago are deleted with their attempts: delivery logs are
  operational records, the events they carried stay in the outbox.

Receipt tokens and one-time codes are not stored rows: a receipt token is a MAC that
stops opening anything once its refund window and cases are over, and one-time codes
live in Redis under a TTL, so they expire by themselves.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from qrefund.platform.backup.codec import encode_row
from qrefund.platform.clock import utcnow
from qrefund.platform.db import UnitOfWork
from qrefund.platform.retention.models import ArchivedRecord
from qrefund.platform.retention.plan import PLANS, SubjectPlan
from qrefund.platform.retention.repository import (
    ArchiveRepository,
    DeliveryLogs,
    SubjectTables,
)
from qrefund.platform.roles import Permission

BATCH = 200
FINISHED_DELIVERIES = ("SUCCEEDED", "FAILED", "CANCELLED")


@dataclass
class Report:
    archived: dict[str, int] = field(default_factory=dict)
    deliveries_purged: int = 0


async def archive_due(uow: UnitOfWork, plan: SubjectPlan, *, days: int,
                      now: datetime | None = None, limit: int = BATCH) -> int:
    """Archive up to ``limit`` subjects of ``plan`` closed more than ``days`` ago."""
    now = now or utcnow()
    tables = SubjectTables(uow)
    due = await tables.due(plan, now - timedelta(days=days), limit)
    if due:
        await tables.allow_archiving()
    for tenant_id, subject_id in due:
        await _archive_one(tables, plan, tenant_id, subject_id, now)
    return len(due)


async def _archive_one(tables: SubjectTables, plan: SubjectPlan, tenant_id: uuid.UUID,
                       subject_id: uuid.UUID, now: datetime) -> None:
    subject = (await tables.rows(plan.table, "id", tenant_id, [subject_id]))[0]
    document = {plan.table.name: [encode_row(plan.table, subject)]}
    ids_of: dict[str, list[uuid.UUID]] = {plan.table.name: [subject_id]}
    for child in plan.children:
        rows = await tables.rows(child.table, child.column, tenant_id, ids_of[child.parent])
        document[child.table.name] = [encode_row(child.table, r) for r in rows]
        ids_of[child.table.name] = [r["id"] for r in rows]
    await tables.archive({
        "tenant_id": tenant_id, "subject_type": plan.subject_type, "subject_id": subject_id,
        "number": subject[plan.number], "status": subject["status"],
        "closed_at": subject[plan.closed_at], "archived_at": now, "document": document,
    })
    for child in reversed(plan.children):  # children before the rows they name
        await tables.remove(child.table, tenant_id, ids_of[child.table.name])
    await tables.remove(plan.table, tenant_id, [subject_id])


async def purge_delivery_logs(uow: UnitOfWork, *, days: int, now: datetime | None = None,
                              limit: int = BATCH) -> int:
    before = (now or utcnow()) - timedelta(days=days)
    return await DeliveryLogs(uow).purge(FINISHED_DELIVERIES, before, limit)


# -- the read path ---------------------------------------------------------------------

# Columns the API never shows from an archived document: ciphertexts, blind indexes,
# where files are stored (the rows keep them; an export or a restore carries them).
HIDDEN_SUFFIXES = ("_enc", "_fp")
HIDDEN_COLUMNS = frozenset({"storage_key"})


async def find(uow: UnitOfWork, tenant_id: uuid.UUID, subject_type: str,
               subject_id: uuid.UUID) -> ArchivedRecord | None:
    """An archived subject (None when absent or outside the scope)."""
    uow.scope.require(Permission.READ)
    return await ArchiveRepository(uow).find(tenant_id, subject_type, subject_id)


def public_document(record: ArchivedRecord) -> dict[str, list[dict[str, object]]]:
    return {table: [{k: v for k, v in row.items()
                     if not k.endswith(HIDDEN_SUFFIXES) and k not in HIDDEN_COLUMNS}
                    for row in rows]
            for table, rows in record.document.items()}


__all__ = ["PLANS", "Report", "archive_due", "find", "public_document", "purge_delivery_logs"]
