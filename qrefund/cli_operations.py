"""Operator commands for running at scale: the Citus plan, tenant backups, retention.

Registered on the main `qrefund` command line by :func:`register` (``qrefund/cli.py``).
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Annotated

import typer

from qrefund.platform.backup.archive import Manifest
from qrefund.platform.config import ConfigurationError, Settings, get_settings

backup_app = typer.Typer(no_args_is_help=True,
                         help="A tenant's whole data as one archive (README \"Backups\").")


def settings_or_exit() -> Settings:
    """The settings, or exit status 2 with the configuration error (for every command)."""
    try:
        return get_settings()
    except ConfigurationError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None


def citus_plan() -> None:
    """Print the create_reference_table / create_distributed_table statements (co-located
    by tenant_id) to run once on a Citus coordinator after `qrefund migrate`."""
    from qrefund.platform.distribution import LOCAL_TABLES, REFERENCE_TABLES, citus_statements
    from qrefund.platform.models import metadata

    typer.echo("-- qrefund on Citus: run on the coordinator after `qrefund migrate`.")
    for name, why in REFERENCE_TABLES.items():
        typer.echo(f"-- reference table {name}: {why}")
    for name, why in LOCAL_TABLES.items():
        typer.echo(f"-- left local: {name} ({why})")
    for line in citus_statements(metadata):
        typer.echo(line)


def schema_head() -> str:
    """The migration revision this code expects (the archive records it)."""
    from alembic.script import ScriptDirectory

    from qrefund.migrations.runner import alembic_config

    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert head is not None
    return head


async def export_tenant(settings: Settings, tenant_id: uuid.UUID, out: Path) -> Manifest:
    from qrefund.jobs.runtime import system_scope
    from qrefund.platform.backup.service import export_tenant as run
    from qrefund.platform.db import Database
    from qrefund.platform.models import metadata

    db = Database(settings, pooled=False)
    try:
        async with db.unit_of_work(system_scope("backup-export"), readonly=True,
                                   snapshot=True) as uow:
            return await run(uow, metadata.sorted_tables, tenant_id, out,
                             revision=schema_head())
    finally:
        await db.dispose()


async def import_tenant(settings: Settings, archive: Path) -> Manifest:
    from qrefund.jobs.runtime import system_scope
    from qrefund.platform.backup.service import import_tenant as run
    from qrefund.platform.db import Database
    from qrefund.platform.models import metadata

    db = Database(settings, pooled=False)
    try:
        async with db.unit_of_work(system_scope("backup-import")) as uow:
            return await run(uow, metadata.sorted_tables, archive, revision=schema_head())
    finally:
        await db.dispose()


@backup_app.command("export")
def backup_export(
    tenant: Annotated[str, typer.Option("--tenant", help="the tenant's id (an agency brings "
                                                         "its merchants)")],
    out: Annotated[Path, typer.Option("--out", help="the .tar file to write")],
) -> None:
    """Write a tenant's every row (ciphertexts as stored) as JSONL per table in a tar,
    with a manifest of row counts, checksums and the encryption key ids needed."""
    from qrefund.platform.errors import DomainError

    settings = settings_or_exit()
    try:
        manifest = asyncio.run(export_tenant(settings, uuid.UUID(tenant), out))
    except (ValueError, DomainError) as exc:
        typer.echo(f"export refused: {exc}", err=True)
        raise typer.Exit(2) from None
    tables = manifest.tables
    typer.echo(f"wrote {sum(t.rows for t in tables)} rows of {len(tables)} tables to {out} "
               f"(key ids: {', '.join(manifest.key_ids) or 'none'})")


@backup_app.command("import")
def backup_import(
    archive: Annotated[Path, typer.Argument(help="a .tar written by `qrefund backup export`")],
) -> None:
    """Restore an archive into a database holding none of its tenants (all or nothing)."""
    from sqlalchemy.exc import IntegrityError

    from qrefund.platform.errors import DomainError

    settings = settings_or_exit()
    try:
        manifest = asyncio.run(import_tenant(settings, archive))
    except (ValueError, DomainError, IntegrityError) as exc:
        typer.echo(f"import refused: {exc}", err=True)
        raise typer.Exit(2) from None
    tables = manifest.tables
    typer.echo(f"restored {sum(t.rows for t in tables)} rows of {len(tables)} tables "
               f"for tenants {', '.join(manifest.tenant_ids)}")


def register(app: typer.Typer) -> None:
    app.command("citus-plan")(citus_plan)
    app.add_typer(backup_app, name="backup")
