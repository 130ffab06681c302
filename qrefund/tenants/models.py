"""Tenants (operator -> agency -> merchant) and API keys."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, Column, ForeignKeyConstraint, Index
from sqlmodel import Field, SQLModel

from qrefund.platform.ids import new_id
from qrefund.platform.sqltypes import created_at, id_pk, tenant_pk, timestamp

# Tenant statuses (merchant lifecycle): SUSPENDED is readable, not writable; CLOSED is
# final, its data kept and its keys refused.
ACTIVE, SUSPENDED, CLOSED = "ACTIVE", "SUSPENDED", "CLOSED"
# What a suspension does to the merchant's open cases (Tenant.open_cases).
CONTINUE, FREEZE = "CONTINUE", "FREEZE"


class Tenant(SQLModel, table=True):
    """The tenants table is the distribution key's own table (a Citus reference table)."""

    __tablename__ = "tenants"
    __table_args__ = (ForeignKeyConstraint(["parent_id"], ["tenants.id"]),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    kind: str = Field(max_length=16)
    parent_id: uuid.UUID | None = Field(default=None, index=True)
    name: str = Field(max_length=200)
    slug: str = Field(max_length=64, unique=True)
    timezone: str = Field(default="Asia/Shanghai", max_length=64)
    country: str = Field(default="CN", max_length=2)
    default_currency: str = Field(default="CNY", max_length=3)
    status: str = Field(default="ACTIVE", max_length=16)  # ACTIVE, SUSPENDED or CLOSED
    status_reason: str | None = Field(default=None, max_length=500)
    status_changed_at: datetime | None = timestamp()
    # What the current suspension does to the merchant's open cases: CONTINUE (the
    # platform's jobs keep working them) or FREEZE (deadlines and payouts wait, and the
    # deadlines move on by the frozen time at reactivation). None while active.
    open_cases: str | None = Field(default=None, max_length=16)
    # Where the daily digest (smart reminders) is e-mailed; None: the webhook event only.
    digest_email: str | None = Field(default=None, max_length=254)
    created_at: datetime = created_at()


class ApiKey(SQLModel, table=True):
    __tablename__ = "api_keys"
    __table_args__ = (ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),)

    tenant_id: uuid.UUID = tenant_pk()
    id: uuid.UUID = id_pk()
    name: str = Field(max_length=200)
    role: str = Field(max_length=16)
    prefix: str = Field(max_length=32)
    secret_hash: str = Field(max_length=128)
    created_at: datetime = created_at()
    created_by: str | None = Field(default=None, max_length=80)
    expires_at: datetime | None = timestamp()
    revoked_at: datetime | None = timestamp()
    last_used_at: datetime | None = timestamp()
    # An agency key restricted to some of its merchants (their ids as strings); None:
    # every merchant of the agency, and the agency itself.
    merchant_ids: list[str] | None = Field(default=None, sa_column=Column(JSON, nullable=True))


Index("ix_api_keys_tenant_created", ApiKey.tenant_id, ApiKey.created_at)  # type: ignore[arg-type]
