"""Per-request data loaders for refund cases and what hangs off them.

Each loader batches every key asked for in one tick of the event loop into one
statement (the batch reads live in :mod:`qrefund.platform.refunds.queries`), so a
page of cases with nested transactions, timelines and policies costs a fixed
number of statements whatever the page size.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import TypeVar

from strawberry.dataloader import DataLoader

from qrefund.graphql_schema.context import Context
from qrefund.graphql_schema.loaders import batch_loader
from qrefund.platform.db import UnitOfWork
from qrefund.platform.policies import service as policies
from qrefund.platform.policies.models import RefundPolicy
from qrefund.platform.refunds import queries
from qrefund.platform.refunds.models import RefundCase, RefundCaseEvent, RefundEvidence

Key = tuple[uuid.UUID, uuid.UUID]
PolicyKey = tuple[uuid.UUID, uuid.UUID, uuid.UUID]  # (case tenant, policy owner, policy id)
K = TypeVar("K")
V = TypeVar("V")


def _policy_key(key: PolicyKey) -> Key:
    return key[1], key[2]


async def _policies(uow: UnitOfWork, keys: Sequence[PolicyKey]) -> dict[PolicyKey, RefundPolicy]:
    rows = await policies.versions_by_key(uow, keys)
    return {k: rows[_policy_key(k)] for k in keys if _policy_key(k) in rows}


def case_loader(ctx: Context) -> DataLoader[Key, RefundCase | None]:
    return batch_loader(ctx, "refund_case_by_id", queries.cases_by_id, lambda: None)


def cases_by_transaction_loader(ctx: Context) -> DataLoader[Key, list[RefundCase]]:
    return batch_loader(ctx, "refund_cases_by_transaction", queries.cases_by_transaction, list)


def events_loader(ctx: Context) -> DataLoader[Key, list[RefundCaseEvent]]:
    return batch_loader(ctx, "refund_case_events", queries.events_by_case, list)


def last_event_loader(ctx: Context) -> DataLoader[Key, RefundCaseEvent | None]:
    return batch_loader(ctx, "refund_case_last_event", queries.last_event_by_case, lambda: None)


def evidence_loader(ctx: Context) -> DataLoader[Key, list[RefundEvidence]]:
    return batch_loader(ctx, "refund_case_evidence", queries.evidence_by_case, list)


def policy_loader(ctx: Context) -> DataLoader[PolicyKey, RefundPolicy | None]:
    return batch_loader(ctx, "refund_policy_by_case", _policies, lambda: None)
