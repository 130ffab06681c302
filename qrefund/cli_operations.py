"""Operator commands for running at scale: the Citus plan, tenant backups, retention.

Registered on the main `qrefund` command line by :func:`register` (``qrefund/cli.py``).
"""

from __future__ import annotations

import typer


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


def register(app: typer.Typer) -> None:
    app.command("citus-plan")(citus_plan)
