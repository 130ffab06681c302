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
4. one ``transaction.recorded`` event per new row, written by the outbox's batched
   writer (:func:`~qrefund.platform.outbox.service.record_events`: a block of
   sequence numbers and one insert).

Bulk inserts go through :meth:`~qrefund.platform.repository.TenantRepository.insert_rows`
(PostgreSQL: one array per column, so the statement is compiled and planned once;
at most :data:`MAX_BATCH` rows keep SQLite's multi-row ``VALUES`` under its
parameter limit).

A refused row never undoes the others (nothing is written for it); the caller's unit
commits or rolls back the batch as a whole.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from qrefund.platform.db import UnitOfWork
from qrefund.platform.errors import DomainError
from qrefund.platform.outbox.service import NewEvent, record_events
from qrefund.platform.roles import Permission
from qrefund.platform.transactions import service
from qrefund.platform.transactions.repository import TransactionRepository
from qrefund.platform.transactions.service import Normalised, RecordTransaction
from qrefund.tenants.service import resolve_merchant

MAX_BATCH = 1000

Outcome = uuid.UUID | DomainError


async def record_many(uow: UnitOfWork, merchant_id: uuid.UUID | None,
                      cmds: Sequence[RecordTransaction]) -> list[Outcome]:
    """Each command's payment id (new, or the one already recorded with it), or the
    user error that refused it, in order. The commands' own ``merchant_id`` is
    ignored: the batch is ``merchant_id``'s (resolved as ``record`` resolves it).
    Raises for the batch as a whole only when the caller may not record for that
    merchant, or it is suspended."""
    if len(cmds) > MAX_BATCH:
        raise ValueError(f"at most {MAX_BATCH} rows per batch")
    uow.scope.require(Permission.RECORD_TRANSACTIONS)
    merchant = await resolve_merchant(uow, merchant_id)
    service.require_writable(merchant)
    outcomes: list[Outcome | None] = [None] * len(cmds)
    first: dict[str, tuple[int, Normalised, dict[str, Any]]] = {}
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
            first[n.order_no] = (i, n, service.row_values(merchant.id, cmd, n))
    repo = TransactionRepository(uow)
    written = await repo.insert_new([row for _, _, row in first.values()])
    fresh: list[NewEvent] = []
    for i, n, row in first.values():
        if row["id"] in written:
            outcomes[i] = row["id"]
            fresh.append(NewEvent("transaction.recorded", "transaction", row["id"],
                                  service.recorded_payload(n.order_no, n.money, row["status"],
                                                           row["channel"])))
        else:
            again.append((i, n))
    await record_events(uow, merchant.id, fresh)
    await _replay(uow, repo, merchant.id, cmds, sorted(again, key=lambda a: a[0]), outcomes)
    assert all(o is not None for o in outcomes)
    return outcomes  # type: ignore[return-value]


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
            outcomes[i] = (await service.replay(uow, txn, cmds[i], n.money)).id
        except DomainError as error:
            outcomes[i] = error
