"""The statement that gives a unit of work its scope on PostgreSQL (the row-level
security settings, the role, the planner's mode), and the BEGIN it can carry.

A unit's first statement on a connection with no transaction open made psycopg send
``BEGIN`` on a round trip of its own: a read of one case by id made four (BEGIN, the
scope, the read, COMMIT). When psycopg would begin with a bare ``BEGIN`` (no isolation
level, read-only or deferrable setting on the connection: a snapshot unit's
``REPEATABLE READ`` is left to psycopg), the scope now goes in the same message,
``BEGIN; SELECT set_config(...)``, one simple-protocol query with the values as quoted
literals (:func:`qrefund.platform.driver.begin_with`); psycopg then finds the
transaction open and sends no BEGIN of its own, and commits or rolls it back as ever.
Measured alone (16 connections, one-row read, bench machine): 270 µs of client CPU a
unit against 390 µs. On a connection already in a transaction (the key look-up
narrowing its unit's scope to the caller) the scope is the parameterised statement
it always was.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from psycopg import sql
from psycopg.pq import TransactionStatus

from qrefund.platform import driver

GENERIC_PLANS = "force_generic_plan"


async def apply(connection: Any, raw: Any, ids: str, all_flag: str, role: str | None,
                generic_plans: bool) -> None:
    """Set the scope on the psycopg connection ``raw`` (under SQLAlchemy's
    ``connection``), beginning its transaction in the same message when it can."""
    if begins_plainly(raw):
        await driver.begin_with(connection, raw, _begin_and_scope(ids, all_flag, role,
                                                                  generic_plans))
        return
    settings = _settings(ids, all_flag, role, generic_plans)
    # One statement for them all: no extra round trip behind a pooler.
    await driver.run(connection, raw, driver.text_form("SELECT " + ", ".join(
        f"set_config('{name}', %(p{i})s, true)" for i, (name, _) in enumerate(settings))),
        {f"p{i}": value for i, (_, value) in enumerate(settings)})


def begins_plainly(raw: Any) -> bool:
    """Whether psycopg's next statement on ``raw`` would go after a bare BEGIN of its
    own (a live connection, no transaction open, no transaction characteristics)."""
    return (not raw.closed and not raw.broken and not raw.autocommit
            and raw.info.transaction_status == TransactionStatus.IDLE
            and raw.isolation_level is None and raw.read_only is None
            and raw.deferrable is None)


def _settings(ids: str, all_flag: str, role: str | None, generic_plans: bool
              ) -> list[tuple[str, str]]:
    """The transaction-local settings that make a unit's scope, as (name, value)."""
    settings = [("qrefund.tenant_ids", ids), ("qrefund.all_tenants", all_flag)]
    if role:
        settings.append(("role", role))
    if generic_plans:
        settings.append(("plan_cache_mode", GENERIC_PLANS))
    return settings


@lru_cache(maxsize=1024)  # bounded: the tenant lists of the callers a process serves
def _begin_and_scope(ids: str, all_flag: str, role: str | None, generic_plans: bool) -> str:
    return "BEGIN; SELECT " + ", ".join(
        f"set_config({sql.Literal(name).as_string()}, {sql.Literal(value).as_string()}, true)"
        for name, value in _settings(ids, all_flag, role, generic_plans))
