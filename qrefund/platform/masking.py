"""How personal data is shown once it has been decrypted: never in full.

One place for every mask, so the API, the stored notifications and the payout
records agree on what a consumer's details look like.
"""

from __future__ import annotations


def account(value: str) -> str:
    """An account, card or bank number, or a phone shown to staff: its last 4 characters."""
    return f"****{value[-4:]}" if len(value) > 4 else "****"


def email(address: str) -> str:
    local, _, domain = address.partition("@")
    return f"{local[:1]}***@{domain}" if domain else "***"


def phone(number: str) -> str:
    """A phone number on a message record: the prefix that routes it, and the last 4."""
    digits = number.strip()
    if len(digits) >= 11:
        return f"{digits[:3]}****{digits[-4:]}"
    return f"****{digits[-4:]}" if len(digits) > 4 else "****"
