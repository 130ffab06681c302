"""Migration 0010_complaint_jobs (the partial unique index of automatic REFUND_DELAY
tickets) goes up, down and up again on the test backend with no model drift, and the
index does what it is for: a second automatic ticket for the same case is refused,
tickets opened by anyone else are not."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.pool import NullPool

from qrefund.migrations.runner import alembic_config
from tests.complaints.test_migration import _database, _state

INDEX = "uq_complaint_tickets_refund_delay"


def _indexes(url: str) -> set[str]:
    engine = create_engine(url, poolclass=NullPool)
    with engine.connect() as conn:
        found = {i["name"] for i in inspect(conn).get_indexes("complaint_tickets")}
    engine.dispose()
    return found


def test_up_down_up(tmp_path: Path) -> None:
    url = _database(tmp_path)
    config = alembic_config(url)
    command.upgrade(config, "heads")
    assert INDEX in _indexes(url) and _state(url)[2] == []
    command.downgrade(config, "0009")
    assert INDEX not in _indexes(url)
    assert _state(url)[2]  # the models hold the index the database lacks
    command.upgrade(config, "heads")
    assert INDEX in _indexes(url) and _state(url)[2] == []


INSERT = text("""INSERT INTO complaint_tickets (tenant_id, id, ticket_number, transaction_id,
    refund_case_id, status, priority, category, channel, description, policy_version,
    first_response_due_at, resolution_due_at, sla_started_at, sla_paused_seconds,
    escalation_level, opened_by, event_count, reopen_count, created_at, updated_at)
    VALUES (:tenant, :id, :number, :txn, :case, 'OPEN', 'HIGH', 'REFUND_DELAY', 'API', 'late',
    0, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 0, 0, :by, 1, 0,
    CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)""")


def test_one_automatic_ticket_per_case(tmp_path: Path) -> None:
    url = _database(tmp_path)
    command.upgrade(alembic_config(url), "heads")
    engine = create_engine(url, poolclass=NullPool)
    tenant, txn, case = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()

    def insert(conn, number: str, by: str) -> None:
        ids = {"tenant": tenant, "id": uuid.uuid4(), "txn": txn, "case": case}
        if conn.dialect.name == "sqlite":  # sa.Uuid's SQLite form: 32 hex digits
            ids = {k: v.hex for k, v in ids.items()}
        conn.execute(INSERT, {**ids, "number": number, "by": by})

    with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("PRAGMA foreign_keys = OFF")
        else:
            conn.exec_driver_sql("SET session_replication_role = replica")  # no FK checks
        insert(conn, "CP-1", "system:refund-delay")
        insert(conn, "CP-2", "api_key:abc")  # staff may open more about the same case
        insert(conn, "CP-3", "api_key:abc")
        with pytest.raises(IntegrityError):
            insert(conn, "CP-4", "system:refund-delay")
        conn.rollback()
    engine.dispose()
