"""Daily digests (智能提醒): made once per merchant or agency and local day, quiet when
there is nothing to say.

After ``DIGEST_HOUR`` in a tenant's time zone, :func:`due` lists it for its local day
until its digest is made; :func:`make` runs every section provider
(:data:`~qrefund.platform.digests.sections.SECTIONS`) over the merchants it covers (a
merchant: itself; an agency: all its merchants), stores the digest under its
(tenant, day) key and, if any section has something to say, writes a ``digest.daily``
event in the tenant's own stream (webhooks and the ``events`` feed deliver it). The
e-mail goes out after commit (the job), and :func:`record_sending` notes how it went.
A second run for the same tenant-day finds the row and does nothing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError

from qrefund.platform import masking
from qrefund.platform.clock import utcnow
from qrefund.platform.db import UnitOfWork
from qrefund.platform.digests.models import DailyDigest, DigestStatus
from qrefund.platform.digests.repository import DailyDigestRepository
from qrefund.platform.digests.sections import SECTIONS, Section, Window
from qrefund.platform.outbox.service import record_event
from qrefund.platform.scope import TenantKind
from qrefund.tenants.digest import digest_tenants, merchants_of
from qrefund.tenants.models import Tenant
from qrefund.tenants.service import get_tenant

DIGEST_HOUR = 8  # local time from which the day's digest is made


def local_day(now: datetime, timezone: str) -> str | None:
    """The tenant's local date once its digest hour has come that day, else None."""
    local = now.astimezone(ZoneInfo(timezone))
    return local.date().isoformat() if local.hour >= DIGEST_HOUR else None


async def due(uow: UnitOfWork, now: datetime, *, after: uuid.UUID | None, first: int
              ) -> tuple[list[tuple[uuid.UUID, str]], uuid.UUID | None]:
    """A page of tenants whose digest for their local day is due and not yet made, and
    where the next page starts (None: this was the last)."""
    tenants = await digest_tenants(uow, after=after, first=first)
    candidates = [(t.id, day) for t in tenants if (day := local_day(now, t.timezone))]
    made = await DailyDigestRepository(uow).made(candidates)
    following = tenants[-1].id if len(tenants) == first else None
    return [c for c in candidates if c not in made], following


@dataclass(frozen=True)
class Made:
    digest: DailyDigest
    recipient: str | None  # the full address, for the sender only (never stored or logged)
    subject: str
    body: str


async def make(uow: UnitOfWork, tenant_id: uuid.UUID, day: str, now: datetime | None = None
               ) -> Made | None:
    """The tenant's digest for ``day``; None when it was made before (by this or a
    concurrent run)."""
    repo = DailyDigestRepository(uow)
    if await repo.of_day(tenant_id, day) is not None:
        return None
    tenant = await get_tenant(uow, tenant_id)
    merchants = ([tenant.id] if tenant.kind == TenantKind.MERCHANT
                 else await merchants_of(uow, tenant.id))
    window = Window(now or utcnow(), day)
    said = [s for s in [await provider(uow, merchants, window) for provider in SECTIONS]
            if s.count]
    address = tenant.digest_email if said else None
    status = (DigestStatus.QUIET if not said else DigestStatus.PENDING if address
              else DigestStatus.NO_RECIPIENT)
    digest = DailyDigest(tenant_id=tenant.id, day=day, status=status.value,
                         sections=[s.as_payload() for s in said],
                         recipient_masked=masking.email(address) if address else None)
    try:
        async with uow.savepoint():
            repo.add(digest)
            await uow.flush()
    except IntegrityError:
        return None  # a concurrent run made it first
    if said:
        await record_event(uow, tenant_id=tenant.id, type="digest.daily",
                           aggregate_type="digest", aggregate_id=tenant.id, payload={
                               "tenantId": str(tenant.id), "tenantKind": tenant.kind,
                               "day": day, "merchantIds": [str(m) for m in merchants],
                               "sections": digest.sections,
                               "emailedTo": digest.recipient_masked})
    subject, body = render(tenant, day, said)
    return Made(digest, address, subject, body)


def render(tenant: Tenant, day: str, sections: list[Section]) -> tuple[str, str]:
    """The e-mail: a subject and a plain-text body listing each section's first rows."""
    subject = f"{tenant.name}: daily digest {day} / 每日提醒"
    lines = [f"{tenant.name} - {day}", ""]
    for section in sections:
        lines.append(f"{section.title}: {section.count}")
        for row in section.rows:
            number = row.get("caseNumber") or row.get("ticketNumber") or ""
            due_at = row.get("dueAt") or row.get("firstResponseDueAt") or ""
            lines.append(f"  - {number}  {due_at}")
        if section.count > len(section.rows):
            lines.append(f"  ... and {section.count - len(section.rows)} more")
        lines.append("")
    return subject, "\n".join(lines)


async def record_sending(uow: UnitOfWork, tenant_id: uuid.UUID, day: str,
                         error: str | None) -> None:
    """How the e-mail went (SENT, or FAILED with the notifier's reason)."""
    digest = await DailyDigestRepository(uow).of_day(tenant_id, day, lock=True)
    if digest is None:
        return
    digest.status = (DigestStatus.FAILED if error else DigestStatus.SENT).value
    digest.error = error[:200] if error else None
    digest.sent_at = None if error else utcnow()
    DailyDigestRepository(uow).add(digest)
