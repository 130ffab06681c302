"""A read-only unit on PostgreSQL starts on a bare connection and builds its ORM session
only when an ORM read needs one (``Database._read_unit``): rendered reads never pay for
a session, and the session, when it comes, joins the unit's transaction and scope."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import text

from qrefund.platform.analytics import service as analytics
from qrefund.platform.db import Database, UnitOfWork
from qrefund.platform.repository import UnscopedQuery
from qrefund.platform.transactions.repository import TransactionRepository
from qrefund.tenants.auth import authenticate
from qrefund.tenants.models import Tenant
from tests.foundation.helpers import record_txn
from tests.support.graphql import ok
from tests.support.raw import unchecked
from tests.support.statements import round_trips
from tests.support.world import World

pytestmark = pytest.mark.postgres_only

# What a unit's transaction sees of its start: the scope's tenants, its isolation level.
_SCOPE_AND_LEVEL = ("SELECT current_setting('qrefund.tenant_ids') AS ids,"
                    " current_setting('transaction_isolation') AS level")


@pytest.fixture
async def payments(client: httpx.AsyncClient, world: World) -> None:
    for who, n in (("a", 2), ("b", 1)):
        for i in range(n):
            await record_txn(client, world.key(who, "INTEGRATION"), merchantOrderNo=f"{who}-{i}")


async def test_a_read_past_the_orm_builds_no_session(db: Database, world: World) -> None:
    scope = await authenticate(db, world.key("a"))
    with round_trips(db) as seen:
        async with db.unit_of_work(scope, readonly=True) as uow:
            rows = (await uow._execute_sql("SELECT count(*) FROM transactions", {})).all()
            assert uow._orm is None
            assert uow.cached(Tenant, (world.merchant_a,)) is None  # and asking makes none
            assert uow._orm is None
    assert rows == [(0,)]
    # BEGIN, the scope, the read, COMMIT (a clean read unit keeps psycopg's prepared
    # statements: never ROLLBACK); BEGIN and the scope in one message: three round trips.
    assert seen == ["BEGIN", "SELECT", "SELECT", "COMMIT"], seen
    assert seen.exchanges == [["BEGIN", "SELECT"], ["SELECT"], ["COMMIT"]], seen.exchanges


async def test_a_session_made_but_never_used_still_ends_in_commit(
    db: Database, world: World
) -> None:
    """Asking for the unit's rows makes a session that runs nothing: psycopg's
    transaction is still the unit's to COMMIT (not left to the pool's reset, whose
    ROLLBACK would drop psycopg's prepared statements)."""
    scope = await authenticate(db, world.key("a"))
    with round_trips(db) as seen:
        async with db.unit_of_work(scope, readonly=True) as uow:
            await uow._execute_sql("SELECT 1", {})
            assert uow._identity_map() is not None and uow._orm is not None
    assert seen == ["BEGIN", "SELECT", "SELECT", "COMMIT"], seen


async def test_a_failed_read_rolls_back_on_the_driver(db: Database, world: World) -> None:
    scope = await authenticate(db, world.key("a"))
    with round_trips(db) as seen, pytest.raises(Exception, match="division by zero"):
        async with db.unit_of_work(scope, readonly=True) as uow:
            await uow._execute_sql("SELECT 1 / 0", {})
    assert seen[:2] == ["BEGIN", "SELECT"] and "ROLLBACK" in seen and "COMMIT" not in seen, seen


async def test_the_session_joins_the_units_transaction_and_scope(
    db: Database, world: World, payments: None
) -> None:
    scope = await authenticate(db, world.key("a"))
    with round_trips(db) as seen:
        async with db.unit_of_work(scope, readonly=True) as uow:
            before = (await uow._execute_sql("SELECT pg_backend_pid(), txid_current()",
                                             {})).one()
            repo = TransactionRepository(uow)
            found = await repo.all(repo.select())
            after = (await unchecked(uow).execute(
                text("SELECT pg_backend_pid(), txid_current()"))).one()
            unscoped = (await unchecked(uow).execute(
                text("SELECT count(*) FROM transactions"))).scalar_one()
            assert uow._orm is not None
    assert tuple(before) == tuple(after)  # the same connection, the same transaction
    assert len(found) == 2 and {t.tenant_id for t in found} == {world.merchant_a}
    assert unscoped == 2  # row-level security sees the unit's scope in the session too
    assert seen.count("BEGIN") == 1 and seen[-1] == "COMMIT" and "ROLLBACK" not in seen


async def test_a_read_unit_that_changed_a_row_rolls_back(
    db: Database, world: World, payments: None
) -> None:
    scope = await authenticate(db, world.key("a"))
    with round_trips(db) as seen:
        async with db.unit_of_work(scope, readonly=True) as uow:
            repo = TransactionRepository(uow)
            payment = (await repo.all(repo.select()))[0]
            payment.merchant_order_no = "changed"
    # (psycopg then drops its prepared statements: DEALLOCATE ALL.)
    assert seen[-2:] == ["ROLLBACK", "DEALLOCATE"] and "UPDATE" not in seen, seen
    async with db.unit_of_work(scope, readonly=True) as uow:
        repo = TransactionRepository(uow)
        assert "changed" not in {t.merchant_order_no for t in await repo.all(repo.select())}


async def test_a_failed_statement_rolls_back_and_the_next_unit_is_clean(
    db: Database, world: World
) -> None:
    scope = await authenticate(db, world.key("a"))
    with pytest.raises(Exception, match="division by zero"):
        async with db.unit_of_work(scope, readonly=True) as uow:
            await uow._execute_sql("SELECT 1 / 0", {})
    for _ in range(3):  # whichever pooled connection comes next
        async with db.unit_of_work(scope, readonly=True) as uow:
            assert (await uow._execute_sql("SELECT 1", {})).scalar_one() == 1


async def test_a_late_session_still_guards_its_flushes(db: Database, world: World) -> None:
    scope = await authenticate(db, world.key("a"))
    with pytest.raises(UnscopedQuery, match="outside the scope"):
        async with db.unit_of_work(scope, readonly=True) as uow:
            await uow._execute_sql("SELECT 1", {})
            uow._add(Tenant(id=world.merchant_b, kind="MERCHANT", name="x", slug="x-b"))
            await uow.flush()


async def _plan_mode(db: Database, scope: object, **options: bool) -> str:
    async with db.unit_of_work(scope, readonly=True, **options) as uow:  # type: ignore[arg-type]
        return str((await uow._execute_sql("SELECT current_setting('plan_cache_mode')",
                                           {})).scalar())


async def test_a_unit_with_generic_plans_sets_the_plan_mode_with_its_scope(
    db: Database, world: World
) -> None:
    """``generic_plans`` rides on the scope's statement (no round trip of its own) and
    lasts for the unit's transaction only."""
    scope = await authenticate(db, world.key("a"))
    with round_trips(db) as seen:
        assert await _plan_mode(db, scope, generic_plans=True) == "force_generic_plan"
    assert seen == ["BEGIN", "SELECT", "SELECT", "COMMIT"], seen
    assert await _plan_mode(db, scope) == "auto"


PAGE = "{ transactions(first: 2) { edges { node { id } } } }"
STATS = ('{ refundStats(from: "2026-01-01T00:00:00Z", to: "2026-02-01T00:00:00Z") '
         "{ requested } }")


async def test_the_requests_reads_run_on_generic_plans_and_analytics_not(
    client: httpx.AsyncClient, db: Database, world: World, payments: None,
    monkeypatch: pytest.MonkeyPatch
) -> None:
    """A page is read on generic plans (Context.reading), statistics over a date range on
    plans made for their values, whichever kind of unit the request had opened before
    (the key's look-up unit, adopted as the request's, plans generically)."""
    modes: dict[str, str] = {}

    def spy(name: str, read: Any) -> Any:
        async def wrapped(*args: Any, **kwargs: Any) -> Any:
            uow = next(a for a in (*args, *kwargs.values()) if isinstance(a, UnitOfWork)) \
                if name == "stats" else args[0].uow
            modes[name] = str((await uow._execute_sql(
                "SELECT current_setting('plan_cache_mode')", {})).scalar())
            return await read(*args, **kwargs)
        return wrapped

    monkeypatch.setattr(analytics, "refund_stats", spy("stats", analytics.refund_stats))
    monkeypatch.setattr(TransactionRepository, "rendered_page",
                        spy("page", TransactionRepository.rendered_page))
    key = world.key("a")
    for query in (PAGE, STATS, PAGE):
        await ok(client, query, key=key)
    assert modes == {"page": "force_generic_plan", "stats": "auto"}, modes


async def test_a_write_unit_begins_with_its_scope_in_one_message(
    db: Database, world: World
) -> None:
    scope = await authenticate(db, world.key("a"))
    with round_trips(db) as seen:
        async with db.unit_of_work(scope) as uow:
            setting = (await uow._execute_sql(_SCOPE_AND_LEVEL, {})).one()
    assert setting == (str(world.merchant_a), "read committed")
    assert seen.exchanges[0] == ["BEGIN", "SELECT"], seen.exchanges


async def test_a_snapshot_unit_keeps_its_isolation_level(db: Database, world: World) -> None:
    """psycopg begins a REPEATABLE READ transaction itself (BEGIN ISOLATION LEVEL ...),
    so the scope follows on a round trip of its own."""
    scope = await authenticate(db, world.key("a"))
    with round_trips(db) as seen:
        async with db.unit_of_work(scope, readonly=True, snapshot=True) as uow:
            setting = (await uow._execute_sql(_SCOPE_AND_LEVEL, {})).one()
    assert setting == (str(world.merchant_a), "repeatable read")
    assert seen.exchanges[:2] == [["BEGIN"], ["SELECT"]], seen.exchanges


async def test_a_scope_of_many_tenants_reaches_the_server_quoted(
    db: Database, world: World
) -> None:
    """The merged message carries the scope as literals: an agency's list of merchants
    arrives whole, and row-level security reads it."""
    scope = await authenticate(db, world.key("agency"))
    async with db.unit_of_work(scope, readonly=True) as uow:
        ids = (await uow._execute_sql("SELECT current_setting('qrefund.tenant_ids')",
                                      {})).scalar()
    assert ids == scope.rls_setting()[0] and "," in ids, ids
