"""Table rows to JSON values and back, by column type.

Values are written as the database holds them: encrypted columns stay ciphertexts
(``v1.<key id>.<...>``, see ``platform/crypto.py``), blind indexes and secret hashes
stay hashes. Only the types JSON lacks are spelled out: UUIDs as strings, datetimes
as ISO 8601 in UTC.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Table, Uuid

from qrefund.platform.sqltypes import UTCDateTime

_KEY_ID = re.compile(r"^v1\.([A-Za-z0-9_-]{1,64})\.[A-Za-z0-9_-]+$")


def encode_row(table: Table, row: dict[str, Any]) -> dict[str, Any]:
    return {name: _encode(value) for name, value in row.items() if name in table.c}


def _encode(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def decode_row(table: Table, data: dict[str, Any]) -> dict[str, Any]:
    """A row of ``table`` from its JSON object; unknown columns refuse the row."""
    unknown = set(data) - set(table.c.keys())
    if unknown:
        raise ValueError(f"{table.name}: unknown columns {sorted(unknown)}")
    return {name: _decode(table, name, value) for name, value in data.items()}


def _decode(table: Table, name: str, value: Any) -> Any:
    if value is None:
        return None
    kind = table.c[name].type
    if isinstance(kind, Uuid):
        return uuid.UUID(value)
    if isinstance(kind, UTCDateTime):
        return datetime.fromisoformat(value)
    return value


def key_ids(row: dict[str, Any]) -> set[str]:
    """The encryption key ids of the ciphertexts in a row (the manifest lists them, so the
    target deployment knows which keys ``QREFUND_ENCRYPTION_KEY`` must hold)."""
    found = set()
    for value in row.values():
        if isinstance(value, str) and value.startswith("v1.") and (m := _KEY_ID.match(value)):
            found.add(m.group(1))
    return found
