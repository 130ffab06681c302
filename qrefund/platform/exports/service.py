"""Asking for an export and following its job: the record's lifecycle.

``request`` checks the period and the merchants against the caller's scope (another
tenant's merchant is *not found*), writes a PENDING record owned by the caller's own
tenant and an ``export.requested`` event; the relay turns that event into the job
after commit (:mod:`qrefund.jobs.exports`). The job moves the record to RUNNING,
reports ``rows_done`` per batch and ends it SUCCEEDED (with the file's storage key) or
FAILED. A record is visible to keys whose scope holds its owner tenant: a merchant
never sees its agency's exports, another agency never sees either.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from qrefund.platform.clock import utcnow
from qrefund.platform.db import UnitOfWork
from qrefund.platform.errors import CommonError, InvalidInput, NotFound
from qrefund.platform.exports.errors import ExportError
from qrefund.platform.exports.models import Export, ExportFormat, ExportKind, ExportStatus
from qrefund.platform.exports.repository import ExportRepository
from qrefund.platform.outbox.service import record_event
from qrefund.platform.roles import Permission
from qrefund.tenants.auth import as_key_owner, restricted_agency_key

MAX_SPAN = timedelta(days=366)
MAX_MERCHANTS = 1000
FINISHED = frozenset({ExportStatus.SUCCEEDED.value, ExportStatus.FAILED.value})


@dataclass(frozen=True)
class RequestExport:
    kind: ExportKind
    format: ExportFormat
    period_from: datetime
    period_to: datetime
    merchant_ids: Sequence[uuid.UUID] | None = None
    # Filter values by name (statuses, reasons, channels), already validated enums.
    filters: dict[str, list[str]] = field(default_factory=dict)


def _merchants(uow: UnitOfWork, named: Sequence[uuid.UUID] | None) -> list[uuid.UUID]:
    """The merchants named (each in scope, else *not found*), or every tenant in scope;
    the operator must name them."""
    scope = uow.scope
    if named:
        if len(set(named)) > MAX_MERCHANTS:
            raise InvalidInput(f"at most {MAX_MERCHANTS} merchants", field=["merchantIds"],
                               code=CommonError.TOO_MANY)
        if not all(scope.allows(m) for m in named):
            raise NotFound("merchant not found", field=["merchantIds"])
        return sorted(set(named))
    if scope.tenant_ids is None:
        raise InvalidInput("the operator must name merchantIds", field=["merchantIds"],
                           code=CommonError.MERCHANT_REQUIRED)
    return sorted(scope.tenant_ids)


def check_period(start: datetime, end: datetime) -> None:
    if start >= end:
        raise InvalidInput("from must be before to", field=["from"],
                           code=ExportError.INVALID_PERIOD)
    if end - start > MAX_SPAN:
        raise InvalidInput("an export covers at most 366 days", field=["to"],
                           code=ExportError.PERIOD_TOO_LONG)


async def request(uow: UnitOfWork, cmd: RequestExport) -> Export:
    """A PENDING export and the event that starts its job (READ permission).

    The export belongs to the caller's own tenant. An agency key restricted to some
    merchants does not see its agency: its export is still the agency's record, written
    in the key's owner scope (:func:`as_key_owner`), and names only merchants of the
    key's own scope, so the file holds their rows and nobody else's; the key reads the
    record back through :func:`find`, which checks exactly that.
    """
    scope = uow.scope
    scope.require(Permission.READ)
    check_period(cmd.period_from, cmd.period_to)
    merchants = _merchants(uow, cmd.merchant_ids)
    owner = scope.actor_tenant_id
    restricted = restricted_agency_key(scope)
    if (owner is None or not (scope.allows(owner) or restricted)
            or owner in scope.frozen_tenant_ids):
        raise InvalidInput("this key cannot own an export", field=None,
                           code=ExportError.EXPORT_NOT_ALLOWED)
    if not restricted:
        return await _write(uow, owner, cmd, merchants, scope.actor)
    async with as_key_owner(uow):
        export = await _write(uow, owner, cmd, merchants, scope.actor)
        await uow.flush()
    return export


async def _write(uow: UnitOfWork, owner: uuid.UUID, cmd: RequestExport,
                 merchants: list[uuid.UUID], actor: str) -> Export:
    export = ExportRepository(uow).add(Export(
        tenant_id=owner, kind=cmd.kind.value, format=cmd.format.value,
        merchant_ids=[str(m) for m in merchants], period_from=cmd.period_from,
        period_to=cmd.period_to, filters=dict(cmd.filters), requested_by=actor))
    await record_event(uow, tenant_id=owner, type="export.requested", aggregate_type="export",
                       aggregate_id=export.id, payload=_payload(export))
    return export


def _payload(export: Export) -> dict[str, Any]:
    return {"kind": export.kind, "format": export.format, "status": export.status}


async def get(uow: UnitOfWork, tenant_id: uuid.UUID, export_id: uuid.UUID) -> Export:
    uow.scope.require(Permission.READ)
    return await ExportRepository(uow).require(tenant_id, export_id, what="export",
                                               field=["id"])


async def find(uow: UnitOfWork, tenant_id: uuid.UUID, export_id: uuid.UUID) -> Export | None:
    """The record, or None (another tenant's, or gone): for the node resolver and links.

    A restricted agency key finds its agency's exports whose merchants are all in its
    own scope (the rows in the file are then rows it may read); none other."""
    scope = uow.scope
    if not (restricted_agency_key(scope) and tenant_id == scope.actor_tenant_id):
        return await ExportRepository(uow).get(tenant_id, export_id)
    async with as_key_owner(uow):
        export = await ExportRepository(uow).get(tenant_id, export_id)
    if export is None or not all(scope.allows(uuid.UUID(m)) for m in export.merchant_ids):
        return None
    return export


async def begin(uow: UnitOfWork, tenant_id: uuid.UUID, export_id: uuid.UUID,
                total: int) -> Export | None:
    """RUNNING from row zero, or None when the export is already finished (a replayed
    job does nothing). A RUNNING export is started again: its worker died mid-file."""
    export = await ExportRepository(uow).get(tenant_id, export_id, lock=True)
    if export is None or export.status in FINISHED:
        return None
    export.status = ExportStatus.RUNNING.value
    export.rows_done, export.rows_total = 0, total
    export.started_at = utcnow()
    return export


async def progress(uow: UnitOfWork, tenant_id: uuid.UUID, export_id: uuid.UUID,
                   rows_done: int) -> None:
    repo = ExportRepository(uow)
    await repo.execute(repo.update(Export.id == export_id,  # type: ignore[arg-type]
                                   Export.tenant_id == tenant_id).values(rows_done=rows_done))


async def finish(uow: UnitOfWork, tenant_id: uuid.UUID, export_id: uuid.UUID, *,
                 rows: int, size: int, storage_key: str) -> None:
    export = await ExportRepository(uow).get(tenant_id, export_id, lock=True)
    if export is not None:
        export.status = ExportStatus.SUCCEEDED.value
        export.rows_done, export.size_bytes, export.storage_key = rows, size, storage_key
        export.rows_total = rows  # rows that arrived while it ran are in the file too
        export.finished_at = utcnow()


async def fail(uow: UnitOfWork, tenant_id: uuid.UUID, export_id: uuid.UUID, why: str) -> None:
    export = await ExportRepository(uow).get(tenant_id, export_id, lock=True)
    if export is not None:
        export.status = ExportStatus.FAILED.value
        export.error = why[:200]
        export.finished_at = utcnow()
