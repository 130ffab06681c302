"""Building blocks for export tests: payments and cases through the real services, and
the export mutations called over HTTP as a client would."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import httpx

from qrefund.graphql_schema import ids
from qrefund.jobs.registry import QUEUE_MAINTENANCE, QUEUE_RELAY
from qrefund.platform.clock import utcnow
from qrefund.platform.db import Database
from qrefund.platform.refunds import service as refunds
from qrefund.platform.refunds.models import RefundCase
from qrefund.platform.transactions import service as transactions
from qrefund.platform.transactions.models import PaymentChannel, Transaction, TransactionStatus
from tests.jobs.support import JobHarness
from tests.refunds.helpers import scope_of, submit
from tests.support.graphql import gql, ok
from tests.support.world import World

QUEUES = (QUEUE_RELAY, QUEUE_MAINTENANCE)
_orders = iter(range(1, 10**9))

EXPORT_FIELDS = """export { id kind format status merchantIds from to rowsDone rowsTotal
  sizeBytes error downloadUrl }
userErrors { code field message }"""
EXPORT_TXNS = f"""mutation($input: ExportTransactionsInput!) {{
  exportTransactions(input: $input) {{ {EXPORT_FIELDS} }} }}"""
EXPORT_CASES = f"""mutation($input: ExportRefundCasesInput!) {{
  exportRefundCases(input: $input) {{ {EXPORT_FIELDS} }} }}"""
EXPORT_QUERY = """query($id: ID!) { export(id: $id) { id status rowsDone rowsTotal sizeBytes
  downloadUrl } }"""


async def payment(db: Database, world: World, who: str = "a", *, amount: str = "100.00",
                  currency: str = "CNY", paid_at: datetime | None = None,
                  payer: str | None = None, order_no: str | None = None) -> Transaction:
    scope = await scope_of(db, world, who, "INTEGRATION")
    async with db.unit_of_work(scope) as uow:
        return await transactions.record(uow, transactions.RecordTransaction(
            merchant_id=None, merchant_order_no=order_no or f"EXP-{next(_orders)}",
            channel=PaymentChannel.WECHAT_PAY, provider_reference=f"wx-{uuid.uuid4().hex[:12]}",
            amount=Decimal(amount), currency=currency, status=TransactionStatus.SUCCEEDED,
            paid_at=paid_at or utcnow() - timedelta(hours=1), payer_account=payer))


async def refunded(db: Database, world: World, txn: Transaction, amount: str) -> RefundCase:
    """A case of ``amount`` taken to REFUNDED: the payment is partly refunded."""
    case = await submit(db, world, txn, amount=amount)
    agent = await scope_of(db, world, "a", "REFUND_AGENT")
    for step in (refunds.start_review, refunds.approve, refunds.begin_payout,
                 refunds.complete_payout):
        async with db.unit_of_work(agent) as uow:
            await step(uow, case.tenant_id, case.id)
    return case


def period(days: int = 1) -> dict[str, str]:
    now = utcnow()
    return {"from": (now - timedelta(days=days)).isoformat(),
            "to": (now + timedelta(minutes=5)).isoformat()}


def merchant(world: World, who: str = "a") -> str:
    return ids.encode("Tenant", getattr(world, f"merchant_{who}"))


async def ask(client: httpx.AsyncClient, key: str, mutation: str = EXPORT_TXNS,
              **fields: Any) -> dict[str, Any]:
    """The payload of an export mutation (asserting no GraphQL error)."""
    data = await ok(client, mutation, {"input": {"format": "CSV", **period(), **fields}},
                    key=key)
    payload: dict[str, Any] = next(iter(data.values()))
    return payload


async def finished(client: httpx.AsyncClient, workers: JobHarness, key: str,
                   export_id: str) -> dict[str, Any]:
    """Runs the relay and the export job on real workers; the export as then queried."""
    await workers.drain(QUEUES)
    data = await ok(client, EXPORT_QUERY, {"id": export_id}, key=key)
    found: dict[str, Any] = data["export"]
    return found


async def download(client: httpx.AsyncClient, url: str) -> httpx.Response:
    return await client.get(urlsplit(url).path)


async def raw_errors(client: httpx.AsyncClient, key: str, input: dict[str, Any]
                     ) -> dict[str, Any]:
    return await gql(client, EXPORT_TXNS, {"input": input}, key=key)
