"""The scope filter every repository query goes through.

There is no unscoped query path: :func:`scoped` is how a statement on a tenant
table gets its ``tenant_id`` condition, and it needs a :class:`TenantScope`.
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import Select
from sqlalchemy.orm import InstrumentedAttribute

from qrefund.tenants.scope import TenantScope

S = TypeVar("S", bound=Select[Any])


def scoped(stmt: S, tenant_column: InstrumentedAttribute[Any] | Any, scope: TenantScope) -> S:
    if scope.tenant_ids is None:
        return stmt
    return stmt.where(tenant_column.in_(sorted(scope.tenant_ids)))
