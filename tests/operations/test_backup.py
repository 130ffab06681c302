"""`qrefund backup export` / `import`: a tenant's whole data, round-tripped.

The fuzz suite's world (payments with encrypted payer accounts, refund cases and
their payouts, complaints, webhooks and their deliveries, notifications, exports,
policies, channel accounts, keys) is exported for the agency (with its merchants),
imported into a fresh database, and then every row and the API's answers to the
same queries, asked with the same keys, are equal.
"""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis import Redis
from sqlalchemy import create_engine, select
from sqlalchemy.engine import Engine
from sqlalchemy.pool import NullPool
from typer.testing import CliRunner

from qrefund.app import create_app
from qrefund.cli import app as cli_app
from qrefund.cli_operations import export_tenant, import_tenant
from qrefund.migrations.runner import migrate
from qrefund.platform.backup.archive import BackupRefused
from qrefund.platform.config import Settings
from qrefund.platform.db import Database, async_url, sync_url
from qrefund.platform.models import metadata
from qrefund.tenants.bootstrap import bootstrap
from tests.foundation.helpers import record_txn
from tests.fuzz.world import FuzzWorld, build_fuzz_world
from tests.support.graphql import gql, ok
from tests.support.migrations import scratch_database
from tests.support.world import World

QUERIES = [
    """{ viewer { role tenant { id name } }
         merchants(first: 10) { edges { node { id name } } } }""",
    """{ transactions(first: 50) { totalCount edges { cursor node { id merchantOrderNo
         payerAccountMasked receiptToken amount { amount currency }
         refundedAmount { amount } refundCases { id status } } } } }""",
    """{ refundCases(first: 50) { edges { node { id caseNumber status reviewDueAt
         requestedAmount { amount } approvedAmount { amount }
         events { type } transaction { id } } } } }""",
    """{ complaintTickets(first: 50) { edges { node { id ticketNumber status description
         messages { body internal } } } } }""",
    """{ webhookEndpoints(first: 10) { edges { node { id url eventTypes } } } }""",
    """{ events(first: 100) { edges { node { cursor type subjectId snapshot } } } }""",
]


@pytest.fixture
async def fuzz_world(client: httpx.AsyncClient, world: World, settings: Settings,
                     redis_conn: Redis) -> FuzzWorld:
    return await build_fuzz_world(client, world, settings, redis_conn)


@pytest.fixture
async def target(settings: Settings, tmp_path: Path) -> AsyncIterator[Settings]:
    url = scratch_database(tmp_path, "restore")
    restored = settings.model_copy(update={"database_url": async_url(url)})
    migrate(restored)
    yield restored


def _rows(engine: Engine, tenants: set[Any]) -> dict[str, list[tuple[Any, ...]]]:
    found = {}
    with engine.connect() as conn:
        for table in metadata.sorted_tables:
            if table.name != "tenants" and "tenant_id" not in table.c:
                continue  # global bookkeeping, no tenant's rows
            column = table.c.id if table.name == "tenants" else table.c.tenant_id
            stmt = select(table).where(column.in_(tenants)).order_by(*table.primary_key)
            found[table.name] = [tuple(r) for r in conn.execute(stmt)]
    return found


async def _answers(app: Any, keys: list[str]) -> list[Any]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        return [await gql(c, q, key=k) for k in keys for q in QUERIES]


async def test_export_then_import_into_a_fresh_database_gives_equal_rows_and_answers(
    fuzz_world: FuzzWorld, settings: Settings, app: Any, owner_engine: Engine,
    target: Settings, tmp_path: Path,
) -> None:
    world = fuzz_world.world
    archive = tmp_path / "agency.tar"
    # Given the agency's archive (its merchants A and B with it)
    manifest = await export_tenant(settings, world.agency_id, archive)
    subtree = {world.agency_id, world.merchant_a, world.merchant_b}
    assert set(manifest.tenant_ids) == {str(t) for t in subtree}
    assert manifest.key_ids == ["test"]  # the payer accounts' ciphertexts, kept as such
    # Every table holding tenant data (global bookkeeping such as a rollup's watermark
    # belongs to no tenant)
    assert {t.name for t in manifest.tables} == {
        name for name, table in metadata.tables.items()
        if name == "tenants" or "tenant_id" in table.c}
    # When it is imported into an empty database
    await import_tenant(target, archive)
    # Then every row of the subtree is equal, and nothing of other tenants came along
    restored_engine = create_engine(sync_url(target.database_url), poolclass=NullPool)
    try:
        source, restored = _rows(owner_engine, subtree), _rows(restored_engine, subtree)
        assert sum(len(v) for v in source.values()) > 100
        assert source["transactions"] and source["payouts"] and source["webhook_deliveries"]
        assert restored == source
        others = _rows(restored_engine, {world.merchant_c, world.other_agency_id})
        assert not any(others.values())
    finally:
        restored_engine.dispose()
    # And the API answers the same keys the same way
    db = Database(target)
    try:
        keys = [world.key("agency"), world.key("a"), world.key("b")]
        assert await _answers(create_app(target, db), keys) == await _answers(app, keys)
    finally:
        await db.dispose()


async def test_an_archive_is_refused_when_corrupt_or_its_tenants_exist(
    world: World, settings: Settings, target: Settings, tmp_path: Path,
) -> None:
    archive = tmp_path / "a.tar"
    await export_tenant(settings, world.merchant_a, archive)
    # A second import of the same tenants is refused (nothing is overwritten)
    await import_tenant(target, archive)
    with pytest.raises(BackupRefused, match="exist here already"):
        await import_tenant(target, archive)
    # A file changed after the export fails its checksum
    tampered = tmp_path / "tampered.tar"
    with tarfile.open(archive) as src, tarfile.open(tampered, "w") as out:
        for member in src.getmembers():
            body = src.extractfile(member).read()  # type: ignore[union-attr]
            if member.name == "tables/api_keys.jsonl":
                body = body.replace(b'"ADMIN"', b'"VIEWER"', 1)
            member.size = len(body)
            out.addfile(member, io.BytesIO(body))
    with pytest.raises(BackupRefused, match="checksum"):
        await import_tenant(target, tampered)
    # An archive of another schema revision is refused before anything is read
    other = tmp_path / "other.tar"
    with tarfile.open(archive) as src, tarfile.open(other, "w") as out:
        for member in src.getmembers():
            body = src.extractfile(member).read()  # type: ignore[union-attr]
            if member.name == "manifest.json":
                manifest = json.loads(body)
                manifest["schema_revision"] = "0001"
                body = json.dumps(manifest).encode()
            member.size = len(body)
            out.addfile(member, io.BytesIO(body))
    with pytest.raises(BackupRefused, match="schema 0001"):
        await import_tenant(target, other)


async def test_an_import_into_another_deployment_joins_its_operator(
    client: httpx.AsyncClient, world: World, settings: Settings, target: Settings,
    tmp_path: Path,
) -> None:
    # Given merchant A's archive (its agency and the operator are ancestors) and another
    # deployment that was bootstrapped (an operator of its own, the same slug)
    txn = await record_txn(client, world.key("a"))
    archive = tmp_path / "a.tar"
    await export_tenant(settings, world.merchant_a, archive)
    db = Database(target)
    try:
        operator, _key = await bootstrap(db)
        # When it is imported there
        await import_tenant(target, archive)
        # Then the agency hangs under that deployment's operator, and A's key reads A's
        # payment there
        restored = create_app(target, db)
        transport = httpx.ASGITransport(app=restored)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as other:
            data = await ok(other, "query($id: ID!) { node(id: $id) { id } }",
                            {"id": txn["id"]}, key=world.key("a"))
        assert data["node"] == {"id": txn["id"]}
    finally:
        await db.dispose()
    engine = create_engine(sync_url(target.database_url), poolclass=NullPool)
    try:
        with engine.connect() as conn:
            tenants = metadata.tables["tenants"]
            rows = dict(conn.execute(select(tenants.c.id, tenants.c.parent_id)).all())
    finally:
        engine.dispose()
    assert rows == {operator.id: None, world.agency_id: operator.id,
                    world.merchant_a: world.agency_id}


def test_the_backup_commands_refuse_bad_input(tmp_path: Path) -> None:
    runner = CliRunner()
    bad = runner.invoke(cli_app, ["backup", "export", "--tenant", "nope", "--out",
                                  str(tmp_path / "x.tar")])
    assert bad.exit_code == 2 and "export refused" in bad.output
    junk = tmp_path / "junk.tar"
    junk.write_bytes(b"not a tar")
    refused = runner.invoke(cli_app, ["backup", "import", str(junk)])
    assert refused.exit_code == 2 and "import refused" in refused.output
