"""The schema distributes on Citus by tenant_id without change (README "Scaling out").

* every primary key, unique constraint and foreign key of a tenant table includes
  ``tenant_id``, in the models and in the migrated PostgreSQL catalogue;
* the tables without ``tenant_id`` are exactly the listed reference (and local) tables;
* every statement the API sends on behalf of a tenant-scoped caller names the
  ``tenant_id`` of every tenant table it touches: checked by capturing the SQL of every
  query and mutation of the cross-tenant table (the victim's own flows building its
  data, then the attacker's call) and parsing each statement;
* ``qrefund citus-plan`` prints a statement for every table, reference tables first.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from qrefund.cli import app as cli_app
from qrefund.platform.db import Database
from qrefund.platform.distribution import (
    LOCAL_TABLES,
    REFERENCE_TABLES,
    citus_statements,
    key_problems,
    plan,
)
from qrefund.platform.models import metadata
from tests.conftest import BACKEND
from tests.foundation.cross_tenant import Case, Victim, tenant_of
from tests.foundation.test_cross_tenant import CASES
from tests.support.graphql import gql
from tests.support.sql_audit import capture_sql, unfiltered
from tests.support.world import World

TENANT_TABLES = {t.name for t in metadata.sorted_tables if "tenant_id" in t.c}


def test_every_key_of_a_tenant_table_includes_tenant_id() -> None:
    assert key_problems(metadata) == []


def test_the_tables_without_tenant_id_are_the_listed_reference_tables() -> None:
    found = plan(metadata)
    assert found.unlisted == []
    assert set(found.reference) == set(REFERENCE_TABLES)
    assert set(found.distributed) == TENANT_TABLES


def test_the_key_check_catches_a_table_keyed_the_old_way() -> None:
    from sqlalchemy import Column, ForeignKeyConstraint, MetaData, Table, Uuid

    old = MetaData()
    Table("parents", old, Column("tenant_id", Uuid, primary_key=True),
          Column("id", Uuid, primary_key=True))
    Table("children", old, Column("id", Uuid, primary_key=True),
          Column("tenant_id", Uuid), Column("parent_id", Uuid, unique=True),
          ForeignKeyConstraint(["parent_id"], ["parents.id"]))
    assert sorted(key_problems(old)) == [
        "children: foreign key to parents ['parent_id'] lacks tenant_id",
        "children: primary key lacks tenant_id",
        "children: unique ['parent_id'] lacks tenant_id",
    ]


@pytest.mark.postgres_only
def test_the_migrated_catalogue_keys_every_tenant_table_by_tenant_id(owner_engine: Any) -> None:
    # Given the schema as `qrefund migrate` built it (indexes and constraints that only
    # a migration declares included)
    with owner_engine.connect() as conn:
        columns = conn.execute(text(
            "SELECT table_name FROM information_schema.columns "
            "WHERE table_schema = 'public' AND column_name = 'tenant_id'")).scalars().all()
        tables = conn.execute(text(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).scalars().all()
        keys = conn.execute(text(
            """SELECT c.relname, i.indexrelid::regclass::text, bool_or(a.attname = 'tenant_id')
               FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
               JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
               JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = ANY(i.indkey)
               WHERE i.indisunique GROUP BY 1, 2""")).all()
        foreign = conn.execute(text(
            """SELECT c.relname, k.conname, f.relname,
                      bool_or(a.attname = 'tenant_id')
               FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
               JOIN pg_class f ON f.oid = k.confrelid
               JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = ANY(k.conkey)
               WHERE k.contype = 'f' GROUP BY 1, 2, 3""")).all()
    tenant = set(columns)
    # Then the tenant tables are the models' tenant tables, the rest is listed
    assert tenant == TENANT_TABLES
    assert set(tables) - tenant == set(REFERENCE_TABLES) | set(LOCAL_TABLES)
    # And every unique index (primary keys included) and every foreign key between
    # distributed tables includes tenant_id
    assert [k for k in keys if k[0] in tenant and not k[2]] == []
    assert [f for f in foreign
            if f[0] in tenant and f[2] not in REFERENCE_TABLES and not f[3]] == []


def test_the_filter_check_tells_a_scoped_statement_from_an_unscoped_one() -> None:
    tables = {"transactions", "refund_cases"}
    dialect = "postgres"
    assert unfiltered("SELECT * FROM transactions WHERE transactions.tenant_id IN "
                      "(%(a)s, %(b)s) AND id = %(c)s", tables, dialect) == []
    assert unfiltered("SELECT * FROM transactions WHERE receipt_token = %(a)s",
                      tables, dialect) == ["transactions"]
    assert unfiltered(
        "SELECT r.id FROM refund_cases AS r JOIN transactions AS t ON t.id = r.transaction_id"
        " WHERE r.tenant_id = %(a)s", tables, dialect) == ["transactions"]
    assert unfiltered(
        "SELECT r.id FROM refund_cases AS r JOIN transactions AS t ON t.tenant_id = "
        "r.tenant_id AND t.id = r.transaction_id WHERE r.tenant_id = %(a)s",
        tables, dialect) == []
    assert unfiltered("INSERT INTO transactions (id, amount) VALUES (%(a)s, %(b)s)",
                      tables, dialect) == ["transactions (insert without tenant_id)"]
    assert unfiltered("UPDATE refund_cases SET status = ? WHERE id = ?",
                      tables, "sqlite") == ["refund_cases"]


def test_citus_plan_prints_a_statement_for_every_table() -> None:
    result = CliRunner().invoke(cli_app, ["citus-plan"])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("SELECT")]
    assert lines == citus_statements(metadata)
    assert lines[0] == "SELECT create_reference_table('tenants');"
    distributed = [line for line in lines if "create_distributed_table" in line]
    assert len(distributed) == len(TENANT_TABLES)
    assert all("'tenant_id'" in line for line in distributed)
    # co-located: one anchor, every other table colocated with it
    assert sum("colocate_with => 'none'" in line for line in distributed) == 1


# -- every statement of every query and mutation -------------------------------------------

RUNS = [(case, *case.pairs[0]) for case in CASES]


@pytest.mark.parametrize(("case", "attacker", "victim"), RUNS,
                         ids=[f"{c.label}" for c, _a, _v in RUNS])
async def test_every_statement_of_a_tenant_caller_names_its_tenant(
    client: httpx.AsyncClient, world: World, db: Database, case: Case, attacker: str,
    victim: str,
) -> None:
    # Given the victim building its data through the API and the attacker's call
    engines = {db.write_engine.sync_engine, db.read_engine.sync_engine}
    target = Victim(client=client, world=world, name=victim,
                    tenant_id=tenant_of(world, victim), key=world.key(victim))
    with capture_sql(*engines) as captured:
        variables = await case.variables(target)
        await gql(client, case.document, variables, key=world.key(attacker))
    # Then every statement sent in a tenant-scoped unit names its tenants' ids
    dialect = "sqlite" if BACKEND == "sqlite" else "postgres"
    scoped = [s.sql for s in captured.statements if not s.all_tenants]
    assert scoped, "nothing was captured"
    offenders = {sql: missing for sql in scoped
                 if (missing := unfiltered(sql, TENANT_TABLES, dialect))}
    assert offenders == {}
