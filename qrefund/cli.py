"""The `qrefund` command line."""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import select
from sqlmodel import col

from qrefund.platform.config import ConfigurationError, Settings, get_settings

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    help="qrefund: refunds for QR-code payments.",
)


def _settings() -> Settings:
    try:
        return get_settings()
    except ConfigurationError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None


def _logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)


@app.command()
def migrate() -> None:
    """Upgrade the database schema (and, on PostgreSQL, set up the app role)."""
    from qrefund.migrations.runner import migrate as run

    settings = _settings()
    run(settings)
    typer.echo("database is up to date")


async def _is_empty(settings: Settings) -> bool:
    from qrefund.platform.db import Database
    from qrefund.tenants.auth import bootstrap_scope
    from qrefund.tenants.models import Tenant

    db = Database(settings)
    try:
        async with db.unit_of_work(bootstrap_scope(), readonly=True) as uow:
            return (await uow.session.execute(select(col(Tenant.id)).limit(1))).first() is None
    finally:
        await db.dispose()


async def _seed(settings: Settings) -> list[str]:
    from qrefund.demo import seed_demo
    from qrefund.platform.db import Database

    db = Database(settings)
    try:
        return (await seed_demo(db)).lines()
    finally:
        await db.dispose()


@app.command()
def bootstrap() -> None:
    """Create the operator tenant; prints its first ADMIN key alone on the last line."""
    from qrefund.platform.db import Database
    from qrefund.platform.errors import Conflict
    from qrefund.tenants.bootstrap import bootstrap as run

    settings = _settings()

    async def go() -> str:
        db = Database(settings)
        try:
            return (await run(db))[1]
        finally:
            await db.dispose()

    try:
        secret = asyncio.run(go())
    except Conflict as exc:
        typer.echo(exc.message, err=True)
        raise typer.Exit(1) from None
    typer.echo("operator created; its ADMIN key (shown once):")
    typer.echo(secret)


@app.command()
def demo() -> None:
    """Seed an agency, two merchants, keys (printed once) and transactions."""
    settings = _settings()
    if not asyncio.run(_is_empty(settings)):
        typer.echo(
            "the database already has tenants; demo data goes into an empty database", err=True
        )
        raise typer.Exit(1)
    for line in asyncio.run(_seed(settings)):
        typer.echo(line)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address")] = None,
    port: Annotated[int | None, typer.Option(help="Port")] = None,
    workers: Annotated[int, typer.Option(help="API processes")] = 1,
) -> None:
    """Run the API. On the embedded SQLite default it migrates and seeds demo data first."""
    import uvicorn

    settings = _settings()
    _logging(settings)
    if settings.is_sqlite:
        from qrefund.migrations.runner import migrate as run_migrations

        run_migrations(settings)
        if asyncio.run(_is_empty(settings)):
            typer.echo("new database: seeding demo data. API keys (shown once):")
            for line in asyncio.run(_seed(settings)):
                typer.echo(f"  {line}")
    bind_host, bind_port = host or settings.host, port or settings.port
    typer.echo(f"GraphiQL: http://{bind_host}:{bind_port}/graphql")
    uvicorn.run(
        "qrefund.app:create_app",
        factory=True,
        host=bind_host,
        port=bind_port,
        workers=workers,
        log_level=settings.log_level.lower(),
        proxy_headers=True,
    )


@app.command("export-schema")
def export_schema(
    path: Annotated[Path | None, typer.Argument(help="Where to write the SDL")] = None,
) -> None:
    """Write the GraphQL SDL (default: qrefund/graphql_schema/schema.graphql)."""
    from qrefund.graphql_schema.schema import SDL_PATH, print_sdl

    target = path or SDL_PATH
    target.write_text(print_sdl())
    typer.echo(f"wrote {target}")


def main() -> None:
    try:
        app()
    except ConfigurationError as exc:
        typer.echo(str(exc), err=True)
        sys.exit(2)
