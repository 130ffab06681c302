"""Shared bits of the foundation tests: recording payments, counting rows."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.engine import Engine

from qrefund.platform.db import Database
from qrefund.platform.models import metadata
from qrefund.platform.scope import TenantScope
from qrefund.tenants.auth import authenticate
from tests.support.graphql import gql, ok

RECORD = """mutation($input: RecordTransactionInput!) { recordTransaction(input: $input) {
  transaction { id merchantOrderNo status channel paidAt receiptToken payerAccountMasked
    amount { amount currency } refundableAmount { amount currency } }
  userErrors { code field message } } }"""


def txn_input(**overrides: Any) -> dict[str, Any]:
    """A valid RecordTransactionInput (CNY); keyword arguments replace fields."""
    base: dict[str, Any] = {
        "merchantOrderNo": f"ORD-{uuid.uuid4().hex[:12]}",
        "channel": "WECHAT_PAY",
        "providerReference": f"wx{uuid.uuid4().hex[:16]}",
        "amount": "12.50",
        "currency": "CNY",
        "status": "SUCCEEDED",
        "paidAt": "2026-11-01T10:00:00+08:00",
    }
    base.update(overrides)
    return base


def recent_paid_at() -> str:
    """An hour ago by the real clock: for a payment a test refunds under a policy's
    refund window without freezing time (the fixed default date falls out of a
    30-day window a month after it)."""
    return (datetime.now(UTC) - timedelta(hours=1)).isoformat(timespec="seconds")


async def record_txn(client: httpx.AsyncClient, key: str, **overrides: Any) -> dict[str, Any]:
    """Record through the API and return the transaction (fails the test on user errors)."""
    data = await ok(client, RECORD, {"input": txn_input(**overrides)}, key=key)
    payload: dict[str, Any] = data["recordTransaction"]
    assert payload["userErrors"] == [], payload
    txn: dict[str, Any] = payload["transaction"]
    return txn


async def record_errors(
    client: httpx.AsyncClient, key: str, **overrides: Any
) -> list[dict[str, Any]]:
    """User errors of a recordTransaction call that must be refused as a user error."""
    body = await gql(client, RECORD, {"input": txn_input(**overrides)}, key=key)
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"]["recordTransaction"]
    assert payload["transaction"] is None, payload
    errors: list[dict[str, Any]] = payload["userErrors"]
    assert errors, payload
    return errors


def row_counts(owner_engine: Engine) -> dict[str, int]:
    """Rows per table, read as the owner (no RLS): proves a refusal wrote nothing."""
    with owner_engine.connect() as conn:
        return {
            t.name: int(conn.execute(text(f"SELECT count(*) FROM {t.name}")).scalar_one())
            for t in metadata.sorted_tables
        }


async def scope_of(db: Database, key: str) -> TenantScope:
    return await authenticate(db, key)
