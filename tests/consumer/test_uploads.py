"""Evidence uploads: a signed upload URL, files judged by content and cleaned, attached
to a case, served back only by signed expiring links."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from PIL import Image
from sqlalchemy import func, select

from qrefund.graphql_schema import ids
from qrefund.platform.config import Settings
from qrefund.platform.consumer.models import EvidenceFile
from qrefund.platform.consumer.uploads import MAX_FILE_BYTES
from qrefund.platform.db import Database
from tests.consumer import api
from tests.consumer.helpers import revoke, token_of
from tests.refunds.helpers import record_txn, scope_of
from tests.support.graphql import ok
from tests.support.raw import unchecked
from tests.support.world import World

REQUEST = """mutation($t: String!) { requestEvidenceUpload(input: {receiptToken: $t}) {
  uploadUrl expiresAt maxFiles maxFileBytes userErrors { code field } } }"""
STAFF = """query($id: ID!) { node(id: $id) { ... on RefundCase {
  evidence { filename sha256 size downloadUrl } } } }"""
GPS = 0x8825


def _jpeg_with_gps() -> bytes:
    image = Image.new("RGB", (64, 48), (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = "SpyCam"  # Make
    exif[GPS] = {1: "N", 2: (31.0, 14.0, 0.0), 3: "E", 4: (121.0, 28.0, 0.0)}
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif)
    return out.getvalue()


def _image(fmt: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (20, 20), (0, 128, 255)).save(out, format=fmt)
    return out.getvalue()


PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 200


async def _upload_url(client: httpx.AsyncClient, token: str) -> str:
    found = (await ok(client, REQUEST, {"t": token}))["requestEvidenceUpload"]
    assert found["userErrors"] == [] and found["maxFiles"] == 5, found
    return urlsplit(found["uploadUrl"]).path


async def _post(client: httpx.AsyncClient, path: str, files: list[tuple[str, bytes, str]]
                ) -> httpx.Response:
    return await client.post(path, files=[("files", f) for f in files])


async def _stored(db: Database, world: World, settings: Settings) -> tuple[int, int]:
    """Evidence rows, and files in the upload directory."""
    async with db.unit_of_work(await scope_of(db, world, "operator")) as uow:
        rows = (await unchecked(uow).execute(select(func.count()).select_from(EvidenceFile))
                ).scalar()
    return int(rows or 0), _files_in(Path(settings.upload_dir))


def _files_in(root: Path) -> int:
    return sum(1 for p in root.rglob("*") if p.is_file())


async def test_upload_clean_attach_and_serve_back(client: httpx.AsyncClient, db: Database,
                                                  world: World) -> None:
    token = token_of(await record_txn(db, world))
    path = await _upload_url(client, token)
    original = _jpeg_with_gps()
    assert Image.open(io.BytesIO(original)).getexif().get(GPS) is not None
    response = await _post(client, path, [
        ("cup.jpg", original, "image/jpeg"), ("c:\\photos\\box.png", _image("PNG"), "x/y"),
        ("side.webp", _image("WEBP"), "image/webp"), ("bill.pdf", PDF, "application/pdf")])
    assert response.status_code == 201, response.text
    files = response.json()["files"]
    assert [f["contentType"] for f in files] == ["image/jpeg", "image/png", "image/webp",
                                                 "application/pdf"]
    assert files[1]["filename"] == "box.png" and files[3]["sha256"] == \
        hashlib.sha256(PDF).hexdigest()
    case = await api.done(client, "ApplyForRefund", receiptToken=token, amount="5",
                          reason="QUALITY_ISSUE", evidenceIds=[f["id"] for f in files[:2]])
    assert sorted(e["filename"] for e in case["evidence"]) == ["box.png", "cup.jpg"]
    shown = await api.receipt(client, token)
    assert shown is not None
    index = [e["filename"] for e in shown["refundCases"][0]["evidence"]].index("cup.jpg")
    evidence = shown["refundCases"][0]["evidence"][index]
    served = await client.get(urlsplit(_url(shown, index)).path)
    assert served.status_code == 200 and served.headers["content-type"] == "image/jpeg"
    assert served.headers["cache-control"] == "private, no-store"
    assert hashlib.sha256(served.content).hexdigest() == evidence["sha256"] == files[0]["sha256"]
    cleaned = Image.open(io.BytesIO(served.content))
    assert cleaned.size == (64, 48) and not cleaned.getexif()  # no GPS, no camera
    # Staff reach the same bytes through the case
    staff = (await ok(client, STAFF, {"id": case["id"]}, key=world.key("a", "VIEWER")))["node"]
    link = next(urlsplit(e["downloadUrl"]).path for e in staff["evidence"]
                if e["filename"] == "cup.jpg")
    assert (await client.get(link)).content == served.content
    assert (await client.get(link[:-4] + "AAAA")).status_code == 404
    # An attached file cannot be attached again
    code, field = await api.refused(client, "ApplyForRefund", receiptToken=token, amount="6",
                                    reason="OTHER", evidenceIds=[files[0]["id"]])
    assert (code, field) == ("NOT_FOUND", ["evidenceIds", "0"])


def _url(shown: dict[str, Any], index: int) -> str:
    url: str = shown["refundCases"][0]["evidence"][index]["url"]
    return url


async def test_refused_uploads_store_nothing(client: httpx.AsyncClient, db: Database,
                                            world: World, settings: Settings) -> None:
    txn = await record_txn(db, world)
    token = token_of(txn)
    path = await _upload_url(client, token)
    before = await _stored(db, world, settings)
    png = _image("PNG")
    too_big = png + b"\x00" * (MAX_FILE_BYTES + 1 - len(png))
    cases: list[tuple[list[tuple[str, bytes, str]], int, str]] = [
        ([("big.png", too_big, "image/png")], 400, "FILE_TOO_LARGE"),
        ([("photo.jpg", EXE, "image/jpeg")], 400, "FILE_TYPE_NOT_ALLOWED"),
        ([("ok.png", png, "image/png"), ("cut.jpg", _jpeg_with_gps()[:300], "image/jpeg")],
         400, "FILE_TYPE_NOT_ALLOWED"),
        ([("script.svg", b"<svg onload='x()'/>", "image/svg+xml")], 400,
         "FILE_TYPE_NOT_ALLOWED"),
        ([(f"{i}.png", png, "image/png") for i in range(6)], 400, "TOO_MANY"),
        ([], 400, "REQUIRED"),
    ]
    for files, status, code in cases:
        response = await _post(client, path, files) if files else await client.post(path)
        assert response.status_code == status, response.text
        assert response.json()["errors"][0]["code"] == code
    assert (await _post(client, "/uploads/forged", [("a.png", png, "image/png")])
            ).status_code == 404
    await revoke(db, world, txn, reissue=True)  # the receipt's upload links die with it
    response = await _post(client, path, [("a.png", png, "image/png")])
    assert response.status_code == 404 and response.json()["errors"][0]["code"] == "NOT_FOUND"
    assert await _stored(db, world, settings) == before


async def test_another_receipts_file_is_not_found(client: httpx.AsyncClient, db: Database,
                                                  world: World) -> None:
    mine, theirs = [token_of(await record_txn(db, world)) for _ in range(2)]
    path = await _upload_url(client, theirs)
    uploaded = (await _post(client, path, [("x.png", _image("PNG"), "image/png")])).json()
    gid = uploaded["files"][0]["id"]
    assert ids.scoped_id(gid, "EvidenceFile")[0] == world.merchant_a
    assert await api.refused(client, "ApplyForRefund", receiptToken=mine, amount="1",
                             reason="OTHER", evidenceIds=[gid]) == \
        ("NOT_FOUND", ["evidenceIds", "0"])
    assert (await api.refused(client, "ApplyForRefund", receiptToken=mine, amount="1",
                              reason="OTHER", evidenceIds=["bm9wZQ"]))[0] == "NOT_FOUND"
    body = await ok(client, REQUEST, {"t": "forged"})
    assert body["requestEvidenceUpload"]["userErrors"] == [
        {"code": "NOT_FOUND", "field": ["receiptToken"]}]
