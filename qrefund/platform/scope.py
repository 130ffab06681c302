"""The TenantScope: the set of tenants a caller may touch (docs/architecture.md).

Only the auth layer (:mod:`qrefund.tenants.auth`) and the job runtime
(:mod:`qrefund.jobs.runtime`) create scopes, through :func:`_issue`; a test
checks that no other module imports it. Repositories refuse to run without one.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from qrefund.platform.errors import Forbidden
from qrefund.platform.otp import Contact
from qrefund.platform.roles import CONSUMER_GRANTS, CONTACT_GRANTS, GRANTS, Permission, Role

_ISSUER = object()


class TenantKind:
    OPERATOR = "OPERATOR"
    AGENCY = "AGENCY"
    MERCHANT = "MERCHANT"


@dataclass(frozen=True)
class ReceiptGrant:
    """A consumer's scope is one payment: the receipt they scanned."""

    tenant_id: uuid.UUID
    transaction_id: uuid.UUID


@dataclass(frozen=True)
class TenantScope:
    """``tenant_ids is None`` means every tenant (the operator, system jobs)."""

    tenant_ids: frozenset[uuid.UUID] | None
    actor_tenant_id: uuid.UUID | None
    actor_kind: str
    role: Role
    actor: str
    api_key_id: uuid.UUID | None = None
    # Set for a consumer's receipt scope: its permissions are CONSUMER_GRANTS (never a
    # key role's), on that one payment.
    receipt: ReceiptGrant | None = None
    # Set for a consumer who proved this contact (/my): CONTACT_GRANTS only, and the
    # services that honour it read nothing but what was filed with the contact.
    contact: Contact | None = None
    # Tenants in scope that may be read but not written (suspended or closed merchants):
    # the session's flush guard refuses any row of theirs (qrefund.platform.repository).
    frozen_tenant_ids: frozenset[uuid.UUID] = frozenset()
    _token: object = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self._token is not _ISSUER:
            raise RuntimeError("TenantScope is created only by the auth layer or the job runtime")

    @property
    def is_all(self) -> bool:
        return self.tenant_ids is None

    def allows(self, tenant_id: uuid.UUID | None) -> bool:
        return tenant_id is not None and (self.tenant_ids is None or tenant_id in self.tenant_ids)

    def can(self, permission: Permission) -> bool:
        if self.receipt is not None:
            return permission in CONSUMER_GRANTS
        if self.contact is not None:
            return permission in CONTACT_GRANTS
        return permission in GRANTS[self.role]

    def require(self, permission: Permission) -> None:
        if not self.can(permission):
            who = ("a receipt" if self.receipt is not None else "a contact"
                   if self.contact is not None else f"role {self.role.value}")
            raise Forbidden(f"{who} may not {permission.value.replace('_', ' ')}")

    def holds_receipt_of(self, tenant_id: uuid.UUID, transaction_id: uuid.UUID) -> bool:
        """Whether this is a consumer's scope for exactly this payment."""
        return self.receipt == ReceiptGrant(tenant_id, transaction_id)

    def rls_setting(self) -> tuple[str, str]:
        """The values for the per-transaction settings the RLS policies read."""
        if self.tenant_ids is None:
            return "", "on"
        return ",".join(sorted(str(t) for t in self.tenant_ids)), "off"


def _issue(
    *,
    tenant_ids: frozenset[uuid.UUID] | None,
    actor_tenant_id: uuid.UUID | None,
    actor_kind: str,
    role: Role,
    actor: str,
    api_key_id: uuid.UUID | None = None,
    receipt: ReceiptGrant | None = None,
    contact: Contact | None = None,
    frozen_tenant_ids: frozenset[uuid.UUID] = frozenset(),
) -> TenantScope:
    return TenantScope(
        tenant_ids=tenant_ids,
        actor_tenant_id=actor_tenant_id,
        actor_kind=actor_kind,
        role=role,
        actor=actor,
        api_key_id=api_key_id,
        receipt=receipt,
        contact=contact,
        frozen_tenant_ids=frozen_tenant_ids,
        _token=_ISSUER,
    )
