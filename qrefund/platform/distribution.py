"""How the schema distributes on Citus by ``tenant_id`` (``qrefund citus-plan``).

Every table holding one tenant's rows has a ``tenant_id`` column and becomes a
distributed table, co-located with the others on ``tenant_id``; the few tables without
one are *reference tables* (copied to every node), and each of them is named here with
the reason, so a new table cannot slip into either group by accident. Citus can then
route every statement that names its ``tenant_id`` to one shard, enforce every primary
key, unique constraint and foreign key inside a shard, and join co-located tables
locally, which holds only when ``tenant_id`` is part of each of them: :func:`key_problems`
checks that against the models (and a test checks it against the migrated catalogue).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ForeignKeyConstraint, MetaData, Table, UniqueConstraint

DISTRIBUTION_COLUMN = "tenant_id"

# Tables without tenant_id, copied whole to every Citus node. Why each one is global:
REFERENCE_TABLES: dict[str, str] = {
    "tenants": "the tenant tree itself (operator, agencies, merchants): read by every "
    "request to build its scope, small, and the target of every tenant_id foreign key",
}

# Tables Citus leaves on the coordinator (not application data).
LOCAL_TABLES: dict[str, str] = {
    "alembic_version": "the migration bookkeeping of `qrefund migrate`",
    "stats_rollup_state": "the refund statistics rollup's watermark: one row of job "
    "bookkeeping, no tenant data",
}


@dataclass(frozen=True)
class Plan:
    reference: list[str]  # in dependency order
    distributed: list[str]  # in dependency order; the first is the co-location anchor
    unlisted: list[str]  # tables with no tenant_id that are not listed as reference tables


def plan(metadata: MetaData) -> Plan:
    reference, distributed, unlisted = [], [], []
    for table in metadata.sorted_tables:  # referenced tables come before their referrers
        if DISTRIBUTION_COLUMN in table.c:
            distributed.append(table.name)
        elif table.name in REFERENCE_TABLES:
            reference.append(table.name)
        elif table.name not in LOCAL_TABLES:
            unlisted.append(table.name)
    return Plan(reference=reference, distributed=distributed, unlisted=unlisted)


def key_problems(metadata: MetaData) -> list[str]:
    """Keys of tenant tables that Citus could not enforce per shard (empty: none)."""
    problems: list[str] = []
    for table in metadata.sorted_tables:
        if DISTRIBUTION_COLUMN in table.c:
            problems.extend(_table_problems(table))
    return problems


def _table_problems(table: Table) -> list[str]:
    found = []
    if DISTRIBUTION_COLUMN not in table.primary_key.columns:
        found.append(f"{table.name}: primary key lacks {DISTRIBUTION_COLUMN}")
    uniques = [list(c.columns) for c in table.constraints if isinstance(c, UniqueConstraint)]
    uniques += [list(i.columns) for i in table.indexes if i.unique]
    for columns in uniques:
        if DISTRIBUTION_COLUMN not in {c.name for c in columns}:
            found.append(f"{table.name}: unique {[c.name for c in columns]} lacks "
                         f"{DISTRIBUTION_COLUMN}")
    for fk in table.constraints:
        if not isinstance(fk, ForeignKeyConstraint):
            continue
        target = fk.referred_table
        if target.name in REFERENCE_TABLES:
            continue  # distributed -> reference: allowed by Citus as it is
        pairs = {(e.parent.name, e.column.name) for e in fk.elements}
        if (DISTRIBUTION_COLUMN, DISTRIBUTION_COLUMN) not in pairs:
            found.append(f"{table.name}: foreign key to {target.name} "
                         f"{sorted(p for p, _ in pairs)} lacks {DISTRIBUTION_COLUMN}")
    return found


def citus_statements(metadata: MetaData) -> list[str]:
    """The SQL an operator runs once on a Citus coordinator after ``qrefund migrate``."""
    found = plan(metadata)
    if found.unlisted:
        raise ValueError(f"tables with no {DISTRIBUTION_COLUMN} that are not listed as "
                         f"reference tables: {found.unlisted}")
    lines = [f"SELECT create_reference_table('{name}');" for name in found.reference]
    anchor = found.distributed[0]
    for name in found.distributed:
        colocate = "'none'" if name == anchor else f"'{anchor}'"
        lines.append(f"SELECT create_distributed_table('{name}', '{DISTRIBUTION_COLUMN}', "
                     f"colocate_with => {colocate});")
    return lines
