"""`qrefund bootstrap`: the operator tenant and its first ADMIN key."""

from __future__ import annotations

from qrefund.platform.db import Database
from qrefund.platform.errors import Conflict
from qrefund.platform.roles import Role
from qrefund.platform.scope import TenantKind
from qrefund.tenants import service
from qrefund.tenants.auth import bootstrap_scope
from qrefund.tenants.models import Tenant
from qrefund.tenants.repository import TenantRecordRepository

OPERATOR_SLUG = "operator"


async def bootstrap(db: Database, name: str = "qrefund operator") -> tuple[Tenant, str]:
    """Create the operator and an ADMIN key; refuses when an operator exists."""
    async with db.unit_of_work(bootstrap_scope()) as uow:
        tenants = TenantRecordRepository(uow)
        if await tenants.operator() is not None:
            raise Conflict("an operator tenant exists already; create keys with createApiKey")
        operator = Tenant(kind=TenantKind.OPERATOR, name=name, slug=OPERATOR_SLUG)
        tenants.add(operator)
        await uow.flush()
        _key, secret = await service.create_api_key(
            uow, tenant_id=operator.id, name="bootstrap admin", role=Role.ADMIN, expires_at=None
        )
    return operator, secret
