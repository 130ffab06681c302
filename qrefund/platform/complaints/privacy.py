"""A ticket's consumer contact as the API shows it: decrypted only to be masked."""

from __future__ import annotations

from qrefund.platform import masking
from qrefund.platform.complaints.models import (
    CONTACT_EMAIL_PURPOSE,
    CONTACT_PHONE_PURPOSE,
    ComplaintTicket,
)
from qrefund.platform.crypto import key_ring


def contact_phone(ticket: ComplaintTicket) -> str | None:
    sealed = ticket.contact_phone_enc
    return masking.account(key_ring().decrypt(sealed, CONTACT_PHONE_PURPOSE)) if sealed else None


def contact_email(ticket: ComplaintTicket) -> str | None:
    sealed = ticket.contact_email_enc
    return masking.email(key_ring().decrypt(sealed, CONTACT_EMAIL_PURPOSE)) if sealed else None
