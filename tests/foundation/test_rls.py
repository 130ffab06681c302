"""PostgreSQL row-level security: the second wall, if application filtering were bypassed."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from qrefund.platform.db import Database
from qrefund.platform.models import TENANT_TABLES, metadata
from qrefund.tenants.auth import authenticate
from tests.foundation.helpers import record_txn
from tests.support.raw import unchecked
from tests.support.world import World

pytestmark = pytest.mark.postgres_only


@pytest.fixture
async def rows(client: httpx.AsyncClient, world: World) -> dict[str, int]:
    for who, n in (("a", 3), ("b", 2)):
        for i in range(n):
            await record_txn(client, world.key(who, "INTEGRATION"), merchantOrderNo=f"{who}-{i}")
    return {"a": 3, "b": 2}


def _count_as_app(owner_engine: Any, settings: Any, **config: str) -> int:
    """SELECT as the app role with exactly the given per-transaction settings."""
    with owner_engine.connect() as conn, conn.begin():
        conn.execute(text(f'SET LOCAL ROLE "{settings.db_app_role}"'))
        for name, value in config.items():
            conn.execute(
                text("SELECT set_config(:n, :v, true)"), {"n": f"qrefund.{name}", "v": value}
            )
        return int(conn.execute(text("SELECT count(*) FROM transactions")).scalar_one())


async def test_no_tenant_setting_sees_no_rows(
    owner_engine: Any, settings: Any, world: World, rows: dict[str, int]
) -> None:
    with owner_engine.connect() as conn:  # the owner (superuser) sees them all
        assert conn.execute(text("SELECT count(*) FROM transactions")).scalar_one() == 5
    assert _count_as_app(owner_engine, settings) == 0
    assert _count_as_app(owner_engine, settings, tenant_ids="", all_tenants="off") == 0
    assert _count_as_app(owner_engine, settings, tenant_ids=str(world.merchant_c)) == 0
    with pytest.raises(DBAPIError, match="uuid"):  # garbage fails closed, loudly
        _count_as_app(owner_engine, settings, tenant_ids="not-a-uuid-list")
    assert _count_as_app(owner_engine, settings, tenant_ids=str(world.merchant_a)) == 3
    both = f"{world.merchant_a},{world.merchant_b}"
    assert _count_as_app(owner_engine, settings, tenant_ids=both) == 5
    assert _count_as_app(owner_engine, settings, all_tenants="on") == 5


async def test_unscoped_sql_in_a_unit_of_work_sees_only_the_scope(
    db: Database, world: World, rows: dict[str, int]
) -> None:
    """Raw SQL with no tenant filter at all, inside merchant A's unit of work."""
    scope = await authenticate(db, world.key("a"))
    async with db.unit_of_work(scope, readonly=True) as uow:
        assert (
            await unchecked(uow).execute(text("SELECT current_user"))
        ).scalar_one() == "qrefund_app"
        count: int = (
            await unchecked(uow).execute(text("SELECT count(*) FROM transactions"))
        ).scalar_one()
        tenants: int = (
            await unchecked(uow).execute(text("SELECT count(*) FROM tenants"))
        ).scalar_one()
    assert count == 3
    assert tenants == 1


async def test_writing_into_another_tenant_is_refused(
    db: Database, world: World, rows: dict[str, int]
) -> None:
    scope = await authenticate(db, world.key("a"))
    with pytest.raises(DBAPIError, match="row-level security"):
        async with db.unit_of_work(scope) as uow:
            await unchecked(uow).execute(
                text("UPDATE transactions SET tenant_id = :b"), {"b": world.merchant_b}
            )
    with pytest.raises(DBAPIError, match="row-level security"):
        async with db.unit_of_work(scope) as uow:
            await unchecked(uow).execute(
                text("INSERT INTO tenant_sequences (tenant_id, name, value) VALUES (:b, 'x', 1)"),
                {"b": world.merchant_b},
            )


def test_app_role_owns_nothing_and_cannot_bypass(owner_engine: Any, settings: Any) -> None:
    role = settings.db_app_role
    with owner_engine.connect() as conn:
        flags = conn.execute(
            text("SELECT rolsuper, rolbypassrls, rolcanlogin FROM pg_roles WHERE rolname = :r"),
            {"r": role},
        ).one()
        assert tuple(flags) == (False, False, False)
        owned = conn.execute(
            text(
                "SELECT c.relname FROM pg_class c JOIN pg_roles r "
                "ON r.oid = c.relowner WHERE r.rolname = :r"
            ),
            {"r": role},
        ).all()
        assert owned == []
        functions = conn.execute(
            text(
                "SELECT p.proname FROM pg_proc p JOIN pg_roles r "
                "ON r.oid = p.proowner WHERE r.rolname = :r"
            ),
            {"r": role},
        ).all()
        assert functions == []


def test_every_tenant_table_has_forced_rls(owner_engine: Any) -> None:
    """Also guards tables added later: a table with tenant_id must be in TENANT_TABLES."""
    with_tenant = {t.name for t in metadata.sorted_tables if "tenant_id" in t.columns}
    assert with_tenant <= set(TENANT_TABLES), with_tenant - set(TENANT_TABLES)
    with owner_engine.connect() as conn:
        rls = dict(
            conn.execute(
                text(
                    "SELECT relname, relrowsecurity AND relforcerowsecurity FROM pg_class "
                    "WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace"
                )
            ).all()
        )
        policies = {
            r[0]
            for r in conn.execute(
                text("SELECT tablename FROM pg_policies WHERE schemaname = 'public'")
            ).all()
        }
    for table in [*TENANT_TABLES, "tenants"]:
        assert rls.get(table) is True, f"{table} has no forced row-level security"
        assert table in policies, f"{table} has no policy"


def test_policies_read_the_scope_once_per_query(
    owner_engine: Any, settings: Any, world: World
) -> None:
    """The setting is parsed in an InitPlan, not for every row scanned."""
    with owner_engine.connect() as conn, conn.begin():
        conn.execute(text(f'SET LOCAL ROLE "{settings.db_app_role}"'))
        conn.execute(
            text("SELECT set_config('qrefund.tenant_ids', :t, true)"), {"t": str(world.merchant_a)}
        )
        plan = "\n".join(
            r[0] for r in conn.execute(text("EXPLAIN SELECT count(*) FROM transactions"))
        )
    assert "InitPlan" in plan and "current_setting" not in plan, plan
