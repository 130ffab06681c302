"""Signed, expiring links: the upload URL of a receipt and the download link of a file.

A link is ``base64url(kind || tenant id || object id || version || expiry || MAC)``,
the MAC an HMAC-SHA256 (128 bits) under the key ring, checked against every key (so
rotating keys keeps fresh links valid). Nothing is stored; a link works until it
expires. An upload link names the payment and the receipt version it was made for,
so reissuing or revoking the receipt kills its upload links too.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import struct
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from qrefund.platform.crypto import key_ring

UPLOAD = b"U"
DOWNLOAD = b"D"
UPLOAD_TTL = timedelta(minutes=30)
DOWNLOAD_TTL = timedelta(minutes=15)
_MAC = 16
_BODY = struct.Struct(">c16s16sIq")


@dataclass(frozen=True)
class Link:
    kind: bytes
    tenant_id: uuid.UUID
    object_id: uuid.UUID
    version: int
    expires_at: datetime


def _mac(key: bytes, body: bytes) -> bytes:
    return hmac.new(key, b"link:" + body, hashlib.sha256).digest()[:_MAC]


def sign(kind: bytes, tenant_id: uuid.UUID, object_id: uuid.UUID, *, expires_at: datetime,
         version: int = 0) -> str:
    ring = key_ring()
    body = _BODY.pack(kind, tenant_id.bytes, object_id.bytes, version,
                      int(expires_at.timestamp()))
    raw = body + _mac(ring.keys[ring.primary], body)
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def verify(link: str, kind: bytes, now: datetime) -> Link | None:
    """The link's contents when it is authentic, of ``kind`` and not expired; else None."""
    if not link or len(link) > 120:
        return None
    try:
        raw = base64.urlsafe_b64decode(link + "=" * (-len(link) % 4))
    except (binascii.Error, ValueError):
        return None
    if len(raw) != _BODY.size + _MAC:
        return None
    body, mac = raw[:_BODY.size], raw[_BODY.size:]
    if not any(hmac.compare_digest(mac, _mac(k, body)) for k in key_ring().keys.values()):
        return None
    found_kind, tenant, obj, version, expires = _BODY.unpack(body)
    expires_at = datetime.fromtimestamp(expires, UTC)
    if found_kind != kind or expires_at <= now:
        return None
    return Link(found_kind, uuid.UUID(bytes=tenant), uuid.UUID(bytes=obj), version, expires_at)
