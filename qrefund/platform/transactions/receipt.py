"""Receipt tokens: what the POS prints as a QR code linking to the consumer page.

A token is ``base64url(tenant id || transaction id || version || MAC)`` where
the MAC is HMAC-SHA256 (truncated to 128 bits) under the encryption key ring.
Nothing secret is stored: a token is checked by recomputing the MAC, revoking
bumps the transaction's ``receipt_token_version`` (old prints stop working),
and every key in the ring verifies, so rotating keys keeps printed receipts valid.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import struct
import uuid

from qrefund.platform.crypto import KeyRing

_MAC_BYTES = 16


def _mac(key: bytes, tenant_id: uuid.UUID, txn_id: uuid.UUID, version: int) -> bytes:
    message = b"receipt:" + tenant_id.bytes + txn_id.bytes + struct.pack(">I", version)
    return hmac.new(key, message, hashlib.sha256).digest()[:_MAC_BYTES]


def make_token(ring: KeyRing, tenant_id: uuid.UUID, txn_id: uuid.UUID, version: int) -> str:
    body = tenant_id.bytes + txn_id.bytes + struct.pack(">I", version)
    raw = body + _mac(ring.keys[ring.primary], tenant_id, txn_id, version)
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def parse_token(ring: KeyRing, token: str) -> tuple[uuid.UUID, uuid.UUID, int] | None:
    """(tenant id, transaction id, version) for an authentic token, else None."""
    if not token or len(token) > 100:
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        return None
    if len(raw) != 36 + _MAC_BYTES:
        return None
    tenant_id, txn_id = uuid.UUID(bytes=raw[:16]), uuid.UUID(bytes=raw[16:32])
    (version,) = struct.unpack(">I", raw[32:36])
    mac = raw[36:]
    for key in ring.keys.values():
        if hmac.compare_digest(mac, _mac(key, tenant_id, txn_id, version)):
            return tenant_id, txn_id, version
    return None
