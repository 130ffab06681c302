"""Public consumer fields are rate-limited per receipt token and per client address."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from redis import Redis

from qrefund.app import create_app
from qrefund.platform.config import Settings
from qrefund.platform.db import Database
from tests.consumer import api
from tests.consumer.helpers import counts, token_of
from tests.refunds.helpers import record_txn
from tests.support.world import World

Client = Callable[[], httpx.AsyncClient]


@pytest.fixture
async def limited(settings: Settings, db: Database, redis_conn: Redis
                  ) -> AsyncIterator[Callable[..., Client]]:
    """An app with small receipt budgets; each client it makes has an address of its own."""
    opened: list[httpx.AsyncClient] = []

    def app(**changes: Any) -> Client:
        built = create_app(settings.model_copy(update=changes), db)

        def client() -> httpx.AsyncClient:
            address = f"10.9.{uuid.uuid4().int % 250}.{len(opened) + 1}"
            transport = httpx.ASGITransport(app=built,  # type: ignore[arg-type]
                                            client=(address, 4242))
            made = httpx.AsyncClient(transport=transport, base_url="http://testserver")
            opened.append(made)
            return made
        return client

    yield app
    for made in opened:
        await made.aclose()


async def _status(client: httpx.AsyncClient, token: str) -> int:
    response = await client.post("/graphql", json={
        "query": api.RECEIPT, "variables": {"token": token}})
    return response.status_code


async def test_a_token_has_a_budget_wherever_it_is_used(limited: Callable[..., Client],
                                                        db: Database, world: World) -> None:
    clients = limited(rate_limit_receipt_per_token="3/minute",
                      rate_limit_receipt_per_address="100/minute")
    token = token_of(await record_txn(db, world))
    first, second = clients(), clients()
    assert [await _status(first, token) for _ in range(3)] == [200, 200, 200]
    response = await second.post("/graphql", json={"query": api.RECEIPT,
                                                   "variables": {"token": token}})
    assert response.status_code == 429 and int(response.headers["Retry-After"]) >= 1
    assert response.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
    # Another receipt has its own budget
    assert await _status(second, token_of(await record_txn(db, world))) == 200


async def test_an_address_has_a_budget_across_tokens_and_mutations(
        limited: Callable[..., Client], db: Database, world: World) -> None:
    clients = limited(rate_limit_receipt_per_token="100/minute",
                      rate_limit_receipt_per_address="2/minute")
    guesser = clients()
    tokens = [token_of(await record_txn(db, world)) for _ in range(3)]
    assert [await _status(guesser, t) for t in tokens[:2]] == [200, 200]
    before = await counts(db, world)
    body = await api.mutate(guesser, "ApplyForRefund", expect_status=429,
                            receiptToken=tokens[2], amount="1", reason="OTHER")
    assert body["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
    assert await counts(db, world) == before
    assert await _status(clients(), tokens[2]) == 200  # another address
