"""A case's consumer details as the API shows them: decrypted only to be masked."""

from __future__ import annotations

from collections.abc import Callable

from qrefund.platform import masking
from qrefund.platform.crypto import key_ring
from qrefund.platform.refunds.models import (
    BANK_DESTINATION_PURPOSE,
    CONTACT_EMAIL_PURPOSE,
    CONTACT_PHONE_PURPOSE,
    RefundCase,
)


def _masked(sealed: str | None, purpose: str, mask: Callable[[str], str]) -> str | None:
    return mask(key_ring().decrypt(sealed, purpose)) if sealed else None


def contact_phone(case: RefundCase) -> str | None:
    return _masked(case.contact_phone_enc, CONTACT_PHONE_PURPOSE, masking.account)


def contact_email(case: RefundCase) -> str | None:
    return _masked(case.contact_email_enc, CONTACT_EMAIL_PURPOSE, masking.email)


def bank_destination(case: RefundCase) -> str | None:
    return _masked(case.bank_destination_enc, BANK_DESTINATION_PURPOSE, masking.account)
