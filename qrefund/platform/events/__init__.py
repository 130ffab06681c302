"""Every event family the platform writes, in one table (:data:`CATALOGUE`), and the
``events`` feed over them (:mod:`qrefund.platform.events.feed`).

Each domain declares its family next to its code (``<domain>/event_types.py``);
this is the only list of them. Nothing registers itself on import.
"""

from __future__ import annotations

from qrefund.platform.channels.event_types import PAYMENT_CHANNEL_ACCOUNT_EVENTS
from qrefund.platform.complaints.event_types import COMPLAINT_EVENTS
from qrefund.platform.digests.event_types import DIGEST_EVENTS
from qrefund.platform.exports.event_types import EXPORT_EVENTS
from qrefund.platform.imports.event_types import TRANSACTION_IMPORT_EVENTS
from qrefund.platform.outbox.catalogue import Catalogue
from qrefund.platform.payouts.event_types import PAYOUT_EVENTS
from qrefund.platform.policies.event_types import REFUND_POLICY_EVENTS
from qrefund.platform.refunds.event_types import REFUND_CASE_EVENTS
from qrefund.platform.risk.event_types import with_flag_events
from qrefund.platform.transactions.event_types import TRANSACTION_EVENTS
from qrefund.platform.webhooks.event_types import (
    WEBHOOK_DELIVERY_EVENTS,
    WEBHOOK_ENDPOINT_EVENTS,
)
from qrefund.tenants.event_types import API_KEY_EVENTS, TENANT_EVENTS

CATALOGUE = Catalogue(
    with_flag_events(REFUND_CASE_EVENTS),
    PAYOUT_EVENTS,
    COMPLAINT_EVENTS,
    REFUND_POLICY_EVENTS,
    with_flag_events(TRANSACTION_EVENTS),
    TENANT_EVENTS,
    API_KEY_EVENTS,
    WEBHOOK_ENDPOINT_EVENTS,
    WEBHOOK_DELIVERY_EVENTS,
    PAYMENT_CHANNEL_ACCOUNT_EVENTS,
    EXPORT_EVENTS,
    DIGEST_EVENTS,
    TRANSACTION_IMPORT_EVENTS,
)
