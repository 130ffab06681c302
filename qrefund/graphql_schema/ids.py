"""Relay global IDs: ``base64url("<Type>:<tenant uuid>:<uuid>")``.

The tenant id is inside every global id so a look-up by id names its tenant
(docs/architecture.md); a malformed id or one of another type answers *not found*.
"""

from __future__ import annotations

import base64
import binascii
import uuid

import strawberry

from qrefund.platform.errors import NotFound


def encode(type_name: str, *parts: uuid.UUID) -> strawberry.ID:
    raw = ":".join([type_name, *map(str, parts)]).encode()
    return strawberry.ID(base64.urlsafe_b64encode(raw).rstrip(b"=").decode())


def decode_any(global_id: str) -> tuple[str, list[uuid.UUID]]:
    try:
        if len(global_id) > 200:
            raise ValueError
        raw = base64.urlsafe_b64decode(global_id + "=" * (-len(global_id) % 4)).decode()
        type_name, *parts = raw.split(":")
        return type_name, [uuid.UUID(p) for p in parts]
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise NotFound("no object with this id") from None


def decode(global_id: str, type_name: str, field: str = "id") -> list[uuid.UUID]:
    try:
        kind, parts = decode_any(global_id)
    except NotFound:
        kind, parts = "", []  # malformed: the same answer as an id of another type
    if kind != type_name:
        raise NotFound(f"no {type_name} with this id", field=[field])
    return parts


def tenant_id_of(global_id: str, field: str) -> uuid.UUID:
    """Tenant ids (agency, merchant) accept a ``Tenant`` global id."""
    parts = decode(global_id, "Tenant", field)
    if len(parts) != 1:
        raise NotFound("no tenant with this id", field=[field])
    return parts[0]


def scoped_id(global_id: str, type_name: str, field: str = "id") -> tuple[uuid.UUID, uuid.UUID]:
    parts = decode(global_id, type_name, field)
    if len(parts) != 2:
        raise NotFound(f"no {type_name} with this id", field=[field])
    return parts[0], parts[1]
