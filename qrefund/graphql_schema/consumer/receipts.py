"""Staff mutations on a payment's receipt: reissue (new token, old prints dead) or revoke.

Who may: ``RECORD_TRANSACTIONS`` (ADMIN and INTEGRATION keys): the POS that prints
receipts reissues one after a misprint, an administrator revokes a leaked one.
Refund agents, support and viewers may not. Either way every token printed so far
stops working at once (``receipt(token)`` is null, public mutations answer
``NOT_FOUND``), because a token carries the receipt version it was made for.
"""

from __future__ import annotations

import strawberry

from qrefund.graphql_schema import ids
from qrefund.graphql_schema.context import Info
from qrefund.graphql_schema.errors import UserError
from qrefund.graphql_schema.transactions.types import TransactionType
from qrefund.platform.db import UnitOfWork
from qrefund.platform.transactions import service


@strawberry.input
class ReissueReceiptTokenInput:
    transaction_id: strawberry.ID


@strawberry.input
class RevokeReceiptTokenInput:
    transaction_id: strawberry.ID


@strawberry.type
class ReissueReceiptTokenPayload:
    transaction: TransactionType | None = None
    receipt_token: str | None = strawberry.field(default=None,
                                                 description="The new token (print it).")
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class RevokeReceiptTokenPayload:
    transaction: TransactionType | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class ReceiptMutations:
    @strawberry.mutation(description="Give a payment a new receipt token; every token printed "
                         "before stops working. ADMIN or INTEGRATION.")
    async def reissue_receipt_token(self, info: Info, input: ReissueReceiptTokenInput
                                    ) -> ReissueReceiptTokenPayload:
        async def work(uow: UnitOfWork) -> ReissueReceiptTokenPayload:
            key = ids.scoped_id(input.transaction_id, "Transaction", "transactionId")
            txn = TransactionType.of(await service.revoke_receipt(uow, *key, reissue=True))
            return ReissueReceiptTokenPayload(transaction=txn, receipt_token=txn.receipt_token())

        return await info.context.mutate(
            work, lambda errors: ReissueReceiptTokenPayload(user_errors=errors))

    @strawberry.mutation(description="Stop a payment's receipt from working, with no new one "
                         "(a leaked receipt); reissueReceiptToken gives it one again.")
    async def revoke_receipt_token(self, info: Info, input: RevokeReceiptTokenInput
                                   ) -> RevokeReceiptTokenPayload:
        async def work(uow: UnitOfWork) -> RevokeReceiptTokenPayload:
            key = ids.scoped_id(input.transaction_id, "Transaction", "transactionId")
            txn = await service.revoke_receipt(uow, *key, reissue=False)
            return RevokeReceiptTokenPayload(transaction=TransactionType.of(txn))

        return await info.context.mutate(
            work, lambda errors: RevokeReceiptTokenPayload(user_errors=errors))
