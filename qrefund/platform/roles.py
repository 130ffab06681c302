"""API-key roles and what each may do. Checked in services, not resolvers."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    ADMIN = "ADMIN"
    REFUND_AGENT = "REFUND_AGENT"
    SUPPORT = "SUPPORT"
    VIEWER = "VIEWER"
    INTEGRATION = "INTEGRATION"


class Permission(StrEnum):
    READ = "read"
    MANAGE_TENANTS = "manage_tenants"
    MANAGE_KEYS = "manage_keys"
    MANAGE_WEBHOOKS = "manage_webhooks"
    MANAGE_CHANNELS = "manage_channels"  # payment channel accounts (credentials)
    PUBLISH_POLICY = "publish_policy"
    RECORD_TRANSACTIONS = "record_transactions"
    SUBMIT_REFUNDS = "submit_refunds"
    DECIDE_REFUNDS = "decide_refunds"
    HANDLE_COMPLAINTS = "handle_complaints"  # work tickets: assign, reply, resolve, close
    OPEN_COMPLAINTS = "open_complaints"
    NOTE_COMPLAINTS = "note_complaints"  # add internal notes to tickets
    READ_COMPLAINT_NOTES = "read_complaint_notes"  # see internal notes (staff views)
    SUBSCRIBE = "subscribe"
    # A consumer holding a receipt: see that one payment, apply for its refund.
    READ_RECEIPT = "read_receipt"
    APPLY_FOR_REFUND = "apply_for_refund"
    # ... complain about that payment (or a case of it), and follow its own tickets:
    # read them (without internal notes), answer, reopen, rate.
    FILE_COMPLAINT = "file_complaint"
    FOLLOW_COMPLAINT = "follow_complaint"
    # A consumer who proved a phone number or e-mail address (/my): list what was filed
    # with it, at any merchant, and nothing else.
    LIST_OWN_FILINGS = "list_own_filings"


# What a consumer's receipt scope may do (it has no role of its own: keys have roles).
CONSUMER_GRANTS = frozenset({Permission.READ_RECEIPT, Permission.APPLY_FOR_REFUND,
                             Permission.FILE_COMPLAINT, Permission.FOLLOW_COMPLAINT})
# What a proven contact's scope may do (qrefund.tenants.auth.contact_scope).
CONTACT_GRANTS = frozenset({Permission.LIST_OWN_FILINGS})
_ALL = frozenset(Permission) - CONSUMER_GRANTS - CONTACT_GRANTS

GRANTS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: _ALL,
    Role.REFUND_AGENT: frozenset(
        {
            Permission.READ,
            Permission.DECIDE_REFUNDS,
            Permission.SUBMIT_REFUNDS,
            Permission.SUBSCRIBE,
            Permission.NOTE_COMPLAINTS,
            Permission.READ_COMPLAINT_NOTES,
        }
    ),
    Role.SUPPORT: frozenset(
        {
            Permission.READ,
            Permission.HANDLE_COMPLAINTS,
            Permission.OPEN_COMPLAINTS,
            Permission.NOTE_COMPLAINTS,
            Permission.READ_COMPLAINT_NOTES,
            Permission.SUBSCRIBE,
        }
    ),
    Role.VIEWER: frozenset({Permission.READ, Permission.SUBSCRIBE}),
    Role.INTEGRATION: frozenset(
        {
            Permission.READ,
            Permission.RECORD_TRANSACTIONS,
            Permission.SUBMIT_REFUNDS,
            Permission.SUBSCRIBE,
            Permission.OPEN_COMPLAINTS,
        }
    ),
}
