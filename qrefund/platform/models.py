"""Imports every table so SQLModel.metadata (and Alembic) sees the whole schema."""

from sqlmodel import SQLModel

from qrefund.platform.deadlines.models import DeadlineTimer, EscalationContact
from qrefund.platform.notifications.models import Notification
from qrefund.platform.outbox.models import DomainEvent, IdempotencyRecord, TenantSequence
from qrefund.platform.payouts.models import Payout, PayoutEvent
from qrefund.platform.policies.models import RefundPolicy
from qrefund.platform.refunds.models import RefundCase, RefundCaseEvent, RefundEvidence
from qrefund.platform.transactions.models import Transaction
from qrefund.platform.webhooks.models import (
    WebhookDelivery,
    WebhookDeliveryAttempt,
    WebhookEndpoint,
)
from qrefund.tenants.models import ApiKey, Tenant

metadata = SQLModel.metadata

# Tables holding one tenant's data: each gets a row-level-security policy on PostgreSQL.
TENANT_TABLES = [
    "api_keys",
    "tenant_sequences",
    "domain_events",
    "idempotency_records",
    "transactions",
    "refund_policies",
    "refund_cases",
    "refund_case_events",
    "refund_evidence",
    "webhook_endpoints",
    "webhook_deliveries",
    "webhook_delivery_attempts",
    "notifications",
    "payouts",
    "payout_events",
    "deadline_timers",
    "escalation_contacts",
]

__all__ = [
    "TENANT_TABLES",
    "ApiKey",
    "DeadlineTimer",
    "DomainEvent",
    "EscalationContact",
    "IdempotencyRecord",
    "Notification",
    "Payout",
    "PayoutEvent",
    "RefundCase",
    "RefundCaseEvent",
    "RefundEvidence",
    "RefundPolicy",
    "Tenant",
    "TenantSequence",
    "Transaction",
    "WebhookDelivery",
    "WebhookDeliveryAttempt",
    "WebhookEndpoint",
    "metadata",
]
