"""The consumer's side: answering, reopening and rating (1-5, after the resolution, once),
through its receipt scope; refusals write nothing."""

from __future__ import annotations

import pytest

from qrefund.platform.complaints import service
from qrefund.platform.errors import DomainError
from tests.complaints.api import done, opened, ticket_key
from tests.complaints.helpers import consumer, counts
from tests.refunds.helpers import record_txn, scope_of

SUPPORT = ("a", "SUPPORT")


async def _ticket(client, db, world, *, resolved=True):
    txn = await record_txn(db, world)
    ticket = await opened(client, world.key(*SUPPORT), txn=txn)
    if resolved:
        await done(client, "ResolveComplaint", world.key(*SUPPORT), id=ticket["id"],
                   resolution="EXPLAINED", note="Explained.")
    return txn, ticket_key(ticket)


async def refused(db, world, scope, code, step):
    before = await counts(db, world)
    with pytest.raises(DomainError) as refusal:
        async with db.unit_of_work(scope) as uow:
            await step(uow)
    assert refusal.value.code == code, refusal.value
    assert await counts(db, world) == before


async def test_rating_out_of_range(client, db, world):
    txn, key = await _ticket(client, db, world)
    for value in (0, 6, -1):
        await refused(db, world, consumer(txn), "OUT_OF_RANGE",
                      lambda uow, v=value: service.rate(uow, *key, rating=v))
    await refused(db, world, consumer(txn), "TOO_LONG",
                  lambda uow: service.rate(uow, *key, rating=5, comment="x" * 1001))


async def test_rating_before_the_resolution(client, db, world):
    txn, key = await _ticket(client, db, world, resolved=False)
    await refused(db, world, consumer(txn), "INVALID_STATE",
                  lambda uow: service.rate(uow, *key, rating=5))


async def test_rating_twice(client, db, world):
    txn, key = await _ticket(client, db, world)
    async with db.unit_of_work(consumer(txn)) as uow:
        await service.rate(uow, *key, rating=2, comment="Slow")
    await refused(db, world, consumer(txn), "ALREADY_RATED",
                  lambda uow: service.rate(uow, *key, rating=5))


async def test_only_the_consumer_of_the_payment_rates(client, db, world):
    _txn, key = await _ticket(client, db, world)
    stranger = await record_txn(db, world)
    await refused(db, world, consumer(stranger), "NOT_FOUND",
                  lambda uow: service.rate(uow, *key, rating=5))
    for role in ("SUPPORT", "ADMIN", "INTEGRATION"):
        await refused(db, world, await scope_of(db, world, "a", role), "FORBIDDEN",
                      lambda uow: service.rate(uow, *key, rating=5))


async def test_a_closed_ticket_is_rated_but_takes_no_answer(client, db, world):
    txn, key = await _ticket(client, db, world)
    async with db.unit_of_work(await scope_of(db, world, *SUPPORT)) as uow:
        await service.close(uow, *key)
    await refused(db, world, consumer(txn), "INVALID_STATE",
                  lambda uow: service.consumer_reply(uow, *key, message="Hello?"))
    async with db.unit_of_work(consumer(txn)) as uow:
        rated = await service.rate(uow, *key, rating=5, comment="Great")
        assert (rated.rating, rated.rating_comment, rated.status) == (5, "Great", "CLOSED")


async def test_the_consumer_reopens_within_the_window(client, db, world):
    txn, key = await _ticket(client, db, world)
    await refused(db, world, consumer(txn), "REQUIRED",
                  lambda uow: service.reopen(uow, *key, reason=" "))
    async with db.unit_of_work(consumer(txn)) as uow:
        reopened = await service.reopen(uow, *key, reason="The money never arrived")
        assert reopened.status == "IN_PROGRESS" and reopened.reopen_count == 1
    stranger = await record_txn(db, world)
    await refused(db, world, consumer(stranger), "NOT_FOUND",
                  lambda uow: service.consumer_reply(uow, *key, message="Me too"))


async def test_support_records_an_answer_given_by_phone(client, db, world):
    _txn, key = await _ticket(client, db, world, resolved=False)
    async with db.unit_of_work(await scope_of(db, world, *SUPPORT)) as uow:
        await service.request_info(uow, *key, message="Which store?")
    async with db.unit_of_work(await scope_of(db, world, *SUPPORT)) as uow:
        answered = await service.consumer_reply(uow, *key, message="Nanjing Road (by phone)")
        assert answered.status == "IN_PROGRESS"
    for role in ("VIEWER", "REFUND_AGENT", "INTEGRATION"):
        await refused(db, world, await scope_of(db, world, "a", role), "FORBIDDEN",
                      lambda uow: service.consumer_reply(uow, *key, message="x"))
