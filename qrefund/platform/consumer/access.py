"""Opening a unit of work as a receipt holder: the page's and the API's way in."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from qrefund.platform.db import Database, UnitOfWork
from qrefund.platform.errors import NotFound
from qrefund.platform.scope import TenantScope
from qrefund.tenants.auth import receipt_scope


def scope_for(token: str | None) -> TenantScope | None:
    """The receipt scope of ``token`` (MAC checked, no database); None when forged."""
    if not isinstance(token, str) or not token or len(token) > 100:
        return None
    return receipt_scope(token.strip())


@asynccontextmanager
async def receipt_unit(db: Database, token: str | None, *, readonly: bool = False
                       ) -> AsyncIterator[UnitOfWork]:
    """A unit of work in the receipt scope of ``token``; a forged token is *not found*
    (the consumer services then refuse revoked and expired ones the same way). The unit
    commits when the block ends without an error, like every unit."""
    scope = scope_for(token)
    if scope is None:
        raise NotFound("receipt not found", field=["receiptToken"])
    async with db.unit_of_work(scope, readonly=readonly) as uow:
        yield uow
