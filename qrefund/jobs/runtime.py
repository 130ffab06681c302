"""The job runtime's side of tenancy and database access.

Jobs take ids, reload state and act inside a scope made here (the only place
besides the auth layer that issues scopes). RQ runs each coroutine job with
``asyncio.run`` (a fresh event loop per job), so workers use engines without a
connection pool: a pooled asyncio connection cannot outlive its loop.
"""

from __future__ import annotations

import uuid
from functools import lru_cache

from qrefund.platform.config import get_settings
from qrefund.platform.db import Database
from qrefund.tenants.roles import Role
from qrefund.tenants.scope import TenantKind, TenantScope, _issue


def job_scope(tenant_id: uuid.UUID, actor: str = "system") -> TenantScope:
    """A job working on one tenant's data sees that tenant only."""
    return _issue(
        tenant_ids=frozenset({tenant_id}),
        actor_tenant_id=tenant_id,
        actor_kind=TenantKind.MERCHANT,
        role=Role.ADMIN,
        actor=actor,
    )


def system_scope(actor: str = "system") -> TenantScope:
    """Cross-tenant maintenance (outbox relay, deadline sweep): every tenant."""
    return _issue(
        tenant_ids=None,
        actor_tenant_id=None,
        actor_kind=TenantKind.OPERATOR,
        role=Role.ADMIN,
        actor=actor,
    )


@lru_cache(maxsize=1)
def database() -> Database:
    return Database(get_settings(), pooled=False)
