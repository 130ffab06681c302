"""Revocation notices: "this API key is dead", to every API process at once.

``revoke_api_key`` announces the key after its unit of work commits; API
processes close that key's open WebSockets when they hear it, and empty their
cache of checked keys (:mod:`qrefund.tenants.key_cache`), as they do on the
"tenants changed" notice (a merchant created, suspended, reactivated, closed).
Only ids travel (never a secret). Expiry and suspended tenants need no notice: sockets re-check
their key on a timer and at its ``expires_at``.
"""

from __future__ import annotations

import json
import uuid

from qrefund.platform.outbox import notices

AUTH_CHANNEL = "qrefund:auth"


def revoked_notice(tenant_id: uuid.UUID, key_id: uuid.UUID) -> str:
    return json.dumps({"type": "api_key.revoked", "tenantId": str(tenant_id),
                       "keyId": str(key_id)}, separators=(",", ":"))


TENANTS_CHANGED = json.dumps({"type": "tenants.changed"}, separators=(",", ":"))


def is_auth_notice(data: bytes | str) -> bool:
    """A revocation or a tenant change (anything that may change a key's verdict)."""
    try:
        raw = json.loads(data)
        return isinstance(raw, dict) and raw.get("type") in ("api_key.revoked",
                                                               "tenants.changed")
    except ValueError:
        return False


def revoked_key(data: bytes | str) -> uuid.UUID | None:
    """The key a notice revokes; None for anything else."""
    try:
        raw = json.loads(data)
        if raw.get("type") != "api_key.revoked":
            return None
        return uuid.UUID(raw["keyId"])
    except (ValueError, TypeError, KeyError, AttributeError):
        return None


async def announce_revoked(tenant_id: uuid.UUID, key_id: uuid.UUID) -> None:
    await notices.publish(AUTH_CHANNEL, revoked_notice(tenant_id, key_id))


async def announce_tenants_changed() -> None:
    await notices.publish(AUTH_CHANNEL, TENANTS_CHANGED)
