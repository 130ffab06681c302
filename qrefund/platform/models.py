"""Imports every table so SQLModel.metadata (and Alembic) sees the whole schema."""

from sqlmodel import SQLModel

from qrefund.platform.analytics.models import (
    RefundStatsDay,
    RefundStatsMonth,
    StatsRollupState,
)
from qrefund.platform.channels.models import (
    ChannelAccountMerchant,
    PaymentChannelAccount,
    PaymentChannelAccountEvent,
)
from qrefund.platform.complaints.models import (
    ComplaintAttachment,
    ComplaintEvent,
    ComplaintMessage,
    ComplaintTicket,
)
from qrefund.platform.consumer.models import EvidenceFile
from qrefund.platform.deadlines.models import DeadlineTimer, EscalationContact
from qrefund.platform.digests.models import DailyDigest
from qrefund.platform.exports.models import Export
from qrefund.platform.imports.models import TransactionImport
from qrefund.platform.notifications.models import Notification
from qrefund.platform.outbox.models import DomainEvent, IdempotencyRecord, TenantSequence
from qrefund.platform.payouts.models import Payout, PayoutEvent
from qrefund.platform.policies.models import RefundPolicy
from qrefund.platform.refunds.models import RefundCase, RefundCaseEvent, RefundEvidence
from qrefund.platform.retention.models import ArchivedRecord
from qrefund.platform.risk.models import RiskFlagRecord
from qrefund.platform.transactions.models import Transaction
from qrefund.platform.webhooks.models import (
    WebhookDelivery,
    WebhookDeliveryAttempt,
    WebhookEndpoint,
)
from qrefund.tenants.models import ApiKey, Tenant

metadata = SQLModel.metadata

# Tables holding one tenant's data, read from the models themselves (every table with a
# tenant_id column): each has a row-level-security policy on PostgreSQL (migrations) and
# is reachable only through a TenantRepository (the guards in platform/repository.py).
TENANT_TABLES = sorted(t.name for t in metadata.sorted_tables if "tenant_id" in t.c)

__all__ = [
    "TENANT_TABLES",
    "ApiKey",
    "ArchivedRecord",
    "ChannelAccountMerchant",
    "ComplaintAttachment",
    "ComplaintEvent",
    "ComplaintMessage",
    "ComplaintTicket",
    "DailyDigest",
    "DeadlineTimer",
    "DomainEvent",
    "EscalationContact",
    "EvidenceFile",
    "Export",
    "IdempotencyRecord",
    "Notification",
    "PaymentChannelAccount",
    "PaymentChannelAccountEvent",
    "Payout",
    "PayoutEvent",
    "RefundCase",
    "RefundCaseEvent",
    "RefundEvidence",
    "RefundPolicy",
    "RefundStatsDay",
    "RefundStatsMonth",
    "RiskFlagRecord",
    "StatsRollupState",
    "Tenant",
    "TenantSequence",
    "Transaction",
    "TransactionImport",
    "WebhookDelivery",
    "WebhookDeliveryAttempt",
    "WebhookEndpoint",
    "metadata",
]
