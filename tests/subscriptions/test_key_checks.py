"""An open WebSocket stays bound to its key: revoked, expired or suspended closes it (4403).

Against a real server: the revocation goes over HTTP and its notice through Redis
pub/sub to the socket; expiry and suspension are found by the socket's own checks
(the suspension is an owner-engine UPDATE: there is no suspend mutation yet).
"""

from __future__ import annotations

import json
from datetime import timedelta

import websockets
from sqlalchemy import text

from qrefund.graphql_schema import ids
from qrefund.platform.clock import utcnow
from qrefund.platform.roles import Role
from qrefund.tenants import service as tenants
from qrefund.tenants.auth import parse_key
from tests.refunds.helpers import scope_of
from tests.subscriptions.support import (
    VIEWER,
    closed,
    http_ok,
    open_socket,
    query,
    send,
    subscribe,
)

REVOKE = "mutation($id: ID!) { revokeApiKey(input: {id: $id}) { userErrors { code } } }"
MINT = """mutation($tenant: ID!) { createApiKey(input: {tenantId: $tenant, name: "x",
  role: ADMIN}) { secret userErrors { code } } }"""


def _key_gid(key: str) -> str:
    tenant_id, key_id, _ = parse_key(key)
    return ids.encode("ApiKey", tenant_id, key_id)


def _revoke_quietly(owner_engine, key: str) -> None:
    """Revoke in the table only: no notice reaches the sockets."""
    _tenant_id, key_id, _ = parse_key(key)
    with owner_engine.begin() as conn:
        conn.execute(text("UPDATE api_keys SET revoked_at = CURRENT_TIMESTAMP WHERE id = :id"),
                     {"id": key_id.hex if conn.dialect.name == "sqlite" else key_id})


def _key_count(owner_engine) -> int:
    with owner_engine.begin() as conn:
        return int(conn.execute(text("SELECT count(*) FROM api_keys")).scalar_one())


async def test_revoking_a_key_closes_its_open_sockets_at_once(serve, relay, world):
    # Given two open sockets of a merchant's ADMIN key (one running a subscription),
    # and a socket of another key
    srv = serve()
    doomed = world.key("a", "ADMIN")
    busy, idle = await open_socket(srv.ws, doomed), await open_socket(srv.ws, doomed)
    await subscribe(busy, {})
    other = await open_socket(srv.ws, world.key("a", "VIEWER"))

    # When its agency revokes it over HTTP
    await http_ok(srv, REVOKE, world.key("agency", "ADMIN"), {"id": _key_gid(doomed)})

    # Then both sockets of the key close within a second, with the reason
    for ws in (busy, idle):
        code, reason, seconds = await closed(ws)
        assert (code, reason) == (4403, "API key has been revoked")
        assert seconds < 1.0
    # and the other key's socket still works
    assert await query(other, VIEWER) == {"data": {"viewer": {"role": "VIEWER"}}}
    await other.close()


async def test_a_dead_key_is_refused_before_the_next_operation_runs(
    serve, world, owner_engine
):
    # Given open sockets of an ADMIN key that is then revoked with no notice reaching them
    srv = serve(ws_reauth_seconds=3600)
    key = world.key("a", "ADMIN")
    asking, minting = await open_socket(srv.ws, key), await open_socket(srv.ws, key)
    assert await query(asking, VIEWER) == {"data": {"viewer": {"role": "ADMIN"}}}
    _revoke_quietly(owner_engine, key)
    keys_before = _key_count(owner_engine)

    # When each sends an operation: a query, and a mutation minting an ADMIN key
    await send(asking, "2", VIEWER)
    await send(minting, "2", MINT, {"tenant": ids.encode("Tenant", world.merchant_a)})

    # Then neither runs: the sockets close with the reason, and no key was minted
    for ws in (asking, minting):
        assert (await closed(ws))[:2] == (4403, "API key has been revoked")
    assert _key_count(owner_engine) == keys_before


async def test_a_socket_closes_when_its_key_expires(serve, relay, db, world):
    # Given a socket running a subscription with a key that expires in two seconds
    srv = serve(ws_reauth_seconds=3600)
    admin = await scope_of(db, world, "agency", "ADMIN")
    expires_at = utcnow() + timedelta(seconds=2)
    async with db.unit_of_work(admin) as uow:
        _row, key = await tenants.create_api_key(
            uow, tenant_id=world.merchant_a, name="short", role=Role.VIEWER,
            expires_at=expires_at)
    ws = await open_socket(srv.ws, key)
    await subscribe(ws, {}, settle=0)

    # When it expires (no notice, no periodic check due): the socket closes then
    code, reason, _ = await closed(ws, within=5)
    assert (code, reason) == (4403, "API key has expired")
    assert utcnow() >= expires_at


async def test_a_suspended_tenants_sockets_close_at_the_periodic_check(
    serve, relay, world, owner_engine
):
    # Given a socket running a subscription, re-checking its key every half second
    srv = serve(ws_reauth_seconds=0.5)
    ws = await open_socket(srv.ws, world.key("a", "VIEWER"))
    await subscribe(ws, {})
    sibling = await open_socket(srv.ws, world.key("b", "VIEWER"))

    # When the merchant is closed (a suspended one keeps reading: see test_merchant_lifecycle)
    with owner_engine.begin() as conn:
        conn.execute(text("UPDATE tenants SET status = 'CLOSED' WHERE slug = 'merchant-a'"))

    # Then its socket closes within the period (plus the check), another merchant's
    # stays open, and a new socket of the merchant is refused
    code, reason, seconds = await closed(ws)
    assert (code, reason) == (4403, "tenant is not active")
    assert seconds < 1.5
    assert await query(sibling, VIEWER) == {"data": {"viewer": {"role": "VIEWER"}}}
    refused = await websockets.connect(srv.ws, subprotocols=["graphql-transport-ws"])  # type: ignore[list-item]
    await refused.send(json.dumps({"type": "connection_init",
                                   "payload": {"Authorization": f"Bearer {world.key('a')}"}}))
    assert (await closed(refused))[0] == 4403
    await sibling.close()


async def test_the_legacy_graphql_ws_protocol_is_refused(server, world):
    # graphql-ws (subscriptions-transport-ws) would skip these checks: it is not spoken.
    ws = await websockets.connect(server, subprotocols=["graphql-ws"])  # type: ignore[list-item]
    code, reason, _ = await closed(ws)
    assert (code, reason) == (4406, "Subprotocol not acceptable")

