"""Agencies, merchants and API keys. Services never commit (the unit of work does)."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Sequence
from datetime import datetime
from functools import partial

from sqlalchemy.exc import IntegrityError

from qrefund.platform import validation
from qrefund.platform.clock import utcnow
from qrefund.platform.db import UnitOfWork
from qrefund.platform.errors import CommonError, Conflict, Forbidden, InvalidInput, NotFound
from qrefund.platform.ids import new_id
from qrefund.platform.money import normalize_currency
from qrefund.platform.outbox.service import record_event
from qrefund.platform.pagination import Page, encode_cursor, parse_cursor
from qrefund.platform.roles import Permission, Role
from qrefund.platform.scope import TenantKind
from qrefund.tenants import revocation
from qrefund.tenants.errors import TenantError
from qrefund.tenants.models import ApiKey, Tenant
from qrefund.tenants.repository import ApiKeyRepository, TenantRecordRepository

KEY_PREFIX = "qrk_"


def hash_secret(secret: str) -> str:
    # Keys carry 256 bits of randomness, so a fast hash is enough (no dictionary to
    # guess from); the comparison itself is constant-time in the auth layer.
    return hashlib.sha256(secret.encode()).hexdigest()


def format_key(tag: str, tenant_id: uuid.UUID, key_id: uuid.UUID, secret: str) -> str:
    """``qrk_<tag>_<tenant hex><key hex>_<secret>``: the ids route the look-up to one row."""
    return f"{KEY_PREFIX}{tag}_{tenant_id.hex}{key_id.hex}_{secret}"


async def get_tenant(uow: UnitOfWork, tenant_id: uuid.UUID) -> Tenant:
    return await TenantRecordRepository(uow).require(tenant_id, tenant_id, what="tenant",
                                                     field=None)


async def any_tenant(uow: UnitOfWork) -> bool:
    """Whether any tenant exists in the scope (an empty database has none)."""
    return await TenantRecordRepository(uow).exists()


async def tenants_by_id(uow: UnitOfWork, ids: set[uuid.UUID]) -> dict[uuid.UUID, Tenant]:
    """Tenants in scope by id (others are left out)."""
    return await TenantRecordRepository(uow).by_ids(ids)


async def lineage(uow: UnitOfWork, tenant_id: uuid.UUID, *, max_depth: int) -> list[uuid.UUID]:
    """The tenant and its ancestors, nearest first (a merchant, its agency, the operator):
    whose webhook endpoints may hear of its events. The walk ends at the root, at a loop,
    after ``max_depth`` tenants, or at a tenant out of scope or unknown (listed, but its
    parent cannot be read)."""
    repo = TenantRecordRepository(uow)
    chain: list[uuid.UUID] = []
    current: uuid.UUID | None = tenant_id
    while current is not None and current not in chain and len(chain) < max_depth:
        chain.append(current)
        current = await repo.parent_of(current)
    return chain


async def tenant_by_slug(uow: UnitOfWork, slug: str) -> Tenant | None:
    """The tenant with this slug, if it is in scope."""
    return await TenantRecordRepository(uow).by_slug(slug.strip().lower())


async def _insert_tenant(uow: UnitOfWork, tenant: Tenant) -> Tenant:
    try:
        async with uow.savepoint():
            TenantRecordRepository(uow).add(tenant)
            await uow.flush()
    except IntegrityError:
        raise Conflict(
            f"slug {tenant.slug!r} is taken", field=["slug"], code=TenantError.SLUG_TAKEN
        ) from None
    return tenant


async def _tenant_created(uow: UnitOfWork, tenant: Tenant) -> None:
    # Recorded in the creator's stream: the creator may not see the new tenant's
    # own stream yet (an agency's scope was fixed when its key was checked).
    assert tenant.parent_id is not None
    await record_event(
        uow,
        tenant_id=tenant.parent_id,
        type="tenant.created",
        aggregate_type="tenant",
        aggregate_id=tenant.id,
        payload={"kind": tenant.kind, "slug": tenant.slug},
    )
    # A new merchant widens its agency's keys: cached scopes are dropped everywhere.
    uow.after_commit(revocation.announce_tenants_changed)


async def create_agency(uow: UnitOfWork, *, name: str, slug: str) -> Tenant:
    scope = uow.scope
    scope.require(Permission.MANAGE_TENANTS)
    if scope.actor_kind != TenantKind.OPERATOR:
        raise Forbidden("only the operator creates agencies")
    agency = Tenant(
        id=new_id(),
        kind=TenantKind.AGENCY,
        parent_id=scope.actor_tenant_id,
        name=validation.required_text(name, "name", max_len=200),
        slug=validation.slug(slug),
    )
    await _insert_tenant(uow, agency)
    await _tenant_created(uow, agency)
    return agency


async def create_merchant(
    uow: UnitOfWork,
    *,
    name: str,
    slug: str,
    agency_id: uuid.UUID | None,
    timezone: str | None,
    default_currency: str | None,
) -> Tenant:
    scope = uow.scope
    scope.require(Permission.MANAGE_TENANTS)
    if scope.actor_kind == TenantKind.MERCHANT:
        raise Forbidden("a merchant cannot create merchants")
    if scope.actor_kind == TenantKind.AGENCY:
        agency_id = agency_id or scope.actor_tenant_id
    parent: uuid.UUID | None = None
    if agency_id is not None:
        agency = await get_tenant(uow, agency_id)
        if agency.kind != TenantKind.AGENCY:
            raise InvalidInput(
                "agencyId is not an agency", field=["agencyId"], code=TenantError.NOT_AN_AGENCY
            )
        parent = agency.id
    merchant = Tenant(
        id=new_id(),
        kind=TenantKind.MERCHANT,
        parent_id=parent if parent is not None else scope.actor_tenant_id,
        name=validation.required_text(name, "name", max_len=200),
        slug=validation.slug(slug),
        timezone=validation.timezone(timezone),
        default_currency=normalize_currency(default_currency or "CNY", "defaultCurrency"),
    )
    await _insert_tenant(uow, merchant)
    await _tenant_created(uow, merchant)
    return merchant


MAX_KEY_MERCHANTS = 1000


async def create_api_key(
    uow: UnitOfWork, *, tenant_id: uuid.UUID, name: str, role: Role, expires_at: datetime | None,
    merchant_ids: Sequence[uuid.UUID] | None = None,
) -> tuple[ApiKey, str]:
    """Returns the key and its secret; the secret is never stored or shown again.

    ``merchant_ids`` restricts an agency's key to those of its merchants: the key's
    scope is then those merchants alone (not the agency itself, whose webhooks and
    templates span every merchant), enforced where every scope is (the tenancy wall).
    """
    uow.scope.require(Permission.MANAGE_KEYS)
    tenant = await get_tenant(uow, tenant_id)
    restricted = await _key_merchants(uow, tenant, merchant_ids)
    if expires_at is not None and validation.aware(expires_at, "expiresAt") <= utcnow():
        raise InvalidInput(
            "expiresAt must be in the future", field=["expiresAt"],
            code=CommonError.INVALID_DATETIME,
        )
    tag = secrets.token_hex(4)
    secret = secrets.token_urlsafe(32)
    key = ApiKey(
        tenant_id=tenant.id,
        id=new_id(),
        name=validation.required_text(name, "name", max_len=200),
        role=Role(role).value,
        prefix=f"{KEY_PREFIX}{tag}",
        secret_hash=hash_secret(secret),
        expires_at=expires_at,
        created_by=uow.scope.actor,
        merchant_ids=restricted,
    )
    ApiKeyRepository(uow).add(key)
    await record_event(
        uow,
        tenant_id=tenant.id,
        type="api_key.created",
        aggregate_type="api_key",
        aggregate_id=key.id,
        payload={"role": key.role, "prefix": key.prefix, "merchantIds": restricted},
    )
    return key, format_key(tag, tenant.id, key.id, secret)


async def _key_merchants(uow: UnitOfWork, tenant: Tenant,
                         merchant_ids: Sequence[uuid.UUID] | None) -> list[str] | None:
    """The merchants a new key is restricted to, checked (None: no restriction)."""
    if merchant_ids is None:
        return None
    if tenant.kind != TenantKind.AGENCY:
        raise InvalidInput("only an agency's keys can be restricted to merchants",
                           field=["merchantIds"], code=TenantError.KEY_MERCHANTS_AGENCY_ONLY)
    if not merchant_ids:
        raise InvalidInput("name at least one merchant, or leave merchantIds out",
                           field=["merchantIds"], code=CommonError.REQUIRED)
    if len(merchant_ids) > MAX_KEY_MERCHANTS:
        raise InvalidInput(f"at most {MAX_KEY_MERCHANTS} merchants", field=["merchantIds"],
                           code=CommonError.TOO_MANY)
    wanted = set(merchant_ids)
    found = await TenantRecordRepository(uow).by_ids(wanted)
    if len(found) != len(wanted) or any(t.parent_id != tenant.id for t in found.values()):
        raise NotFound("merchant not found", field=["merchantIds"])
    return sorted(str(m) for m in wanted)


async def get_api_key(uow: UnitOfWork, tenant_id: uuid.UUID, key_id: uuid.UUID) -> ApiKey:
    return await ApiKeyRepository(uow).require(tenant_id, key_id, what="API key", field=None)


async def revoke_api_key(uow: UnitOfWork, tenant_id: uuid.UUID, key_id: uuid.UUID) -> ApiKey:
    key = await get_api_key(uow, tenant_id, key_id)
    uow.scope.require(Permission.MANAGE_KEYS)
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        await record_event(
            uow,
            tenant_id=key.tenant_id,
            type="api_key.revoked",
            aggregate_type="api_key",
            aggregate_id=key.id,
            payload={"prefix": key.prefix},
        )
        # Open WebSockets of this key, in every API process, close once this commits.
        uow.after_commit(partial(revocation.announce_revoked, key.tenant_id, key.id))
    return key


async def resolve_merchant(uow: UnitOfWork, merchant_id: uuid.UUID | None) -> Tenant:
    """The merchant a call acts on: the caller itself, or one it names (agency/operator)."""
    scope = uow.scope
    if merchant_id is None:
        if scope.actor_kind != TenantKind.MERCHANT or scope.actor_tenant_id is None:
            raise InvalidInput(
                "merchantId is required for agency and operator keys",
                field=["merchantId"],
                code=CommonError.MERCHANT_REQUIRED,
            )
        merchant_id = scope.actor_tenant_id
    tenant = await get_tenant(uow, merchant_id)
    if tenant.kind != TenantKind.MERCHANT:
        raise InvalidInput(
            "merchantId is not a merchant", field=["merchantId"], code=CommonError.NOT_A_MERCHANT
        )
    return tenant


async def list_merchants(uow: UnitOfWork, *, first: int, after: str | None) -> Page[Tenant]:
    uow.scope.require(Permission.READ)
    last = parse_cursor(after, uuid.UUID)[0] if after else None
    rows = await TenantRecordRepository(uow).merchants(first=first, after=last)
    return Page.from_rows(rows, first=first, after=after, cursor=lambda t: encode_cursor([t.id]))
