"""importTransactions end to end: uploaded over HTTP as a GraphQL multipart request,
recorded by a real RQ worker, followed by transactionImport(id), the error report
downloaded by its signed link; refusals of every kind."""

from __future__ import annotations

import csv
import io
import json
import uuid
from datetime import timedelta
from urllib.parse import urlsplit

import httpx
from rq.job import Job
from sqlalchemy import func, select

from qrefund.app import create_app
from qrefund.graphql_schema import ids
from qrefund.graphql_schema.imports.types import report_link
from qrefund.jobs import runtime
from qrefund.jobs.imports import IMPORT_TIMEOUT
from qrefund.platform.clock import utcnow
from qrefund.platform.imports.models import TransactionImport
from qrefund.platform.outbox.models import DomainEvent
from qrefund.platform.transactions.models import Transaction
from tests.foundation.helpers import row_counts
from tests.foundation.test_merchant_lifecycle import life
from tests.foundation.test_merchant_lifecycle import merchant as merchant_gid
from tests.imports.helpers import (
    HEADER,
    IMPORT_QUERY,
    IMPORTS_LIST,
    finished,
    imported,
    row,
    upload,
)
from tests.support.graphql import ok
from tests.support.raw import unchecked


async def _count(db, model, *where) -> int:
    async with db.unit_of_work(runtime.system_scope("test"), readonly=True) as uow:
        stmt = select(func.count()).select_from(model).where(*where)
        return int((await unchecked(uow).execute(stmt)).scalar_one())


def _report(response: httpx.Response) -> list[tuple[str, str, str]]:
    text = response.content.decode("utf-8-sig")
    return [(r["row"], r["field"], r["code"]) for r in csv.DictReader(io.StringIO(text))]


async def test_a_csv_is_recorded_in_the_background_with_progress_and_an_error_report(
        client, db, world, workers):
    content = (HEADER + row(1) + row(2, "3.00", "ALIPAY") + row(1, "99.00")
               + row(3, channel="PAYPAL") + row(4, "-1") + row(5, status="PENDING")
               + row(5, status="SUCCEEDED")).encode()
    key = world.key("agency")
    asked = await imported(client, key, content, merchantId=merchant_gid(world, "a"))
    assert asked["userErrors"] == []
    started = asked["transactionImport"]
    assert (started["status"], started["format"], started["fileName"]) == (
        "PENDING", "CSV", "txns.csv")
    assert (started["rowsTotal"], started["sizeBytes"]) == (7, len(content))
    assert started["errorReportUrl"] is None

    done = await finished(client, workers, key, started["id"])
    assert done["status"] == "SUCCEEDED" and done["error"] is None
    _, import_id = ids.decode(started["id"], "TransactionImport")
    job = Job.fetch(f"import-{world.merchant_a}-{import_id}", connection=workers.redis)
    assert job.timeout == IMPORT_TIMEOUT  # a million rows outlast the common timeout
    assert (done["rowsTotal"], done["rowsDone"], done["rowsRecorded"], done["rowsFailed"]) == (
        7, 7, 4, 3)
    report = await client.get(urlsplit(done["errorReportUrl"]).path)
    assert report.status_code == 200 and report.headers["content-type"].startswith("text/csv")
    assert _report(report) == [("4", "amount", "ORDER_NO_CONFLICT"),
                               ("5", "channel", "INVALID_INPUT"), ("6", "amount",
                                                                   "INVALID_AMOUNT")]
    assert await _count(db, Transaction, Transaction.tenant_id == world.merchant_a) == 3
    # The PENDING payment settled within the file: recorded, then moved (an event each).
    events = await _count(db, DomainEvent, DomainEvent.tenant_id == world.merchant_a,
                          DomainEvent.type.in_(["transaction.recorded",  # type: ignore[attr-defined]
                                                "transaction.status_changed"]))
    assert events == 4

    # Twice is once: the same file again records nothing new and writes no event (the
    # PENDING line is now refused: the payment settled, it cannot go back).
    again = await imported(client, key, content, merchantId=merchant_gid(world, "a"))
    redone = await finished(client, workers, key, again["transactionImport"]["id"])
    assert (redone["rowsRecorded"], redone["rowsFailed"]) == (3, 4)
    assert await _count(db, Transaction, Transaction.tenant_id == world.merchant_a) == 3
    assert await _count(db, DomainEvent, DomainEvent.tenant_id == world.merchant_a,
                        DomainEvent.type.in_(["transaction.recorded",  # type: ignore[attr-defined]
                                              "transaction.status_changed"])) == 4


async def test_jsonl_by_the_merchants_own_integration_key_and_the_lists(
        client, db, world, workers):
    line = {"merchant_order_no": "JS-1", "channel": "ALIPAY", "provider_reference": "a-1",
            "amount": "5.00", "currency": "CNY", "status": "SUCCEEDED",
            "paid_at": "2026-10-01T10:00:00+08:00", "payer_account": "6222021234567890"}
    content = (json.dumps(line) + "\n[1]\n").encode()
    key = world.key("b", "INTEGRATION")
    asked = await imported(client, key, content, name="batch.ndjson")
    assert asked["transactionImport"]["format"] == "JSONL"
    done = await finished(client, workers, key, asked["transactionImport"]["id"])
    assert (done["status"], done["rowsRecorded"], done["rowsFailed"]) == ("SUCCEEDED", 1, 1)
    report = await client.get(urlsplit(done["errorReportUrl"]).path)
    assert _report(report) == [("2", "line", "BAD_JSON")]
    assert "6222021234567890" not in report.text

    # The agency sees its merchants' imports; merchant A sees none of B's.
    seen = await ok(client, IMPORTS_LIST, {"m": None}, key=world.key("agency"))
    assert [e["node"]["id"] for e in seen["transactionImports"]["edges"]] == [done["id"]]
    assert (await ok(client, IMPORTS_LIST, {"m": None}, key=world.key("a")))[
        "transactionImports"]["edges"] == []
    assert (await ok(client, IMPORT_QUERY, {"id": done["id"]}, key=world.key("a")))[
        "transactionImport"] is None
    assert (await ok(client, "query($id: ID!) { node(id: $id) { id } }", {"id": done["id"]},
                     key=world.key("operator")))["node"] == {"id": done["id"]}


async def test_a_wrong_header_fails_the_file_and_bad_lines_fail_alone(
        client, db, world, workers):
    key = world.key("a", "INTEGRATION")
    wrong = await imported(client, key, b"order,amount\nX,1\n")
    done = await finished(client, workers, key, wrong["transactionImport"]["id"])
    assert done["status"] == "FAILED" and done["error"].startswith("WRONG_COLUMNS")
    report = await client.get(urlsplit(done["errorReportUrl"]).path)
    assert _report(report) == [("1", "header", "WRONG_COLUMNS")]

    content = (HEADER.encode() + row(1).encode() + b"IM-2,ALIPAY,\xff\xfe,1.00,CNY,"
               b"SUCCEEDED,2026-10-01T11:00:00+08:00\n" + b"IM-3," + b"x" * (10 * 1024 * 1024)
               + b"\n" + b"IM-4,ALIPAY\n" + row(5).encode())
    mixed = await imported(client, key, content)
    done = await finished(client, workers, key, mixed["transactionImport"]["id"])
    assert (done["status"], done["rowsRecorded"], done["rowsFailed"]) == ("SUCCEEDED", 2, 3)
    report = await client.get(urlsplit(done["errorReportUrl"]).path)
    assert _report(report) == [("3", "line", "BAD_ENCODING"), ("4", "line", "LINE_TOO_LONG"),
                               ("5", "line", "WRONG_COLUMNS")]


async def test_refusals_write_nothing(client, db, world, owner_engine, settings):
    content = (HEADER + row(1)).encode()
    before = row_counts(owner_engine)
    files = sum(p.is_file() for p in settings.export_dir.rglob("*"))
    cases = [
        (world.key("a", "VIEWER"), {}, "txns.csv", "FORBIDDEN"),
        (world.key("a", "REFUND_AGENT"), {}, "txns.csv", "FORBIDDEN"),
        (world.key("agency"), {"merchantId": merchant_gid(world, "c")}, "txns.csv",
         "NOT_FOUND"),  # another agency's merchant
        (world.key("agency"), {}, "txns.csv", "MERCHANT_REQUIRED"),
        (world.key("agency"), {"merchantId": ids.encode("Tenant", world.agency_id)},
         "txns.csv", "NOT_A_MERCHANT"),
        (world.key("a"), {}, "txns.txt", "UNKNOWN_FORMAT"),
    ]
    for key, fields, name, code in cases:
        payload = await imported(client, key, content, name=name, **fields)
        assert [e["code"] for e in payload["userErrors"]] == [code], (code, payload)
        assert payload["transactionImport"] is None
    empty = await imported(client, world.key("a"), b"")
    assert [e["code"] for e in empty["userErrors"]] == ["EMPTY_FILE"]
    assert row_counts(owner_engine) == before
    assert sum(p.is_file() for p in settings.export_dir.rglob("*")) == files
    # Without a key an upload is refused before its body is read.
    await upload(client, None, content, expect_status=401)
    # A JSON request cannot carry the file.
    body = await ok(client, """mutation { importTransactions(input: {file: "x"}) {
      transactionImport { id } userErrors { code field } } }""", key=world.key("a"))
    assert body["importTransactions"] == {"transactionImport": None, "userErrors": [
        {"code": "INVALID_INPUT", "field": ["file"]}]}


async def test_a_suspended_merchant_imports_nothing(client, db, world, workers, owner_engine):
    key = world.key("agency")
    # Uploaded while active, suspended before the job runs: the job refuses the file.
    asked = await imported(client, key, (HEADER + row(1)).encode(),
                           merchantId=merchant_gid(world, "a"))
    await life(client, "SuspendMerchant", key, id=merchant_gid(world, "a"), reason="review")
    done = await finished(client, workers, key, asked["transactionImport"]["id"])
    assert done["status"] == "FAILED" and done["error"].startswith("MERCHANT_SUSPENDED")
    assert await _count(db, Transaction, Transaction.tenant_id == world.merchant_a) == 0
    # A new upload is refused at once, by the agency and by the merchant's own key.
    for who, fields in ((key, {"merchantId": merchant_gid(world, "a")}),
                        (world.key("a", "INTEGRATION"), {})):
        refused = await imported(client, who, (HEADER + row(2)).encode(), **fields)
        assert [e["code"] for e in refused["userErrors"]] == ["MERCHANT_SUSPENDED"]


async def test_oversized_uploads_are_refused(settings, db, world):
    small = settings.model_copy(update={"max_import_bytes": 4096})
    app = create_app(small, db)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        key = world.key("a")
        # Over the limit with the framing: 413 from the declared length, body unread.
        huge = (HEADER + row(1) * 2000).encode()
        response = await upload(client, key, huge, expect_status=413)
        assert response.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"
        # Over the file limit but within the framing allowance: a user error.
        payload = (await upload(client, key, (HEADER + row(1) * 70).encode())).json()
        assert [e["code"] for e in payload["data"]["importTransactions"]["userErrors"]] == [
            "IMPORT_FILE_TOO_LARGE"]
    assert await _count(db, TransactionImport) == 0


async def test_expired_tampered_and_foreign_report_links_are_not_found(
        client, db, world, workers):
    key = world.key("a")
    asked = await imported(client, key, (HEADER + row(1, "-1")).encode())
    done = await finished(client, workers, key, asked["transactionImport"]["id"])
    good = urlsplit(done["errorReportUrl"]).path
    assert (await client.get(good)).status_code == 200
    _, import_id = ids.decode(done["id"], "TransactionImport")
    expired = report_link(world.merchant_a, import_id, "http://x",
                          utcnow() - timedelta(hours=2))
    link = good.rsplit("/", 1)[1]
    tampered = link[:-2] + ("AA" if not link.endswith("AA") else "BB")
    foreign = report_link(world.merchant_b, import_id, "http://x", utcnow())
    unknown = report_link(world.merchant_a, uuid.uuid4(), "http://x", utcnow())
    for path in (urlsplit(expired).path, f"/import-reports/{tampered}",
                 urlsplit(foreign).path, urlsplit(unknown).path, "/import-reports/x"):
        response = await client.get(path)
        assert response.status_code == 404, path
    # An export link never opens an import's report (kinds differ).
    assert (await client.get(good.replace("/import-reports/", "/exports/"))).status_code == 404
