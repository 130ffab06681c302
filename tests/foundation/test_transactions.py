"""recordTransaction: idempotency, currency exponents, encryption at rest, receipt tokens."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import httpx
import pytest
from cryptography.exceptions import InvalidTag
from sqlalchemy import text

from qrefund.graphql_schema import ids
from qrefund.platform.crypto import KeyRing, generate_key, key_ring
from qrefund.platform.db import Database
from qrefund.platform.errors import Forbidden, InvalidInput, NotFound
from qrefund.platform.money import Money
from qrefund.platform.transactions import service
from qrefund.platform.transactions.receipt import make_token, parse_token
from qrefund.tenants.auth import authenticate, receipt_scope
from tests.foundation.helpers import RECORD, record_errors, record_txn, row_counts, txn_input
from tests.support.graphql import gql, ok
from tests.support.world import World


def _events(owner_engine: Any, kind: str) -> int:
    with owner_engine.connect() as conn:
        return int(
            conn.execute(
                text("SELECT count(*) FROM domain_events WHERE type = :t"), {"t": kind}
            ).scalar_one()
        )


def _raw(owner_engine: Any, column: str, order_no: str) -> Any:
    with owner_engine.connect() as conn:
        return conn.execute(
            text(f"SELECT {column} FROM transactions WHERE merchant_order_no = :o"), {"o": order_no}
        ).scalar_one()


# -- idempotency -------------------------------------------------------------------------


async def test_same_order_twice_is_one_transaction(
    client: httpx.AsyncClient, world: World, owner_engine: Any
) -> None:
    key = world.key("a", "INTEGRATION")
    same = txn_input(merchantOrderNo="ORD-77")
    first = await record_txn(client, key, **same)
    before = row_counts(owner_engine)
    second = await record_txn(client, key, **same)
    assert second["id"] == first["id"]
    assert row_counts(owner_engine) == before
    assert _events(owner_engine, "transaction.recorded") == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"amount": "99.00"}, "amount"),
        ({"currency": "USD"}, "amount"),
        ({"channel": "ALIPAY"}, "merchantOrderNo"),
        ({"providerReference": "other"}, "merchantOrderNo"),
        ({"status": "FAILED"}, "status"),
    ],
)
async def test_same_order_with_other_payment_is_a_conflict(
    client: httpx.AsyncClient, world: World, owner_engine: Any, change: dict[str, str], field: str
) -> None:
    key = world.key("a", "INTEGRATION")
    same = txn_input(merchantOrderNo="ORD-78")
    await record_txn(client, key, **same)
    before = row_counts(owner_engine)
    errors = await record_errors(client, key, **{**same, **change})
    assert [(e["code"], e["field"]) for e in errors] == [("ORDER_NO_CONFLICT", [field])]
    assert row_counts(owner_engine) == before


async def test_pending_payment_may_settle_once(
    client: httpx.AsyncClient, world: World, owner_engine: Any
) -> None:
    key = world.key("a", "INTEGRATION")
    pending = txn_input(merchantOrderNo="ORD-79", status="PENDING")
    first = await record_txn(client, key, **pending)
    settled = await record_txn(client, key, **{**pending, "status": "SUCCEEDED"})
    assert settled["id"] == first["id"] and settled["status"] == "SUCCEEDED"
    assert _events(owner_engine, "transaction.status_changed") == 1
    errors = await record_errors(client, key, **{**pending, "status": "PENDING"})
    assert errors[0]["code"] == "ORDER_NO_CONFLICT"


async def test_order_numbers_are_per_merchant(client: httpx.AsyncClient, world: World) -> None:
    a = await record_txn(client, world.key("a", "INTEGRATION"), merchantOrderNo="SHARED-1")
    b = await record_txn(client, world.key("b", "INTEGRATION"), merchantOrderNo="SHARED-1")
    assert a["id"] != b["id"]


@pytest.mark.postgres_only
async def test_concurrent_duplicates_make_one_row(
    client: httpx.AsyncClient, world: World, owner_engine: Any
) -> None:
    key = world.key("a", "INTEGRATION")
    same = txn_input(merchantOrderNo="ORD-RACE")
    results = await asyncio.gather(
        *(gql(client, RECORD, {"input": same}, key=key) for _ in range(8))
    )
    payloads = [r["data"]["recordTransaction"] for r in results]
    assert all(p["userErrors"] == [] for p in payloads), payloads
    assert len({p["transaction"]["id"] for p in payloads}) == 1
    with owner_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM transactions")).scalar_one() == 1
    assert _events(owner_engine, "transaction.recorded") == 1


@pytest.mark.postgres_only
async def test_concurrent_conflicting_amounts_keep_the_first(
    client: httpx.AsyncClient, world: World, owner_engine: Any
) -> None:
    key = world.key("a", "INTEGRATION")
    inputs = [
        txn_input(merchantOrderNo="ORD-RACE-2", providerReference="wx-race", amount=amount)
        for amount in ["1.00", "2.00"] * 4
    ]
    results = await asyncio.gather(*(gql(client, RECORD, {"input": i}, key=key) for i in inputs))
    stored = Decimal(str(_raw(owner_engine, "amount_minor", "ORD-RACE-2"))) / 100
    for given, body in zip(inputs, results, strict=True):
        payload = body["data"]["recordTransaction"]
        if Decimal(given["amount"]) == stored:
            assert payload["userErrors"] == [], payload
        else:
            assert [e["code"] for e in payload["userErrors"]] == ["ORDER_NO_CONFLICT"]


# -- money -------------------------------------------------------------------------------


async def test_currency_exponents(
    client: httpx.AsyncClient, world: World, owner_engine: Any
) -> None:
    cny = await record_txn(
        client, world.key("a", "INTEGRATION"), merchantOrderNo="CNY-1", amount="12.5"
    )
    assert cny["amount"] == {"amount": "12.50", "currency": "CNY"}
    assert _raw(owner_engine, "amount_minor", "CNY-1") == 1250
    jpy = await record_txn(
        client,
        world.key("c", "INTEGRATION"),
        merchantOrderNo="JPY-1",
        amount="1500",
        currency="JPY",
    )
    assert jpy["amount"] == {"amount": "1500", "currency": "JPY"}
    assert jpy["refundableAmount"] == {"amount": "1500", "currency": "JPY"}
    assert _raw(owner_engine, "amount_minor", "JPY-1") == 1500
    errors = await record_errors(
        client, world.key("c", "INTEGRATION"), amount="1500.5", currency="JPY"
    )
    assert errors[0]["code"] == "INVALID_AMOUNT" and "0 decimal" in errors[0]["message"]


@pytest.mark.parametrize(
    ("amount", "currency", "minor", "shown"),
    [
        ("10.00", "CNY", 1000, "10.00"),
        ("0.01", "CNY", 1, "0.01"),
        ("7", "JPY", 7, "7"),
        ("1.234", "KWD", 1234, "1.234"),
        ("3", "USD", 300, "3.00"),
    ],
)
def test_money_minor_units(amount: str, currency: str, minor: int, shown: str) -> None:
    money = Money.parse(amount, currency)
    assert (money.minor, money.currency, str(money.decimal)) == (minor, currency, shown)


@pytest.mark.parametrize(
    ("amount", "currency"), [("0.001", "CNY"), ("0.5", "JPY"), ("1.2345", "KWD"), ("-0.01", "CNY")]
)
def test_money_refuses(amount: str, currency: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        Money.parse(amount, currency)
    assert caught.value.code == "INVALID_AMOUNT"


# -- payer account at rest ---------------------------------------------------------------


async def test_payer_account_is_encrypted_at_rest(
    client: httpx.AsyncClient, world: World, owner_engine: Any
) -> None:
    txn = await record_txn(
        client, world.key("a", "INTEGRATION"), merchantOrderNo="ENC-1", payerAccount="wx_1234567890"
    )
    assert txn["payerAccountMasked"] == "****7890"
    stored = _raw(owner_engine, "payer_account_enc", "ENC-1")
    assert "1234567890" not in stored and stored.startswith("v1.")
    ring = key_ring()
    assert ring.decrypt(stored, service.PAYER_PURPOSE) == "wx_1234567890"
    with pytest.raises(InvalidTag):  # bound to its column: no copying into another one
        ring.decrypt(stored, "refund_case.bank_destination")
    # Rotation: a new primary key encrypts, the old one still decrypts what it wrote.
    rotated = KeyRing({"new": KeyRing.parse(generate_key()).keys["k0"], **ring.keys}, "new")
    assert rotated.decrypt(stored, service.PAYER_PURPOSE) == "wx_1234567890"
    fresh = rotated.encrypt("wx_999", service.PAYER_PURPOSE)
    assert fresh.startswith("v1.new.")
    with pytest.raises(ValueError):
        ring.decrypt(fresh, service.PAYER_PURPOSE)


def test_two_encryptions_differ() -> None:
    ring = key_ring()
    assert ring.encrypt("same", "p") != ring.encrypt("same", "p")


# -- receipt tokens ----------------------------------------------------------------------


async def test_receipt_token_verifies_and_revokes(
    client: httpx.AsyncClient, world: World, db: Database
) -> None:
    txn = await record_txn(client, world.key("a", "INTEGRATION"), merchantOrderNo="RCPT-1")
    token = txn["receiptToken"]
    tenant_id, txn_id = ids.scoped_id(txn["id"], "Transaction")
    assert parse_token(key_ring(), token) == (tenant_id, txn_id, 1)
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    for bad in [tampered, "", "x" * 500, token + "A"]:
        assert parse_token(key_ring(), bad) is None
        assert receipt_scope(bad) is None

    consumer = receipt_scope(token)
    assert consumer is not None and consumer.tenant_ids == frozenset({tenant_id})
    async with db.unit_of_work(consumer, readonly=True) as uow:
        assert (await service.by_receipt_token(uow, token)).id == txn_id

    agent = await authenticate(db, world.key("a", "REFUND_AGENT"))
    async with db.unit_of_work(agent) as uow:
        with pytest.raises(Forbidden):
            await service.revoke_receipt(uow, tenant_id, txn_id)
    admin = await authenticate(db, world.key("a"))
    async with db.unit_of_work(admin) as uow:
        await service.revoke_receipt(uow, tenant_id, txn_id)
    async with db.unit_of_work(consumer, readonly=True) as uow:
        with pytest.raises(NotFound):
            await service.by_receipt_token(uow, token)
    node = await ok(
        client,
        "query($id: ID!) { node(id: $id) { ... on Transaction { receiptToken } } }",
        {"id": txn["id"]},
        key=world.key("a"),
    )
    assert node["node"]["receiptToken"] is None

    async with db.unit_of_work(admin) as uow:
        reissued = await service.revoke_receipt(uow, tenant_id, txn_id, reissue=True)
    new_token = make_token(key_ring(), tenant_id, txn_id, reissued.receipt_token_version)
    async with db.unit_of_work(consumer, readonly=True) as uow:
        assert (await service.by_receipt_token(uow, new_token)).id == txn_id
        with pytest.raises(NotFound):  # the first print stays dead
            await service.by_receipt_token(uow, token)


async def test_receipt_of_another_merchant_is_not_found(
    client: httpx.AsyncClient, world: World, db: Database
) -> None:
    txn = await record_txn(client, world.key("b", "INTEGRATION"), merchantOrderNo="RCPT-B")
    tenant_id, txn_id = ids.scoped_id(txn["id"], "Transaction")
    scope_a = await authenticate(db, world.key("a"))
    async with db.unit_of_work(scope_a) as uow:
        with pytest.raises(NotFound):
            await service.by_receipt_token(uow, txn["receiptToken"])
        with pytest.raises(NotFound):
            await service.revoke_receipt(uow, tenant_id, txn_id)


async def test_receipt_tokens_survive_key_rotation(client: httpx.AsyncClient, world: World) -> None:
    txn = await record_txn(client, world.key("a", "INTEGRATION"), merchantOrderNo="RCPT-ROT")
    ring = key_ring()
    rotated = KeyRing({"new": KeyRing.parse(generate_key()).keys["k0"], **ring.keys}, "new")
    assert parse_token(rotated, txn["receiptToken"]) is not None
    stranger = KeyRing.parse(generate_key())
    assert parse_token(stranger, txn["receiptToken"]) is None
