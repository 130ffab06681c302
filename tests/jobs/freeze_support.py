"""Test support for frozen suspensions: backdating one (the tests cannot wait hours)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import text

from qrefund.platform.clock import as_utc


def backdate_suspension(owner_engine: Any, merchant_id: uuid.UUID, by: timedelta) -> datetime:
    """Move the merchant's last status change ``by`` into the past; returns the new time."""
    with owner_engine.begin() as conn:
        at = conn.execute(text("SELECT status_changed_at FROM tenants WHERE id = :id"),
                          {"id": merchant_id}).scalar_one()
        assert isinstance(at, datetime)
        earlier = as_utc(at) - by
        conn.execute(text("UPDATE tenants SET status_changed_at = :at WHERE id = :id"),
                     {"at": earlier, "id": merchant_id})
    return earlier
