"""The `qrefund` command line."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Annotated

import typer
from redis import Redis

from qrefund.cli_operations import register as register_operations
from qrefund.cli_operations import settings_or_exit as _settings
from qrefund.platform.config import ConfigurationError, Settings

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    help="qrefund: refunds for QR-code payments.",
)


def _logging(settings: Settings, *, fresh_metrics: bool = False) -> None:
    """Structured logs (and, when enabled, tracing) for this process; ``fresh_metrics``:
    this process starts a deployment unit (API, worker) whose metrics files start over."""
    from qrefund.observability.metrics import prepare_multiprocess_dir
    from qrefund.observability.process import configure_process

    if fresh_metrics:
        prepare_multiprocess_dir()
    configure_process(settings)


@app.command()
def migrate() -> None:
    """Upgrade the database schema (and, on PostgreSQL, set up the app role)."""
    from qrefund.migrations.runner import migrate as run

    settings = _settings()
    run(settings)
    typer.echo("database is up to date")


async def _is_empty(settings: Settings) -> bool:
    from qrefund.platform.db import Database
    from qrefund.tenants import service as tenants
    from qrefund.tenants.auth import bootstrap_scope

    db = Database(settings)
    try:
        async with db.unit_of_work(bootstrap_scope(), readonly=True) as uow:
            return not await tenants.any_tenant(uow)
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
    _logging(settings, fresh_metrics=True)
    if not settings.redis_url and workers > 1:
        # The embedded job runtime's queues live in one process's memory.
        typer.echo("--workers > 1 needs QREFUND_REDIS_URL (the embedded job runtime runs in one "
                   "process); run `qrefund worker` against a Redis server", err=True)
        raise typer.Exit(2)
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
        log_config=None,  # uvicorn's records go through our structured, redacting handler
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


@app.command("export-events")
def export_events(
    directory: Annotated[Path | None, typer.Argument(help="Where to write (default: docs/)")
                         ] = None,
) -> None:
    """Write the event catalogue: docs/events.md and docs/event-schemas.json."""
    from qrefund.platform.events import docs

    for path in docs.write(directory or docs.DOCS):
        typer.echo(f"wrote {path}")


# -- jobs: workers, the scheduler, failed jobs (see README "Jobs and workers") ----------

jobs_app = typer.Typer(no_args_is_help=True, help="Inspect and requeue failed jobs.")
app.add_typer(jobs_app, name="jobs")


def _job_redis(settings: Settings) -> Redis:
    from qrefund.jobs import runtime

    if not settings.redis_url:
        typer.echo("QREFUND_REDIS_URL is not set: the embedded job runtime runs inside "
                   "`qrefund serve`", err=True)
        raise typer.Exit(2)
    runtime.configure(settings=settings)
    return runtime.redis()


@app.command()
def worker(
    queues: Annotated[list[str] | None, typer.Option(
        "--queues", "--queue", "-q",
        help="Queues to serve, in priority order: comma-separated or repeated "
             "(-q payouts -q relay); default: relay,payouts,notifications,maintenance")] = None,
    burst: Annotated[bool, typer.Option(help="Quit when the queues are empty")] = False,
    simple: Annotated[bool, typer.Option(
        help="Run jobs in the worker process instead of a forked work horse")] = False,
    name: Annotated[str | None, typer.Option(help="Worker name (unique)")] = None,
) -> None:
    """Run an RQ worker (any number, on any machine) against QREFUND_REDIS_URL.

    It takes the next job from the first queue in its list that has one: by default
    the relay, then payouts, notifications, maintenance. Dedicated payout workers
    (``--queues payouts``) keep payouts moving whatever else is queued.
    """
    from qrefund.jobs.monitoring import serve_worker_metrics
    from qrefund.jobs.registry import QUEUES, load_handlers
    from qrefund.jobs.relay import install_nudge
    from qrefund.jobs.worker import WORKER_QUEUES, QrefundSimpleWorker, QrefundWorker

    settings = _settings()
    conn = _job_redis(settings)
    _logging(settings, fresh_metrics=True)
    if settings.worker_metrics_port:
        serve_worker_metrics(settings.worker_metrics_port)
    chosen = [q.strip() for value in queues or WORKER_QUEUES for q in value.split(",")
              if q.strip()]
    unknown = [q for q in chosen if q not in QUEUES]
    if unknown:
        typer.echo(f"unknown queue(s): {', '.join(unknown)}; known: {', '.join(QUEUES)}", err=True)
        raise typer.Exit(2)
    load_handlers()
    install_nudge()  # jobs that commit events wake the relay too
    cls = QrefundSimpleWorker if simple else QrefundWorker
    cls(chosen, connection=conn, name=name).work(
        burst=burst, with_scheduler=True, logging_level=settings.log_level)


@app.command()
def scheduler() -> None:
    """Enqueue the periodic jobs (relay catch-up, deadline sweep, payout polls).

    Run one per deployment; a second one is harmless (runs are claimed per
    interval in Redis, so nothing is enqueued twice) and takes over if the first dies.
    """
    from qrefund.jobs.scheduler import build_scheduler

    settings = _settings()
    conn = _job_redis(settings)
    _logging(settings)
    build_scheduler(conn, settings).start()


@jobs_app.command("failed")
def jobs_failed(
    queue: Annotated[list[str] | None, typer.Option("--queue", "-q")] = None,
) -> None:
    """List failed jobs: id, queue, time, function, tenant, case, last error line."""
    from qrefund.jobs.operations import failed_jobs
    from qrefund.jobs.registry import QUEUES

    found = failed_jobs(_job_redis(_settings()), queue or QUEUES)
    for job in found:
        typer.echo(job.line())
    typer.echo(f"{len(found)} failed job(s)", err=True)


@jobs_app.command("requeue")
def jobs_requeue(
    job_ids: Annotated[list[str] | None, typer.Argument(help="Failed job ids")] = None,
    all_jobs: Annotated[bool, typer.Option("--all", help="Every failed job")] = False,
    queue: Annotated[list[str] | None, typer.Option("--queue", "-q")] = None,
) -> None:
    """Put failed jobs back on their queues (safe: jobs are idempotent)."""
    from qrefund.jobs.operations import requeue
    from qrefund.jobs.registry import QUEUES

    if not job_ids and not all_jobs:
        typer.echo("name job ids or pass --all", err=True)
        raise typer.Exit(2)
    done = requeue(_job_redis(_settings()), None if all_jobs else job_ids, queue or QUEUES)
    for job_id in done:
        typer.echo(job_id)
    missing = set(job_ids or []) - set(done)
    typer.echo(f"{len(done)} job(s) requeued", err=True)
    if missing:
        typer.echo(f"not in the failed registry: {', '.join(sorted(missing))}", err=True)
        raise typer.Exit(1)


# -- export: the operator's files (see README "Exports and imports") ---------------------

export_app = typer.Typer(no_args_is_help=True,
                         help="Write refund cases or transactions of a period to a file.")
app.add_typer(export_app, name="export")

Merchants = Annotated[list[str], typer.Option("--merchant", help="merchant id (repeatable)")]
Start = Annotated[str, typer.Option("--from", help="ISO 8601 with offset, inclusive")]
End = Annotated[str, typer.Option("--to", help="ISO 8601 with offset, exclusive")]
Format = Annotated[str, typer.Option("--format", help="csv or jsonl")]
Out = Annotated[Path, typer.Option("--out", help="the file to write")]
Statuses = Annotated[list[str] | None, typer.Option("--status", help="filter (repeatable)")]


def _export(kind: str, merchants: list[str], start: str, end: str, fmt: str, out: Path,
            statuses: list[str] | None) -> None:
    import uuid
    from datetime import datetime

    from qrefund.jobs.exports import operator_export
    from qrefund.platform.errors import DomainError
    from qrefund.platform.exports.models import ExportFormat, ExportKind

    settings = _settings()
    try:
        ids = [uuid.UUID(m) for m in merchants]
        period = [datetime.fromisoformat(v) for v in (start, end)]
        if not ids or any(p.tzinfo is None for p in period):
            raise ValueError("name --merchant, and --from/--to with a UTC offset")
        rows, size = operator_export(
            settings, ExportKind(kind), ExportFormat(fmt.upper()), ids, period[0], period[1],
            {"statuses": [s.upper() for s in statuses]} if statuses else {}, out)
    except (ValueError, DomainError) as exc:
        typer.echo(f"export refused: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"wrote {rows} rows ({size} bytes) to {out}")


@export_app.command("refund-cases")
def export_refund_cases(merchant: Merchants, start: Start, end: End, out: Out,
                        fmt: Format = "csv", status: Statuses = None) -> None:
    """Refund cases created in [from, to) of the merchants named."""
    _export("REFUND_CASES", merchant, start, end, fmt, out, status)


@export_app.command("transactions")
def export_transactions(merchant: Merchants, start: Start, end: End, out: Out,
                        fmt: Format = "csv", status: Statuses = None) -> None:
    """Transactions paid in [from, to) of the merchants named."""
    _export("TRANSACTIONS", merchant, start, end, fmt, out, status)


@app.command("import-transactions")
def import_transactions(
    source: Annotated[Path, typer.Argument(help="a CSV (header row) or JSONL file")],
    merchant: Annotated[str, typer.Option("--merchant", help="the merchant's id")],
    fmt: Annotated[str, typer.Option("--format", help="csv or jsonl (default: by suffix)")] = "",
    report: Annotated[Path | None, typer.Option("--report", help="error report CSV")] = None,
) -> None:
    """Record a reconciliation file's transactions (idempotent per order number); row
    errors go to the report (default: FILE.errors.csv), the other rows land."""
    import uuid

    from qrefund.jobs.imports import operator_import
    from qrefund.platform.imports.reader import FileRefused

    settings = _settings()
    kind = (fmt or ("jsonl" if source.suffix.lower() in (".jsonl", ".ndjson") else "csv"))
    out = report or source.with_name(source.name + ".errors.csv")
    try:
        merchant_id = uuid.UUID(merchant)
        if kind.upper() not in ("CSV", "JSONL"):
            raise ValueError("--format is csv or jsonl")
        result = operator_import(settings, merchant_id, source, kind.upper(), out)
    except (ValueError, OSError, FileRefused) as exc:
        typer.echo(f"import refused: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"{result.rows} rows: {result.recorded} recorded, {result.failed} refused "
               f"(report: {out})")


register_operations(app)


def main() -> None:
    from qrefund.platform import risk

    risk.install()  # imports and jobs run from the CLI record payments too
    try:
        app()
    except ConfigurationError as exc:
        typer.echo(str(exc), err=True)
        sys.exit(2)
