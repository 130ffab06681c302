"""Who receives a tenant's daily digest by e-mail, and which tenants get one."""

from __future__ import annotations

import re
import uuid

from qrefund.platform import validation
from qrefund.platform.db import UnitOfWork
from qrefund.platform.errors import CommonError, InvalidInput, NotFound
from qrefund.platform.roles import Permission
from qrefund.platform.scope import TenantKind
from qrefund.tenants.models import Tenant
from qrefund.tenants.repository import TenantRecordRepository

_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
DIGEST_KINDS = (TenantKind.MERCHANT, TenantKind.AGENCY)


async def set_digest_email(uow: UnitOfWork, tenant_id: uuid.UUID | None,
                           email: str | None) -> Tenant:
    """Set (or, with None or blank, clear) the address a merchant's or agency's daily
    digest goes to. ADMIN; ``tenant_id`` None: the caller's own tenant."""
    uow.scope.require(Permission.PUBLISH_POLICY)
    address = validation.text(email, "email", max_len=254, required=False)
    if address is not None and not _EMAIL.match(address):
        raise InvalidInput("email is not valid", field=["email"],
                           code=CommonError.INVALID_FORMAT)
    target = tenant_id or uow.scope.actor_tenant_id
    if target is None:
        raise NotFound("tenant not found", field=["tenantId"])
    repo = TenantRecordRepository(uow)
    tenant = await repo.require(target, target, what="tenant", field=["tenantId"], lock=True)
    if tenant.kind not in DIGEST_KINDS:
        raise NotFound("tenant not found", field=["tenantId"])
    tenant.digest_email = address
    repo.add(tenant)
    return tenant


async def digest_tenants(uow: UnitOfWork, *, after: uuid.UUID | None, first: int
                         ) -> list[Tenant]:
    """Active merchants and agencies in scope, by id: the ones a digest is made for."""
    return await TenantRecordRepository(uow).active_page(DIGEST_KINDS, after=after, first=first)


async def merchants_of(uow: UnitOfWork, agency_id: uuid.UUID) -> list[uuid.UUID]:
    """An agency's merchants (the system scope's read), active or not."""
    return [t for t, _ in await TenantRecordRepository(uow).children_beyond_scope(agency_id)]

