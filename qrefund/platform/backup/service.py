"""Export a tenant's whole data to an archive, and restore one (README "Backups").

The caller passes the schema's tables (the metadata belongs to the entry points) and
a unit of work whose scope covers the tenants. The export covers the tenant and, for
an agency, its merchants: every row of every tenant table, as stored. The import
restores it into a database that has none of these tenants (an empty one, or another
deployment), in one unit of work: all of it or nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Table

from qrefund.platform.backup.archive import (
    ArchiveReader,
    BackupRefused,
    Manifest,
    TableWriter,
    spool_folder,
    write_archive,
)
from qrefund.platform.backup.codec import decode_row, encode_row, key_ids
from qrefund.platform.backup.repository import BackupRepository
from qrefund.platform.clock import utcnow
from qrefund.platform.db import UnitOfWork
from qrefund.platform.errors import NotFound

INSERT_BATCH = 500


def _by_name(tables: Sequence[Table]) -> dict[str, Table]:
    return {t.name: t for t in tables}


async def export_tenant(uow: UnitOfWork, tables: Sequence[Table], tenant_id: uuid.UUID,
                        out: Path, *, revision: str) -> Manifest:
    """Write the archive of ``tenant_id`` (and its merchants) to ``out``."""
    repo = BackupRepository(uow)
    tenants = _by_name(tables)["tenants"]
    own = await repo.tenant_rows(tenants, [tenant_id], children=True)
    if not any(r["id"] == tenant_id for r in own):
        raise NotFound("tenant not found")
    own.sort(key=lambda r: (r["id"] != tenant_id, r["id"]))  # the parent before its merchants
    ids = sorted(r["id"] for r in own)
    manifest = Manifest(tenant_id=str(tenant_id), tenant_ids=[str(i) for i in ids],
                        schema_revision=revision, created_at=utcnow().isoformat(),
                        ancestors=await _ancestors(repo, tenants, own, tenant_id))
    found_keys: set[str] = set()
    with spool_folder() as folder:
        for table in tables:  # dependency order: parents before the rows naming them
            if table.name != "tenants" and "tenant_id" not in table.c:
                continue  # global bookkeeping (a rollup's watermark): no tenant's data
            writer = TableWriter(Path(folder), table.name)
            if table.name == "tenants":
                rows = [own] if own else []
            else:
                rows = [batch async for batch in repo.stream(table, ids)]
            for batch in rows:
                for row in batch:
                    found_keys |= key_ids(row)
                    writer.write(encode_row(table, row))
            manifest.tables.append(writer.close())
        manifest.key_ids = sorted(found_keys)
        write_archive(out, manifest, Path(folder))
    return manifest


async def _ancestors(repo: BackupRepository, tenants: Table, own: list[dict[str, Any]],
                     tenant_id: uuid.UUID) -> list[dict[str, Any]]:
    """The tenant records above the exported one (its agency, the operator), top first:
    an import creates those the target lacks, so the tree stays whole."""
    chain: list[dict[str, Any]] = []
    parent = next(r for r in own if r["id"] == tenant_id)["parent_id"]
    while parent is not None:
        rows = await repo.tenant_rows(tenants, [parent], children=False)
        if not rows:
            break
        chain.append(encode_row(tenants, rows[0]))
        parent = rows[0]["parent_id"]
    return list(reversed(chain))


async def import_tenant(uow: UnitOfWork, tables: Sequence[Table], archive: Path,
                        *, revision: str) -> Manifest:
    """Restore an archive; refuses a corrupt one, another schema revision, or tenants
    that already exist here."""
    reader = ArchiveReader(archive)
    try:
        manifest = reader.manifest
        if manifest.schema_revision != revision:
            raise BackupRefused(f"the archive is of schema {manifest.schema_revision}, this "
                                f"database is at {revision}: migrate one to the other first")
        reader.verify()
        named = _by_name(tables)
        unknown = [t.name for t in manifest.tables if t.name not in named]
        if unknown:
            raise BackupRefused(f"tables unknown here: {unknown}")
        repo = BackupRepository(uow)
        tenants = named["tenants"]
        ids = [uuid.UUID(i) for i in manifest.tenant_ids]
        if await repo.count(tenants, ids):
            raise BackupRefused("some of the archive's tenants exist here already")
        parents = await _restore_ancestors(repo, tenants, manifest.ancestors)
        for table_file in manifest.tables:
            table = named[table_file.name]
            batch: list[dict[str, Any]] = []
            for data in reader.rows(table_file):
                row = decode_row(table, data)
                _check_tenant(table, row, set(ids))
                if table is tenants and row["parent_id"] in parents:
                    row["parent_id"] = parents[row["parent_id"]]
                batch.append(row)
                if len(batch) >= INSERT_BATCH:
                    await repo.insert(table, batch)
                    batch = []
            if batch:
                await repo.insert(table, batch)
        return manifest
    finally:
        reader.close()


async def _restore_ancestors(repo: BackupRepository, tenants: Table,
                             ancestors: list[dict[str, Any]]) -> dict[uuid.UUID, uuid.UUID]:
    """Create the ancestors this database lacks, top first. Another deployment has an
    operator of its own: the archive's operator is that one here (the returned map
    re-parents the rows that named it), never a second operator."""
    parents: dict[uuid.UUID, uuid.UUID] = {}
    for data in ancestors:
        row = decode_row(tenants, data)
        if await repo.count(tenants, [row["id"]]):
            continue
        if row["kind"] == "OPERATOR" and (here := await repo.operator_id(tenants)):
            parents[row["id"]] = here
            continue
        if row["parent_id"] in parents:
            row["parent_id"] = parents[row["parent_id"]]
        await repo.insert(tenants, [row])
    return parents


def _check_tenant(table: Table, row: dict[str, Any], ids: set[uuid.UUID]) -> None:
    column = "id" if table.name == "tenants" else "tenant_id"
    if row.get(column) not in ids:
        raise BackupRefused(f"{table.name}: a row of a tenant the manifest does not name")
