"""Recording many payments of one merchant at once: the path of bulk imports.

The same rules as :func:`qrefund.platform.transactions.service.record` (one shared
:func:`~qrefund.platform.transactions.service.normalise`, the same replay), in a
handful of statements per batch instead of a dozen round trips per row:

1. every command is normalised; a refused one is that row's error, nothing else;
2. the first command of each order number goes into one multi-row
   ``INSERT ... ON CONFLICT DO NOTHING RETURNING id``;
3. the rest (an order number the merchant already had, or one repeated within the
   batch) is read back in one locked ``SELECT`` and replayed one by one: the same
   values again are idempotent, another amount or payment is ``ORDER_NO_CONFLICT``,
   a PENDING that settled moves (and writes ``transaction.status_changed``);
4. one ``transaction.recorded`` event per new row, their sequence numbers taken in
   one statement (:func:`~qrefund.platform.outbox.service.reserve_sequences`).

A refused row never undoes the others (nothing is written for it); the caller's unit
commits or rolls back the batch as a whole.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from qrefund.platform.db import UnitOfWork
from qrefund.platform.errors import DomainError
from qrefund.platform.outbox.service import release_unused_sequences, reserve_sequences
from qrefund.platform.roles import Permission
from qrefund.platform.transactions import service
from qrefund.platform.transactions.models import Transaction
from qrefund.platform.transactions.repository import TransactionRepository
from qrefund.platform.transactions.service import Normalised, RecordTransaction
from qrefund.tenants.service import resolve_merchant

# A multi-row INSERT binds every column of every row: 1,000 rows stay well under the
# parameter limits of PostgreSQL (65,535) and SQLite (32,766).
MAX_BATCH = 1000

Outcome = Transaction | DomainError


async def record_many(uow: UnitOfWork, merchant_id: uuid.UUID | None,
                      cmds: Sequence[RecordTransaction]) -> list[Outcome]:
    """Each command's payment, or the user error that refused it, in order. The
    commands' own ``merchant_id`` is ignored: the batch is ``merchant_id``'s (resolved
    as ``record`` resolves it). Raises for the batch as a whole only when the caller
    may not record for that merchant, or it is suspended."""
    if len(cmds) > MAX_BATCH:
        raise ValueError(f"at most {MAX_BATCH} rows per batch")
    uow.scope.require(Permission.RECORD_TRANSACTIONS)
    merchant = await resolve_merchant(uow, merchant_id)
    service.require_writable(merchant)
    outcomes: list[Outcome | None] = [None] * len(cmds)
    first: dict[str, tuple[int, Normalised, Transaction]] = {}
    again: list[tuple[int, Normalised]] = []
    for i, cmd in enumerate(cmds):
        try:
            n = service.normalise(cmd)
        except DomainError as error:
            outcomes[i] = error
            continue
        if n.order_no in first:
            again.append((i, n))
        else:
            first[n.order_no] = (i, n, service.new_row(merchant.id, cmd, n))
    repo = TransactionRepository(uow)
    written = await repo.insert_new([txn for _, _, txn in first.values()])
    fresh: list[Transaction] = []
    for i, n, txn in first.values():
        if txn.id in written:
            outcomes[i] = txn
            fresh.append(txn)
        else:
            again.append((i, n))
    await _recorded_events(uow, merchant.id, fresh)
    await _replay(uow, repo, merchant.id, cmds, sorted(again, key=lambda a: a[0]), outcomes)
    assert all(o is not None for o in outcomes)
    return outcomes  # type: ignore[return-value]


async def _recorded_events(uow: UnitOfWork, merchant_id: uuid.UUID,
                           fresh: list[Transaction]) -> None:
    if not fresh:
        return
    await reserve_sequences(uow, "events", {merchant_id: len(fresh)})
    for txn in fresh:
        await service.record_recorded_event(uow, txn)
    await release_unused_sequences(uow)


async def _replay(uow: UnitOfWork, repo: TransactionRepository, merchant_id: uuid.UUID,
                  cmds: Sequence[RecordTransaction], again: list[tuple[int, Normalised]],
                  outcomes: list[Outcome | None]) -> None:
    if not again:
        return
    stored = await repo.by_order_nos(merchant_id, [n.order_no for _, n in again])
    for i, n in again:
        txn = stored.get(n.order_no)
        if txn is None:  # cannot happen: the insert skipped it because it exists
            raise RuntimeError("a skipped order number was not found")
        try:
            outcomes[i] = await service.replay(uow, txn, cmds[i], n.money)
        except DomainError as error:
            outcomes[i] = error
