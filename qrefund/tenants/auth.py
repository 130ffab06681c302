"""Bearer API keys -> TenantScope. One of the two places a scope is made."""

from __future__ import annotations

import contextlib
import dataclasses
import hmac
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import datetime, timedelta
from typing import Any

from qrefund.platform.clock import utcnow
from qrefund.platform.crypto import key_ring
from qrefund.platform.db import Database, UnitOfWork
from qrefund.platform.errors import Unauthenticated
from qrefund.platform.otp import OneTimeCodes
from qrefund.platform.roles import Role
from qrefund.platform.scope import _ISSUER, ReceiptGrant, TenantKind, TenantScope, _issue
from qrefund.platform.transactions.receipt import parse_token
from qrefund.tenants.key_cache import KeyCache
from qrefund.tenants.models import ACTIVE, SUSPENDED, Tenant
from qrefund.tenants.repository import ApiKeyRepository, TenantRecordRepository
from qrefund.tenants.service import KEY_PREFIX, hash_secret

# last_used_at is written at most this often per key, so reads stay reads.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def parse_key(token: str) -> tuple[uuid.UUID, uuid.UUID, str]:
    try:
        if not token.startswith(KEY_PREFIX) or len(token) > 200:
            raise ValueError
        _tag, ids, secret = token[len(KEY_PREFIX) :].split("_", 2)
        if len(ids) != 64 or not secret:
            raise ValueError
        return uuid.UUID(hex=ids[:32]), uuid.UUID(hex=ids[32:]), secret
    except ValueError:
        raise Unauthenticated("malformed API key") from None


def bearer_token(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("Authorization header must be 'Bearer <api key>'")
    return token.strip()


ParsedKey = tuple[uuid.UUID, uuid.UUID, str]  # (tenant id, key id, the secret's hash)


def _hashed_key(token: str) -> ParsedKey:
    """A bearer key's tenant, id and secret hash (Unauthenticated when malformed)."""
    tenant_id, key_id, secret = parse_key(token)
    return tenant_id, key_id, hash_secret(secret)


def parsed_key(token: str) -> ParsedKey | None:
    """:func:`_hashed_key`, or None when the key is malformed (its look-up says why):
    parsed and hashed once per request."""
    try:
        return _hashed_key(token)
    except Unauthenticated:
        return None


def known_key_id(parsed: ParsedKey | None, cache: KeyCache) -> uuid.UUID | None:
    """The id of the key ``parsed`` is, when ``cache`` holds it with this secret (no I/O);
    None for any other key, malformed ones included."""
    if not cache.enabled or parsed is None:
        return None
    return parsed[1] if cache.holds(parsed[1], parsed[2]) else None


async def authenticate(db: Database, token: str) -> TenantScope:
    """The scope of a bearer key (revoked, expired, unknown: :class:`Unauthenticated`)."""
    async with AsyncExitStack() as stack:
        scope, _uow, _reader = await authenticate_request(db, token, stack)
    return scope


async def authenticate_request(
    db: Database, token: str, stack: AsyncExitStack, cache: KeyCache | None = None,
    parsed: ParsedKey | None = None,
) -> tuple[TenantScope, UnitOfWork | None, AsyncExitStack | None]:
    """Check a key and keep the look-up's read-only unit open, switched to the caller's scope.

    The API uses that unit as the request's read unit, so an authenticated read costs
    one database transaction instead of two. The unit lives in its own exit stack
    (returned; entered into ``stack``) so that the request can release its connection
    before it writes: a request never holds two pooled connections at once, which
    deadlocked the pool under concurrent writes. The key's ``last_used_at`` (at most
    once a minute) is written after that reader has closed, for the same reason.

    With a ``cache`` that holds the key (:mod:`qrefund.tenants.key_cache`) there is no
    look-up and no unit (None, None): the request opens its read unit when it first
    reads, so a mutation that only writes, or a ``{ __typename }``, opens none.
    """
    tenant_id, key_id, secret_hash = parsed if parsed is not None else _hashed_key(token)
    cached = cache.get(key_id, secret_hash) if cache is not None else None
    # The look-up itself runs inside the key's own tenant scope, so RLS applies to it.
    touch = _LastUsed(db, tenant_id, key_id)
    if cached is not None:
        touch.due = _due(cached.last_used_at)
        if touch.due:
            cached.last_used_at = utcnow()
            stack.push_async_callback(touch.write_if_due)  # after the request's reader
        return cached.scope, None, None
    lookup = _lookup_scope(tenant_id)
    stack.push_async_callback(touch.write_if_due)  # runs after the request's reader closes
    reader = await stack.enter_async_context(AsyncExitStack())
    # Generic plans, as the request's read unit it becomes has (Context.reading).
    uow = await reader.enter_async_context(db.unit_of_work(lookup, readonly=True,
                                                           generic_plans=True))
    scope, found = await _check_key(uow, tenant_id, key_id, secret_hash)
    touch.due = _due(found.last_used_at)
    if cache is not None:
        cache.put(key_id, secret_hash, scope, found.expires_at,
                  utcnow() if touch.due else found.last_used_at)
    uow.scope = scope
    await uow.apply_scope()
    return scope, uow, reader


def _due(last_used_at: datetime | None) -> bool:
    return last_used_at is None or utcnow() - last_used_at > LAST_USED_RESOLUTION


def _lookup_scope(tenant_id: uuid.UUID) -> TenantScope:
    """The scope a key's own look-up and its ``last_used_at`` run in: its tenant's."""
    return _merchant_viewer(tenant_id, "auth")


def _merchant_viewer(tenant_id: uuid.UUID, actor: str,
                     receipt: ReceiptGrant | None = None) -> TenantScope:
    """A viewer of one merchant (a key's look-up; a receipt's holder, with its grant)."""
    return _issue(
        tenant_ids=frozenset({tenant_id}),
        actor_tenant_id=tenant_id,
        actor_kind=TenantKind.MERCHANT,
        role=Role.VIEWER,
        actor=actor,
        receipt=receipt,
    )


class _LastUsed:
    """The deferred ``last_used_at`` update of one authenticated request."""

    def __init__(self, db: Database, tenant_id: uuid.UUID, key_id: uuid.UUID) -> None:
        self.db, self.tenant_id, self.key_id = db, tenant_id, key_id
        self.due = False

    async def write_if_due(self) -> None:
        if not self.due:
            return
        async with self.db.unit_of_work(_lookup_scope(self.tenant_id)) as writer:
            await ApiKeyRepository(writer).touch(self.tenant_id, self.key_id, utcnow())


async def _check_key(
    uow: UnitOfWork, tenant_id: uuid.UUID, key_id: uuid.UUID, secret_hash: str
) -> tuple[TenantScope, Any]:
    found = await ApiKeyRepository(uow).with_tenant(tenant_id, key_id)
    if found is None or not hmac.compare_digest(found.secret_hash, secret_hash):
        raise Unauthenticated("unknown API key")
    _refuse_if_dead(found)
    tenant_ids: frozenset[uuid.UUID] | None
    frozen: frozenset[uuid.UUID] = frozenset()
    if found.kind == TenantKind.OPERATOR:
        tenant_ids = None
    elif found.kind == TenantKind.AGENCY:
        # The look-up scope is the agency alone: its merchants are found by parent.
        children = dict(await TenantRecordRepository(uow).children_beyond_scope(tenant_id))
        if found.merchant_ids is None:
            tenant_ids = frozenset({tenant_id, *children})
        else:  # restricted: those merchants that are (still) the agency's, and nothing else
            tenant_ids = frozenset(children) & {uuid.UUID(m) for m in found.merchant_ids}
        # Suspended and closed merchants stay readable to their agency, never writable.
        frozen = frozenset(c for c, status in children.items() if status != ACTIVE)
    else:
        tenant_ids = frozenset({tenant_id})
        if found.status == SUSPENDED:  # a suspended merchant's own keys: read-only
            frozen = tenant_ids
    scope = _issue(
        tenant_ids=tenant_ids,
        actor_tenant_id=tenant_id,
        actor_kind=found.kind,
        role=Role(found.role),
        actor=f"api_key:{key_id}",
        api_key_id=key_id,
        frozen_tenant_ids=frozen,
    )
    return scope, found


async def own_tenant(uow: UnitOfWork) -> Tenant:
    """The caller's own tenant record, even when the caller's scope leaves it out (an
    agency key restricted to some merchants still may know whose key it is).

    The unit switches to the key's look-up scope (its own tenant alone, as sign-in
    does) for this one read and back, so row-level security holds throughout.
    """
    scope = uow.scope
    assert scope.actor_tenant_id is not None
    if scope.allows(scope.actor_tenant_id):
        return await TenantRecordRepository(uow).require(
            scope.actor_tenant_id, scope.actor_tenant_id, what="tenant", field=None)
    uow.scope = _issue(tenant_ids=frozenset({scope.actor_tenant_id}),
                       actor_tenant_id=scope.actor_tenant_id, actor_kind=scope.actor_kind,
                       role=Role.VIEWER, actor="auth")
    try:
        await uow.apply_scope()
        return await TenantRecordRepository(uow).require(
            scope.actor_tenant_id, scope.actor_tenant_id, what="tenant", field=None)
    finally:
        uow.scope = scope
        await uow.apply_scope()


def restricted_agency_key(scope: TenantScope) -> bool:
    """An agency key restricted to some merchants: its scope leaves the agency out."""
    return (scope.actor_kind == TenantKind.AGENCY and scope.actor_tenant_id is not None
            and not scope.allows(scope.actor_tenant_id))


@contextlib.asynccontextmanager
async def as_key_owner(uow: UnitOfWork) -> AsyncIterator[None]:
    """Within the block, the unit works in the scope of the key's own tenant alone (its
    role, its actor), with row-level security switched to match; the caller's scope
    comes back after. For the one record a restricted agency key owns without seeing
    its agency (an export of its merchants' rows): the caller checks what it may
    read, and flushes what it writes inside the block (the flush guard checks there)."""
    scope = uow.scope
    assert scope.actor_tenant_id is not None
    uow.scope = _issue(tenant_ids=frozenset({scope.actor_tenant_id}),
                       actor_tenant_id=scope.actor_tenant_id, actor_kind=scope.actor_kind,
                       role=scope.role, actor=scope.actor, api_key_id=scope.api_key_id)
    try:
        await uow.apply_scope()
        yield
    finally:
        uow.scope = scope
        await uow.apply_scope()


def frozen(scope: TenantScope, tenant_ids: frozenset[uuid.UUID]) -> TenantScope:
    """``scope`` with ``tenant_ids`` read-only as well (a receipt of a suspended or
    closed merchant: the consumer still sees the payment and cases, files nothing)."""
    return dataclasses.replace(scope, frozen_tenant_ids=scope.frozen_tenant_ids | tenant_ids,
                               _token=_ISSUER)


def thawed(scope: TenantScope, tenant_ids: frozenset[uuid.UUID]) -> TenantScope:
    """``scope`` with ``tenant_ids`` writable again (the unit that reactivated a merchant
    moves its frozen cases' deadlines on in the same transaction)."""
    return dataclasses.replace(scope, frozen_tenant_ids=scope.frozen_tenant_ids - tenant_ids,
                               _token=_ISSUER)


def _refuse_if_dead(found: Any) -> None:
    """The refusals of a key that exists: revoked, expired, or its tenant not active."""
    if found.revoked_at is not None:
        raise Unauthenticated("API key has been revoked")
    if found.expires_at is not None and found.expires_at <= utcnow():
        raise Unauthenticated("API key has expired")
    # A suspended merchant's keys keep working, read-only (see _check_key); a closed
    # tenant's keys stop.
    if found.status not in (ACTIVE, SUSPENDED):
        raise Unauthenticated("tenant is not active")


async def check_key(db: Database, scope: TenantScope) -> datetime | None:
    """Is the key behind a long-lived session (an open WebSocket) still good?

    Its ``expires_at`` while it is; :class:`Unauthenticated` (with sign-in's reasons)
    once it is revoked or expired or its tenant is no longer active. One look-up of
    the key by its primary key, joined to its tenant.
    """
    if scope.api_key_id is None or scope.actor_tenant_id is None:
        raise Unauthenticated("not signed in with an API key")
    async with db.unit_of_work(scope, readonly=True) as uow:
        found = await ApiKeyRepository(uow).with_tenant(scope.actor_tenant_id,
                                                        scope.api_key_id)
    if found is None:
        raise Unauthenticated("unknown API key")
    _refuse_if_dead(found)
    expires_at: datetime | None = found.expires_at
    return expires_at


def bootstrap_scope() -> TenantScope:
    """The one scope not derived from a key: creating the very first key."""
    return _issue(
        tenant_ids=None,
        actor_tenant_id=None,
        actor_kind=TenantKind.OPERATOR,
        role=Role.ADMIN,
        actor="bootstrap",
    )


def receipt_scope(token: str) -> TenantScope | None:
    """A consumer holding a printed receipt: that one payment, nothing else.

    The scope may read the receipt's payment and apply for its refund
    (``CONSUMER_GRANTS``); it cannot list, read or change anything else of the
    merchant. Only the token's MAC is checked here (no database); the consumer's
    services then load the payment with ``transactions.service.by_receipt_token``,
    which also refuses revoked and superseded tokens. None for a forged token.
    """
    parsed = parse_token(key_ring(), token)
    if parsed is None:
        return None
    tenant_id, transaction_id, _version = parsed
    return _merchant_viewer(tenant_id, "receipt", ReceiptGrant(tenant_id, transaction_id))


def contact_scope(codes: OneTimeCodes, session: str | None) -> TenantScope | None:
    """A consumer who redeemed a one-time code for a phone number or e-mail (/my).

    Only an authentic, unexpired session (sealed by :class:`OneTimeCodes` when a code
    was redeemed) makes one. Its merchants are every merchant, since a contact may
    have filed anywhere, but its only permission is ``LIST_OWN_FILINGS``, which
    the refund and complaint services answer with what was filed with that contact.
    """
    contact = codes.open_session(session)
    if contact is None:
        return None
    return _issue(tenant_ids=None, actor_tenant_id=None, actor_kind=TenantKind.MERCHANT,
                  role=Role.VIEWER, actor="contact", contact=contact)


async def public_merchant_scope(db: Database, slug: str) -> TenantScope | None:
    """A keyless caller on a merchant's public page (its refund policy, by slug).

    The slug is looked up first (tenants only); the scope then covers just that
    merchant and its parent (an agency's template may be its policy), read-only
    use, so RLS still confines what the public resolvers can reach.
    """
    slug = (slug or "").strip().lower()
    if not slug or len(slug) > 64:
        return None
    lookup = _issue(tenant_ids=None, actor_tenant_id=None, actor_kind=TenantKind.MERCHANT,
                    role=Role.VIEWER, actor="public")
    async with db.unit_of_work(lookup, readonly=True) as uow:
        row = await TenantRecordRepository(uow).by_slug(slug)
        if row is None or row.kind != TenantKind.MERCHANT or row.status != "ACTIVE":
            return None
        merchant_id, parent_id = row.id, row.parent_id
    visible = {merchant_id} | ({parent_id} if parent_id else set())
    return _issue(tenant_ids=frozenset(visible), actor_tenant_id=merchant_id,
                  actor_kind=TenantKind.MERCHANT, role=Role.VIEWER, actor="public")


def signed_link_scope(tenant_id: uuid.UUID) -> TenantScope:
    """The holder of a signed, unexpired link to one object of a tenant (an evidence file).

    Only after the link's MAC and expiry have been checked
    (:mod:`qrefund.platform.consumer.links`): the link is the credential, as a receipt
    token is. Read-only use, that one tenant; the route reads just the object named.
    """
    return _issue(tenant_ids=frozenset({tenant_id}), actor_tenant_id=tenant_id,
                  actor_kind=TenantKind.MERCHANT, role=Role.VIEWER, actor="signed_link")
