"""Building blocks for complaint tests: rows through the services, counts, receipts."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from qrefund.platform.complaints.models import (
    ComplaintAttachment,
    ComplaintEvent,
    ComplaintMessage,
    ComplaintTicket,
)
from qrefund.platform.crypto import key_ring
from qrefund.platform.db import Database
from qrefund.platform.outbox.models import DomainEvent
from qrefund.platform.refunds.models import RefundCase
from qrefund.platform.scope import TenantScope
from qrefund.platform.transactions.models import Transaction
from qrefund.platform.transactions.receipt import make_token
from qrefund.tenants.auth import receipt_scope
from tests.refunds.helpers import scope_of
from tests.support.raw import unchecked
from tests.support.world import World

TABLES = {"tickets": ComplaintTicket, "messages": ComplaintMessage, "events": ComplaintEvent,
          "attachments": ComplaintAttachment, "outbox": DomainEvent, "cases": RefundCase}


async def counts(db: Database, world: World) -> dict[str, int]:
    """Row counts that must not move when a request is refused."""
    async with db.unit_of_work(await scope_of(db, world, "operator")) as uow:
        found = {}
        for name, model in TABLES.items():
            stmt = select(func.count()).select_from(model)
            found[name] = int((await unchecked(uow).execute(stmt)).scalar() or 0)
        return found


def consumer(txn: Transaction) -> TenantScope:
    """The receipt scope of the consumer who paid ``txn``."""
    scope = receipt_scope(make_token(key_ring(), txn.tenant_id, txn.id,
                                     txn.receipt_token_version))
    assert scope is not None
    return scope


async def rows(db: Database, world: World, model: Any, *where: Any) -> list[Any]:
    """Rows read as the operator, past the repositories (assertions only)."""
    async with db.unit_of_work(await scope_of(db, world, "operator")) as uow:
        result = await unchecked(uow).execute(select(model).where(*where))
        found = list(result.scalars())
        for row in found:
            uow.expunge(row)
        return found
