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
    PUBLISH_POLICY = "publish_policy"
    RECORD_TRANSACTIONS = "record_transactions"
    SUBMIT_REFUNDS = "submit_refunds"
    DECIDE_REFUNDS = "decide_refunds"
    HANDLE_COMPLAINTS = "handle_complaints"
    SUBSCRIBE = "subscribe"


_ALL = frozenset(Permission)

GRANTS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: _ALL,
    Role.REFUND_AGENT: frozenset(
        {
            Permission.READ,
            Permission.DECIDE_REFUNDS,
            Permission.SUBMIT_REFUNDS,
            Permission.SUBSCRIBE,
        }
    ),
    Role.SUPPORT: frozenset({Permission.READ, Permission.HANDLE_COMPLAINTS, Permission.SUBSCRIBE}),
    Role.VIEWER: frozenset({Permission.READ, Permission.SUBSCRIBE}),
    Role.INTEGRATION: frozenset(
        {
            Permission.READ,
            Permission.RECORD_TRANSACTIONS,
            Permission.SUBMIT_REFUNDS,
            Permission.SUBSCRIBE,
        }
    ),
}
