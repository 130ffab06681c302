"""Arranging refund cases with chosen times (the figures are hand-computed from them)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from qrefund.platform.analytics import service
from qrefund.platform.analytics.figures import Dimension, StatsResult
from qrefund.platform.analytics.request import stats_query
from qrefund.platform.db import Database
from qrefund.platform.refunds.models import RefundCase
from qrefund.platform.scope import TenantScope
from qrefund.platform.transactions.models import Transaction
from qrefund.tenants import service as tenants
from qrefund.tenants.auth import authenticate
from tests.support.world import World

_numbers = iter(range(1, 10**9))


def at(text: str) -> datetime:
    """An ISO time with its offset, as UTC."""
    return datetime.fromisoformat(text).astimezone(UTC)


async def operator(db: Database, world: World) -> TenantScope:
    return await authenticate(db, world.key("operator"))


async def add_merchant(db: Database, world: World, slug: str, timezone: str) -> uuid.UUID:
    async with db.unit_of_work(await operator(db, world)) as uow:
        merchant = await tenants.create_merchant(uow, name=slug, slug=slug,
                                                 agency_id=world.agency_id, timezone=timezone,
                                                 default_currency="CNY")
        return merchant.id


def case_row(tenant_id: uuid.UUID, created: datetime, *, requested: int = 10000,
             store: str | None = "S1", terminal: str | None = "T1",
             payment_channel: str = "WECHAT_PAY", **fields: Any) -> tuple[Transaction, RefundCase]:
    """A payment and its refund case requested at ``created``: review due 48 h and
    completion due 72 h later unless given; ``fields`` set the rest (times, amounts)."""
    n = next(_numbers)
    txn = Transaction(tenant_id=tenant_id, merchant_order_no=f"O-{n}", channel=payment_channel,
                      provider_reference=f"p-{n}", store_id=store, terminal_id=terminal,
                      amount_minor=max(requested, 100000), currency=fields.get("currency", "CNY"),
                      status="SUCCEEDED", paid_at=created - timedelta(hours=1),
                      created_at=created - timedelta(hours=1))
    values: dict[str, Any] = dict(
        tenant_id=tenant_id, case_number=f"R-{n}", transaction_id=txn.id, status="SUBMITTED",
        requested_minor=requested, currency="CNY", reason="QUALITY_ISSUE", channel="API",
        method="ORIGINAL_ROUTE", submitted_by="test", created_at=created, updated_at=created,
        review_due_at=created + timedelta(hours=48),
        completion_due_at=created + timedelta(hours=72))
    values.update(fields)
    return txn, RefundCase(**values)


async def store(db: Database, world: World, *rows: tuple[Transaction, RefundCase]) -> None:
    async with db.unit_of_work(await operator(db, world)) as uow:
        for txn, _case in rows:
            uow._add(txn)
        await uow.flush()
        for _txn, case in rows:
            uow._add(case)


async def stats(db: Database, scope: TenantScope, start: str, end: str, *,
                merchants: list[uuid.UUID] | None = None, group_by: tuple[Dimension, ...] = (),
                timezone: str | None = None, use_rollup: bool = True) -> StatsResult:
    query = stats_query(merchant_ids=merchants, start=at(start), end=at(end),
                        group_by=group_by, timezone=timezone, use_rollup=use_rollup)
    async with db.unit_of_work(scope, readonly=True) as uow:
        return await service.refund_stats(uow, query)
