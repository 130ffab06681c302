"""Is the key behind a long-lived session (an open WebSocket) still good?

A socket signs in once (:func:`qrefund.tenants.auth.authenticate`); afterwards
each operation on it, and a timer, ask again with :func:`check_key`: one look-up
of the key by its primary key, joined to its tenant. The answers are sign-in's.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlmodel import col

from qrefund.platform.clock import utcnow
from qrefund.platform.db import Database
from qrefund.platform.errors import Unauthenticated
from qrefund.tenants.models import ApiKey, Tenant
from qrefund.tenants.scope import TenantScope


async def check_key(db: Database, scope: TenantScope) -> datetime | None:
    """The key's ``expires_at`` while it is good; :class:`Unauthenticated` once it is
    revoked or expired or its tenant is no longer active."""
    if scope.api_key_id is None or scope.actor_tenant_id is None:
        raise Unauthenticated("not signed in with an API key")
    async with db.unit_of_work(scope, readonly=True) as uow:
        found = (
            await uow.session.execute(
                select(col(ApiKey.revoked_at), col(ApiKey.expires_at), col(Tenant.status))
                .join(Tenant, col(Tenant.id) == col(ApiKey.tenant_id))
                .where(col(ApiKey.tenant_id) == scope.actor_tenant_id,
                       col(ApiKey.id) == scope.api_key_id)
            )
        ).one_or_none()
    if found is None:
        raise Unauthenticated("unknown API key")
    if found.revoked_at is not None:
        raise Unauthenticated("API key has been revoked")
    if found.expires_at is not None and found.expires_at <= utcnow():
        raise Unauthenticated("API key has expired")
    if found.status != "ACTIVE":
        raise Unauthenticated("tenant is not active")
    expires_at: datetime | None = found.expires_at
    return expires_at
