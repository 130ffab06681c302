"""Application-generated, time-ordered UUIDv7 identifiers."""

from __future__ import annotations

import uuid

import uuid_utils


def new_id() -> uuid.UUID:
    """A UUIDv7: time-ordered, so inserts append to the primary-key index."""
    return uuid.UUID(bytes=uuid_utils.uuid7().bytes)
