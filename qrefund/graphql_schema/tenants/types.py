"""GraphQL types for tenants, API keys and the viewer."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import Enum

import strawberry

from qrefund.graphql_schema import ids
from qrefund.graphql_schema.relay import Node
from qrefund.platform import masking
from qrefund.platform.roles import Role
from qrefund.tenants.models import ApiKey, Tenant

ApiKeyRole = strawberry.enum(Role, name="ApiKeyRole")


@strawberry.enum
class TenantKind(Enum):
    OPERATOR = "OPERATOR"
    AGENCY = "AGENCY"
    MERCHANT = "MERCHANT"


@strawberry.type(name="Tenant")
class TenantType(Node):
    name: str
    slug: str
    kind: TenantKind
    timezone: str
    default_currency: str
    status: str
    created_at: datetime
    parent_id: strawberry.ID | None
    open_cases: str | None = strawberry.field(default=None, description=(
        "While suspended: CONTINUE (open cases go on) or FREEZE (they wait)."))
    digest_email_masked: str | None = strawberry.field(default=None, description=(
        "Where the daily digest is e-mailed, masked (null: not e-mailed)."))

    @classmethod
    def of(cls, t: Tenant) -> TenantType:
        return cls(
            id=ids.encode("Tenant", t.id),
            name=t.name,
            slug=t.slug,
            kind=TenantKind(t.kind),
            timezone=t.timezone,
            default_currency=t.default_currency,
            status=t.status,
            created_at=t.created_at,
            parent_id=ids.encode("Tenant", t.parent_id) if t.parent_id else None,
            open_cases=t.open_cases,
            digest_email_masked=masking.email(t.digest_email) if t.digest_email else None,
        )


@strawberry.type(name="ApiKey")
class ApiKeyType(Node):
    name: str
    role: ApiKeyRole  # type: ignore[valid-type]
    prefix: str
    tenant_id: strawberry.ID
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None
    merchant_ids: list[strawberry.ID] | None = strawberry.field(
        description="The merchants an agency key is restricted to; null: all of them.")

    @classmethod
    def of(cls, k: ApiKey) -> ApiKeyType:
        return cls(
            id=ids.encode("ApiKey", k.tenant_id, k.id),
            name=k.name,
            role=Role(k.role),
            prefix=k.prefix,
            tenant_id=ids.encode("Tenant", k.tenant_id),
            created_at=k.created_at,
            expires_at=k.expires_at,
            revoked_at=k.revoked_at,
            last_used_at=k.last_used_at,
            merchant_ids=(None if k.merchant_ids is None else
                          [ids.encode("Tenant", uuid.UUID(m)) for m in k.merchant_ids]),
        )


@strawberry.type
class Viewer:
    tenant: TenantType
    role: ApiKeyRole  # type: ignore[valid-type]
