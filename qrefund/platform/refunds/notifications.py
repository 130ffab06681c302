"""Refund cases as a notification provider: what a case's consumer is told, and how.

A case event (``refund_case.submitted`` ...) gives one message per contact the
consumer left on the case (e-mail, phone; stored encrypted), with a link to the
payment's receipt page while the receipt stands.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from babel.numbers import format_currency

from qrefund.platform.crypto import key_ring
from qrefund.platform.db import UnitOfWork
from qrefund.platform.errors import NotFound
from qrefund.platform.money import Money
from qrefund.platform.notifications.models import REFUND_CASE, Channel
from qrefund.platform.notifications.provider import Contact, decrypt_contacts
from qrefund.platform.outbox.models import DomainEvent
from qrefund.platform.refunds.messages import TEMPLATES
from qrefund.platform.refunds.models import (
    CONTACT_EMAIL_PURPOSE,
    CONTACT_PHONE_PURPOSE,
    RefundCase,
)
from qrefund.platform.refunds.service import get_case
from qrefund.platform.transactions import service as transactions
from qrefund.platform.transactions.receipt import make_token
from qrefund.tenants.models import Tenant


class RefundCaseNotifications:
    type = REFUND_CASE
    noun = "refund case"
    kinds: Mapping[str, str] = {f"refund_case.{kind}": kind for kind in TEMPLATES.kinds}
    templates = TEMPLATES

    async def load(self, uow: UnitOfWork, tenant_id: uuid.UUID, case_id: uuid.UUID
                   ) -> RefundCase | None:
        try:
            return await get_case(uow, tenant_id, case_id)
        except NotFound:
            return None

    def contacts(self, case: RefundCase) -> list[Contact]:
        return decrypt_contacts(f"case {case.id}", (
            (Channel.EMAIL, case.contact_email_enc, CONTACT_EMAIL_PURPOSE),
            (Channel.SMS, case.contact_phone_enc, CONTACT_PHONE_PURPOSE),
        ))

    async def link(self, uow: UnitOfWork, case: RefundCase, base_url: str) -> str | None:
        """The consumer's receipt link; none when the payment or its receipt is gone."""
        try:
            txn = await transactions.get(uow, case.tenant_id, case.transaction_id)
        except NotFound:
            return None
        if txn.receipt_revoked_at is not None:
            return None
        token = make_token(key_ring(), txn.tenant_id, txn.id, txn.receipt_token_version)
        return f"{base_url.rstrip('/')}/r/{token}"

    def context(self, event: DomainEvent, case: RefundCase, tenant: Tenant, locale: str,
                link: str | None) -> dict[str, Any]:
        return context(event, case, tenant, locale, link)


def _when(raw: Any, tz: ZoneInfo) -> str:
    if not raw:
        return ""
    moment = raw if isinstance(raw, datetime) else datetime.fromisoformat(str(raw))
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z")


def context(event: DomainEvent, case: RefundCase, tenant: Tenant, locale: str,
            link: str | None) -> dict[str, Any]:
    """Template variables from the event (the case as it was then) and the merchant."""
    data = event.payload
    tz = ZoneInfo(tenant.timezone)
    currency = str(data.get("currency") or case.currency)
    minor = int(data.get("refundedMinor") or data.get("amountMinor") or case.requested_minor)
    babel_locale = locale.replace("-", "_")
    return {
        "merchant": tenant.name,
        "case_number": str(data.get("caseNumber") or case.case_number),
        "amount": format_currency(Money(minor, currency).decimal, currency, locale=babel_locale),
        "review_due": _when(data.get("reviewDueAt") or case.review_due_at, tz),
        "new_due": _when(data.get("newDueAt"), tz),
        "note": str(data.get("note") or ""),
        "link": link,
    }
