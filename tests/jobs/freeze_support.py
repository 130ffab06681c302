"""Test support for frozen suspensions: backdating one (the tests cannot wait hours)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from qrefund.platform.clock import as_utc
from qrefund.tenants.models import Tenant

_TENANTS: Any = Tenant.__table__  # type: ignore[attr-defined]


def backdate_suspension(owner_engine: Any, merchant_id: uuid.UUID, by: timedelta) -> datetime:
    """Move the merchant's last status change ``by`` into the past; returns the new time."""
    with owner_engine.begin() as conn:
        at = conn.execute(select(_TENANTS.c.status_changed_at)
                          .where(_TENANTS.c.id == merchant_id)).scalar_one()
        assert isinstance(at, datetime)
        earlier = as_utc(at) - by
        conn.execute(update(_TENANTS).where(_TENANTS.c.id == merchant_id)
                     .values(status_changed_at=earlier))
    return earlier
