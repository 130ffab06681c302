"""GraphQL types for transactions."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from qrefund.graphql_schema import ids
from qrefund.graphql_schema.context import Info
from qrefund.graphql_schema.loaders import tenant_loader
from qrefund.graphql_schema.money import MoneyType
from qrefund.graphql_schema.relay import Node
from qrefund.graphql_schema.risk.types import AnomalyFlagType, flags_by_transaction_loader
from qrefund.graphql_schema.tenants.types import TenantType
from qrefund.platform.consumer import qr
from qrefund.platform.crypto import key_ring
from qrefund.platform.transactions.models import PaymentChannel as DomainChannel
from qrefund.platform.transactions.models import Transaction
from qrefund.platform.transactions.models import TransactionStatus as DomainStatus
from qrefund.platform.transactions.receipt import make_token

if TYPE_CHECKING:
    from qrefund.graphql_schema.complaints.types import ComplaintTicketType
    from qrefund.graphql_schema.refunds.types import RefundCaseType

PaymentChannel = strawberry.enum(DomainChannel, name="PaymentChannel")
TransactionStatus = strawberry.enum(DomainStatus, name="TransactionStatus")


@strawberry.type(name="Transaction")
class TransactionType(Node):
    merchant_order_no: str
    amount: MoneyType
    refunded_amount: MoneyType
    refundable_amount: MoneyType
    status: TransactionStatus  # type: ignore[valid-type]
    channel: PaymentChannel  # type: ignore[valid-type]
    paid_at: datetime
    provider_reference: str
    store_id: str | None
    terminal_id: str | None
    payer_account_masked: str | None
    refund_count: int
    created_at: datetime
    merchant_id: strawberry.ID
    _tenant_id: strawberry.Private[uuid.UUID]
    _id: strawberry.Private[uuid.UUID]
    _receipt_version: strawberry.Private[int | None]  # None once revoked

    @strawberry.field(
        description="Printed by the POS as a QR code to the consumer page; null once revoked."
    )
    def receipt_token(self) -> str | None:
        # Computed only when asked for: an HMAC per row is wasted on most list pages.
        if self._receipt_version is None:
            return None
        return make_token(key_ring(), self._tenant_id, self._id, self._receipt_version)

    @strawberry.field(description="The consumer page the receipt's QR code leads to "
                      "(<public base URL>/r/<token>); null once revoked.")
    def receipt_url(self, info: Info) -> str | None:
        token = self.receipt_token()
        return qr.receipt_url(info.context.settings, token) if token else None

    @strawberry.field(description="The receipt's QR code as an SVG document, for the POS to "
                      "print; null once revoked. scale: pixels per module (clamped to 1-20). "
                      "Thermal printers: GET /receipts/<transaction id>.png.")
    def receipt_qr_svg(self, info: Info, scale: int = 4) -> str | None:
        url = self.receipt_url(info)
        return qr.svg(url, scale=scale) if url else None

    @classmethod
    def of(cls, t: Transaction) -> TransactionType:
        return cls(
            id=ids.encode("Transaction", t.tenant_id, t.id),
            merchant_order_no=t.merchant_order_no,
            amount=MoneyType.of(t.amount_minor, t.currency),
            refunded_amount=MoneyType.of(t.refunded_minor, t.currency),
            refundable_amount=MoneyType.of(t.refundable_minor, t.currency),
            status=DomainStatus(t.status),
            channel=DomainChannel(t.channel),
            paid_at=t.paid_at,
            provider_reference=t.provider_reference,
            store_id=t.store_id,
            terminal_id=t.terminal_id,
            payer_account_masked=t.payer_masked,
            refund_count=t.refund_count,
            created_at=t.created_at,
            merchant_id=ids.encode("Tenant", t.tenant_id),
            _tenant_id=t.tenant_id,
            _id=t.id,
            _receipt_version=t.receipt_token_version if t.receipt_revoked_at is None else None,
        )

    @strawberry.field
    async def merchant(self, info: Info) -> TenantType:
        tenant = await tenant_loader(info.context).load(self._tenant_id)
        assert tenant is not None
        return TenantType.of(tenant)

    @strawberry.field(description="The payment's refund cases, oldest first.")
    def refund_cases(
        self, info: Info
    ) -> list[Annotated[RefundCaseType, strawberry.lazy("qrefund.graphql_schema.refunds.types")]]:
        # Provided by the refunds package, wired by name in schema.py: this package sits
        # below it and must not import it.
        loader = info.context.related("refund_case_types_by_transaction")
        return loader.load((self._tenant_id, self._id))  # type: ignore[no-any-return]

    @strawberry.field(description="Anomaly flags on the payment and on its refund cases, "
                      "oldest first.")
    def flags(self, info: Info) -> list[AnomalyFlagType]:
        return flags_by_transaction_loader(info.context).load(  # type: ignore[return-value]
            (self._tenant_id, self._id))

    @strawberry.field(description="Complaint tickets about the payment, oldest first.")
    def complaints(
        self, info: Info
    ) -> list[Annotated[ComplaintTicketType,
                        strawberry.lazy("qrefund.graphql_schema.complaints.types")]]:
        # Provided by the complaints package, wired by name in schema.py (see refundCases).
        loader = info.context.related("complaint_ticket_types_by_transaction")
        return loader.load((self._tenant_id, self._id))  # type: ignore[no-any-return]
