"""Migration 0007: named deadline timers (the name joins the primary key), on the
suite's backend: upgrade, downgrade, upgrade again, and the schema matches the models."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from qrefund.platform.clock import utcnow
from qrefund.platform.config import Settings
from qrefund.platform.sqltypes import UTCDateTime
from tests.jobs.scratch_schema import Scratch, scratch_database


def _timers(*extra: sa.ColumnClause[object]) -> sa.TableClause:
    return sa.table(
        "deadline_timers", sa.column("tenant_id", sa.Uuid()),
        sa.column("subject_type", sa.String()), sa.column("subject_id", sa.Uuid()),
        sa.column("kind", sa.String()), sa.column("started_at", UTCDateTime()),
        sa.column("due_at", UTCDateTime()), sa.column("warn_at", UTCDateTime()),
        sa.column("escalations", sa.Integer()), sa.column("next_check_at", UTCDateTime()),
        sa.column("failures", sa.Integer()), sa.column("updated_at", UTCDateTime()), *extra)


OLD_TIMERS = _timers()  # before 0007
TIMERS = _timers(sa.column("name", sa.String()))


def timer(tenant_id: uuid.UUID, subject_id: uuid.UUID, **extra: str) -> dict[str, object]:
    now = utcnow()
    return {"tenant_id": tenant_id, "subject_type": "refund_case", "subject_id": subject_id,
            "kind": "review", "started_at": now, "due_at": now + timedelta(hours=48),
            "warn_at": now + timedelta(hours=36), "escalations": 0,
            "next_check_at": now + timedelta(hours=36), "failures": 0, "updated_at": now,
            **extra}


def names(scratch: Scratch) -> list[tuple[uuid.UUID, str]]:
    return sorted(scratch.run(sa.select(TIMERS.c.subject_id, TIMERS.c.name)))


@pytest.fixture
def scratch(settings: Settings, tmp_path: Path) -> object:
    with scratch_database(settings, tmp_path) as scratch:
        yield scratch


def test_named_timers_upgrade_downgrade_and_upgrade_again(scratch: Scratch) -> None:
    # Given a database at 0006 with the timer of a refund case
    scratch.upgrade("0006")
    tenant, case = scratch.tenant(), uuid.uuid4()
    scratch.run(OLD_TIMERS.insert(), timer(tenant, case))

    # When it is upgraded
    scratch.upgrade("0007")
    # Then the existing timer is the case's "sla", the name is part of the key, and a
    # subject may now run a second, differently named timer (but not the same twice)
    assert names(scratch) == [(case, "sla")]
    assert scratch.primary_key("deadline_timers") == [
        "tenant_id", "subject_type", "subject_id", "name"]
    scratch.run(TIMERS.insert(), timer(tenant, case, name="resolution"))
    with pytest.raises(IntegrityError):
        scratch.run(TIMERS.insert(), timer(tenant, case, name="resolution"))
    assert names(scratch) == [(case, "resolution"), (case, "sla")]
    assert_sweep_index_and_row_security(scratch)

    # When it is downgraded: the extra timer (derived data) goes, the case's stays
    scratch.downgrade("0006")
    assert scratch.primary_key("deadline_timers") == ["tenant_id", "subject_type", "subject_id"]
    assert [r.subject_id for r in scratch.run(sa.select(OLD_TIMERS.c.subject_id))] == [case]
    assert_sweep_index_and_row_security(scratch)

    # And upgraded again, to the head: as before, and the schema matches the models
    scratch.upgrade("head")
    assert names(scratch) == [(case, "sla")]
    assert scratch.primary_key("deadline_timers") == [
        "tenant_id", "subject_type", "subject_id", "name"]
    assert_sweep_index_and_row_security(scratch)
    assert scratch.drift() == []


def assert_sweep_index_and_row_security(scratch: Scratch) -> None:
    index = scratch.index_sql("ix_deadline_timers_next_check")
    assert "next_check_at" in index and "WHERE" in index.upper() and "IS NOT NULL" in index
    if scratch.is_postgres:
        assert scratch.row_security("deadline_timers") == (True, True, ["tenant_isolation"])
