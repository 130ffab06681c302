"""Exports end to end: asked for over HTTP, written by a real RQ worker, downloaded by
the signed link; content, progress, scope and refusals."""

from __future__ import annotations

import csv
import io
import json
import uuid
from datetime import timedelta

from sqlalchemy import func, select

from qrefund.graphql_schema import ids
from qrefund.graphql_schema.exports.types import download_link
from qrefund.jobs import runtime
from qrefund.platform.clock import utcnow
from qrefund.platform.exports.files import BOM
from qrefund.platform.exports.models import Export
from qrefund.platform.exports.rows import TRANSACTION_COLUMNS
from tests.exports.helpers import (
    EXPORT_CASES,
    EXPORT_QUERY,
    EXPORT_TXNS,
    ask,
    download,
    finished,
    merchant,
    payment,
    period,
    raw_errors,
    refunded,
)
from tests.support.graphql import gql, ok
from tests.support.raw import unchecked


async def _exports_written(db) -> int:
    async with db.unit_of_work(runtime.system_scope("test"), readonly=True) as uow:
        return int((await unchecked(uow).execute(select(func.count()).select_from(Export)))
                   .scalar_one())


async def test_csv_of_transactions_has_bom_header_rows_amounts_and_masking(
        client, db, world, workers):
    txn = await payment(db, world, amount="100.00", payer="6222021234567890123",
                        order_no="-42.1")
    await refunded(db, world, txn, "12.50")
    await payment(db, world, amount="8.00")
    await payment(db, world, "b", amount="3.00")
    await payment(db, world, "c", amount="500", currency="JPY")  # another tenant: not in it
    key = world.key("agency")
    asked = await ask(client, key)
    assert asked["userErrors"] == [] and asked["export"]["status"] == "PENDING"
    done = await finished(client, workers, key, asked["export"]["id"])
    assert done["status"] == "SUCCEEDED"
    assert done["rowsDone"] == done["rowsTotal"] == 3
    response = await download(client, done["downloadUrl"])
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.content.startswith(BOM.encode())
    assert len(response.content) == done["sizeBytes"]
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert tuple(rows[0]) == TRANSACTION_COLUMNS
    assert len(rows) == 4
    table = [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]
    partly = next(r for r in table if r["transaction_id"] == str(txn.id))
    assert (partly["amount"], partly["refunded_amount"], partly["currency"]) == (
        "100.00", "12.50", "CNY")
    assert partly["merchant_order_no"] == "'-42.1"  # never run as a formula
    assert "6222021234567890123" not in response.text
    assert partly["payer_masked"] and partly["payer_masked"].endswith("0123")
    assert partly["paid_at"].endswith("+00:00")
    assert {r["merchant_id"] for r in table} == {str(world.merchant_a), str(world.merchant_b)}


async def test_jsonl_of_refund_cases_one_object_per_line(client, db, world, workers):
    txn = await payment(db, world, amount="50.00")
    await refunded(db, world, txn, "7.25")
    key = world.key("a", "VIEWER")
    asked = await ask(client, key, EXPORT_CASES, format="JSONL",
                      filter={"statuses": ["REFUNDED"]})
    done = await finished(client, workers, key, asked["export"]["id"])
    assert done["status"] == "SUCCEEDED" and done["rowsDone"] == 1
    response = await download(client, done["downloadUrl"])
    lines = response.content.decode().splitlines()
    assert len(lines) == 1
    row = json.loads(lines[0])
    assert row["requested_amount"] == "7.25" and row["status"] == "REFUNDED"
    assert row["merchant_order_no"] == txn.merchant_order_no
    # A filter that matches nothing: an empty file, still a success.
    none = await ask(client, key, EXPORT_CASES, format="JSONL",
                     filter={"statuses": ["REJECTED"]})
    empty = await finished(client, workers, key, none["export"]["id"])
    assert empty["status"] == "SUCCEEDED" and empty["rowsTotal"] == 0
    assert (await download(client, empty["downloadUrl"])).content == b""


async def test_tampered_expired_and_foreign_links_are_not_found(client, db, world, workers,
                                                                settings):
    await payment(db, world)
    key = world.key("a")
    asked = await ask(client, key)
    done = await finished(client, workers, key, asked["export"]["id"])
    url = done["downloadUrl"]
    assert (await download(client, url)).status_code == 200
    # A character inside the MAC (the last one may only carry base64 padding bits).
    at = len(url) - 6
    tampered = url[:at] + ("A" if url[at] != "A" else "B") + url[at + 1:]
    assert (await download(client, tampered)).status_code == 404
    async with db.unit_of_work(runtime.system_scope("test"), readonly=True) as uow:
        record = (await unchecked(uow).execute(select(Export))).scalars().one()
        tenant, export_id = record.tenant_id, record.id
    base = settings.public_base_url
    expired, _ = download_link(tenant, export_id, base, utcnow() - timedelta(hours=2))
    assert (await download(client, expired)).status_code == 404
    # A genuine signature for another tenant naming this export: not found.
    foreign, _ = download_link(world.merchant_b, export_id, base, utcnow())
    assert (await download(client, foreign)).status_code == 404
    assert (await download(client, "http://x/exports/not-a-link")).status_code == 404


async def test_another_tenants_merchant_or_export_is_not_found(client, db, world, workers):
    key = world.key("agency")
    refused = await ask(client, key, merchantIds=[merchant(world, "c")])
    assert refused["export"] is None
    assert [e["code"] for e in refused["userErrors"]] == ["NOT_FOUND"]
    assert await _exports_written(db) == 0
    mine = await ask(client, key, merchantIds=[merchant(world, "a")])
    export_id = mine["export"]["id"]
    for other in (world.key("other_agency"), world.key("c"), world.key("a")):
        assert (await ok(client, EXPORT_QUERY, {"id": export_id}, key=other))["export"] is None
    node = await ok(client, "query($id: ID!) { node(id: $id) { id } }", {"id": export_id},
                    key=key)
    assert node["node"] == {"id": export_id}


async def test_bad_periods_and_formats_are_refused_with_nothing_written(client, db, world):
    key = world.key("a")
    now = utcnow()
    backwards = await ask(client, key, **{"from": now.isoformat(),
                                          "to": (now - timedelta(days=1)).isoformat()})
    assert [e["code"] for e in backwards["userErrors"]] == ["INVALID_PERIOD"]
    too_long = await ask(client, key, **{"from": (now - timedelta(days=400)).isoformat(),
                                         "to": now.isoformat()})
    assert [e["code"] for e in too_long["userErrors"]] == ["PERIOD_TOO_LONG"]
    unknown = await raw_errors(client, key, {"format": "XLSX", **period()})
    assert unknown.get("errors") and not unknown.get("data")
    naive = await raw_errors(client, key, {"format": "CSV", "from": "2026-01-01T00:00:00",
                                           "to": "2026-01-02T00:00:00"})
    assert naive.get("errors") or naive["data"]["exportTransactions"]["userErrors"]
    operator = await ask(client, world.key("operator"))
    assert [e["code"] for e in operator["userErrors"]] == ["MERCHANT_REQUIRED"]
    assert await _exports_written(db) == 0


async def test_oversized_lists_and_anonymous_callers_are_refused(client, db, world):
    many = [ids.encode("Tenant", uuid.uuid4()) for _ in range(1001)]
    body = await raw_errors(client, world.key("agency"),
                            {"format": "CSV", "merchantIds": many, **period()})
    payload = (body.get("data") or {}).get("exportTransactions")
    codes = ([e["code"] for e in payload["userErrors"]] if payload
             else [e.get("extensions", {}).get("code") for e in body["errors"]])
    assert codes == ["TOO_MANY"], body
    anonymous = await gql(client, EXPORT_TXNS, {"input": {"format": "CSV", **period()}},
                          expect_status=401)
    assert [e["extensions"]["code"] for e in anonymous["errors"]] == ["UNAUTHENTICATED"]
    assert await _exports_written(db) == 0


async def test_a_replayed_job_leaves_a_finished_export_alone(client, db, world, workers):
    from qrefund.jobs.exports import run_export

    await payment(db, world)
    key = world.key("a")
    asked = await ask(client, key)
    done = await finished(client, workers, key, asked["export"]["id"])
    tenant, export_id = ids.scoped_id(asked["export"]["id"], "Export")
    assert await run_export(str(tenant), str(export_id)) == {"status": "done before"}
    again = await ok(client, EXPORT_QUERY, {"id": asked["export"]["id"]}, key=key)
    assert again["export"]["sizeBytes"] == done["sizeBytes"]
