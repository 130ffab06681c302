"""Migration 0008: notifications name their subject, on the suite's backend: upgrade
(existing rows become refund-case messages), downgrade (refused while other subjects'
messages exist), upgrade again, and the schema matches the models."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from qrefund.platform.clock import utcnow
from qrefund.platform.config import Settings
from qrefund.platform.sqltypes import UTCDateTime
from tests.jobs.scratch_schema import Scratch, scratch_database


def _notifications(key: str, *extra: sa.ColumnClause[object]) -> sa.TableClause:
    return sa.table(
        "notifications", sa.column("tenant_id", sa.Uuid()), sa.column("id", sa.Uuid()),
        sa.column(key, sa.Uuid()), sa.column("event_id", sa.Uuid()),
        sa.column("event_type", sa.String()), sa.column("channel", sa.String()),
        sa.column("recipient_masked", sa.String()), sa.column("locale", sa.String()),
        sa.column("template", sa.String()), sa.column("body", sa.String()),
        sa.column("status", sa.String()), sa.column("attempts", sa.Integer()),
        sa.column("created_at", UTCDateTime()), *extra)


OLD = _notifications("case_id")  # before 0008
NEW = _notifications("subject_id", sa.column("subject_type", sa.String()))


def message(tenant_id: uuid.UUID, key: str, about: uuid.UUID, **extra: str) -> dict[str, object]:
    return {"tenant_id": tenant_id, "id": uuid.uuid4(), key: about, "event_id": uuid.uuid4(),
            "event_type": "refund_case.submitted", "channel": "EMAIL",
            "recipient_masked": "c***@example.com", "locale": "en",
            "template": "refund_case.submitted", "body": "b", "status": "SENT", "attempts": 1,
            "created_at": utcnow(), **extra}


@pytest.fixture
def scratch(settings: Settings, tmp_path: Path) -> Iterator[Scratch]:
    with scratch_database(settings, tmp_path) as scratch:
        yield scratch


def test_notification_subjects_upgrade_downgrade_and_upgrade_again(scratch: Scratch) -> None:
    # Given a database at 0007 with a message about a refund case
    scratch.upgrade("0007")
    tenant, case = scratch.tenant(), uuid.uuid4()
    scratch.run(OLD.insert(), message(tenant, "case_id", case))

    # When it is upgraded, then the message is a refund case's, under the subject index
    scratch.upgrade("0008")
    assert scratch.run(sa.select(NEW.c.subject_type, NEW.c.subject_id)) == [("refund_case", case)]
    assert_subject_index_and_row_security(scratch, "subject_id")

    # When another subject's message exists, a downgrade is refused and changes nothing
    ticket = uuid.uuid4()
    scratch.run(NEW.insert(), message(tenant, "subject_id", ticket, subject_type="ticket",
                                      event_type="ticket.opened", template="ticket.opened"))
    with pytest.raises(RuntimeError, match="1 notifications are about subjects other than"):
        scratch.downgrade("0007")
    assert len(scratch.run(sa.select(NEW.c.subject_id))) == 2

    # Without it, the downgrade gives the refund case's message its case_id back
    scratch.run(sa.delete(NEW).where(NEW.c.subject_id == ticket))
    scratch.downgrade("0007")
    assert scratch.run(sa.select(OLD.c.case_id)) == [(case,)]
    assert_subject_index_and_row_security(scratch, "case_id")

    # And upgraded again, to the head: as before, and the schema matches the models
    scratch.upgrade("head")
    assert scratch.run(sa.select(NEW.c.subject_type, NEW.c.subject_id)) == [("refund_case", case)]
    assert_subject_index_and_row_security(scratch, "subject_id")
    assert scratch.drift() == []


def assert_subject_index_and_row_security(scratch: Scratch, key: str) -> None:
    name = "ix_notifications_subject" if key == "subject_id" else "ix_notifications_case"
    index = scratch.index_sql(name).replace('"', "")
    assert f"(tenant_id, {key}, id)" in index, index
    if scratch.is_postgres:
        assert scratch.row_security("notifications") == (True, True, ["tenant_isolation"])
