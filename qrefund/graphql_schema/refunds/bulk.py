"""Bulk refund decisions for agencies and busy desks: one call, many cases.

Each item is its own unit of work, run in order: one item's failure (another
tenant's case, a case already decided, a bad amount) is that item's
``userErrors`` and undoes nothing of the others. Approvals take an
``idempotencyKey`` per item, so a retried batch pays nothing twice. A batch
over :data:`MAX_BATCH` items is refused whole, before anything runs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import strawberry

from qrefund.graphql_schema import ids
from qrefund.graphql_schema.context import Info
from qrefund.graphql_schema.errors import UserError
from qrefund.graphql_schema.refunds.types import RefundCaseType
from qrefund.platform.db import UnitOfWork
from qrefund.platform.errors import CommonError, InvalidInput
from qrefund.platform.refunds import service
from qrefund.platform.refunds.models import RefundCase

MAX_BATCH = 100


@strawberry.input
class BulkStartReviewItem:
    id: strawberry.ID
    assignee: str | None = None


@strawberry.input
class StartRefundReviewsInput:
    items: list[BulkStartReviewItem]


@strawberry.input
class AssignRefundCasesInput:
    ids: list[strawberry.ID]
    assignee: str


@strawberry.input
class BulkApproveItem:
    id: strawberry.ID
    amount: Decimal | None = None
    note: str | None = None
    idempotency_key: str | None = None


@strawberry.input
class ApproveRefundsInput:
    items: list[BulkApproveItem]


@strawberry.input
class BulkRejectItem:
    id: strawberry.ID
    reason: str


@strawberry.input
class RejectRefundsInput:
    items: list[BulkRejectItem]


@strawberry.type(description="One item of a bulk call: its case, or why it failed.")
class BulkRefundResult:
    # The item's position, not its id echoed back: an id of another tenant's case stays
    # the caller's own input and is never shown in data.
    index: int = strawberry.field(description="The item's position in the call (from 0).")
    refund_case: RefundCaseType | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class BulkRefundPayload:
    results: list[BulkRefundResult] = strawberry.field(
        default_factory=list, description="One per item, in the items' order.")
    succeeded: int = 0
    failed: int = 0
    user_errors: list[UserError] = strawberry.field(
        default_factory=list, description="Errors of the batch as a whole (nothing ran).")


@strawberry.type
class StartRefundReviewsPayload(BulkRefundPayload):
    pass


@strawberry.type
class AssignRefundCasesPayload(BulkRefundPayload):
    pass


@strawberry.type
class ApproveRefundsPayload(BulkRefundPayload):
    pass


@strawberry.type
class RejectRefundsPayload(BulkRefundPayload):
    pass


@dataclass(frozen=True)
class _Id:
    """An item that is only an id (assignRefundCases takes a list of ids)."""

    id: strawberry.ID


Work = Callable[[UnitOfWork, tuple[Any, Any]], Awaitable[RefundCase]]


async def _each(info: Info, payload: type[BulkRefundPayload], items: Sequence[Any],
                work: Callable[[Any], Work], field: str = "items") -> Any:
    if not items or len(items) > MAX_BATCH:
        error = InvalidInput(f"give 1 to {MAX_BATCH} {field}", field=[field],
                             code=CommonError.TOO_MANY if items else CommonError.REQUIRED)
        return payload(user_errors=[UserError.of(error)])
    results: list[BulkRefundResult] = []
    for index, item in enumerate(items):
        step = work(item)

        async def unit(uow: UnitOfWork, item: Any = item, step: Work = step,
                       index: int = index) -> BulkRefundResult:
            case = await step(uow, ids.scoped_id(item.id, "RefundCase"))
            return BulkRefundResult(index=index, refund_case=RefundCaseType.of(case))

        def failed(errors: list[UserError], index: int = index) -> BulkRefundResult:
            return BulkRefundResult(index=index, user_errors=errors)

        results.append(await info.context.mutate(unit, failed))
    ok = sum(1 for r in results if not r.user_errors)
    return payload(results=results, succeeded=ok, failed=len(results) - ok)


@strawberry.type
class BulkRefundMutations:
    @strawberry.mutation(description=f"Start the review of up to {MAX_BATCH} cases; each "
                         "item succeeds or fails on its own.")
    async def start_refund_reviews(self, info: Info, input: StartRefundReviewsInput
                                   ) -> StartRefundReviewsPayload:
        return await _each(info, StartRefundReviewsPayload, input.items, lambda i: (
            lambda uow, key: service.start_review(uow, *key, assignee=i.assignee)))

    @strawberry.mutation(description=f"Give up to {MAX_BATCH} open cases to one person or "
                         "queue (the status does not change); each succeeds or fails alone.")
    async def assign_refund_cases(self, info: Info, input: AssignRefundCasesInput
                                  ) -> AssignRefundCasesPayload:
        items = [_Id(gid) for gid in input.ids]
        return await _each(info, AssignRefundCasesPayload, items, lambda i: (
            lambda uow, key: service.assign(uow, *key, assignee=input.assignee)), field="ids")

    @strawberry.mutation(description=f"Approve up to {MAX_BATCH} cases (in full, or the "
                         "item's amount); each item succeeds or fails on its own, and replays "
                         "of an item's idempotencyKey return its first result.")
    async def approve_refunds(self, info: Info, input: ApproveRefundsInput
                              ) -> ApproveRefundsPayload:
        return await _each(info, ApproveRefundsPayload, input.items, lambda i: (
            lambda uow, key: service.approve(uow, *key, amount=i.amount, note=i.note,
                                             idempotency_key=i.idempotency_key)))

    @strawberry.mutation(description=f"Reject up to {MAX_BATCH} cases; each item succeeds "
                         "or fails on its own.")
    async def reject_refunds(self, info: Info, input: RejectRefundsInput
                             ) -> RejectRefundsPayload:
        return await _each(info, RejectRefundsPayload, input.items, lambda i: (
            lambda uow, key: service.reject(uow, *key, reason=i.reason)))
