"""Evidence files on the refund form: judged by content, cleaned, stored by hash, served
back to the receipt's holder only; every refusal stores nothing and writes nothing."""

from __future__ import annotations

import hashlib
import io
import re
from pathlib import Path

import httpx
from PIL import Image

from qrefund.platform.config import Settings
from qrefund.platform.db import Database
from tests.complaints.helpers import counts
from tests.portal.helpers import ZH, csrf_of, page
from tests.portal.test_receipt_forms import form, token_of
from tests.refunds.helpers import record_txn
from tests.support.world import World

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def photo(size: tuple[int, int] = (64, 48), *, gps: bool = True) -> bytes:
    """A JPEG with an EXIF GPS position (what a phone camera writes)."""
    image = Image.new("RGB", size, (200, 30, 30))
    exif = Image.Exif()
    if gps:
        exif[0x8825] = {1: "N", 2: (31.0, 13.0, 0.0), 3: "E", 4: (121.0, 28.0, 0.0)}
        exif[0x010F] = "PhoneMaker"
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    return out.getvalue()


def stored_files(settings: Settings) -> list[Path]:
    return [p for p in Path(settings.upload_dir).rglob("*") if p.is_file()]


async def send(client: httpx.AsyncClient, token: str, files: list[tuple[str, bytes, str]],
               **extra: str) -> httpx.Response:
    shown = await page(client, f"/r/{token}")
    data = {**form(**extra), "csrf": csrf_of(shown)}
    return await client.post(f"/r/{token}/refund", data=data, headers=ZH,
                             files=[("evidence", f) for f in files])


async def test_a_photo_is_cleaned_stored_and_shown_to_the_holder(
    client: httpx.AsyncClient, db: Database, world: World, settings: Settings
) -> None:
    token = token_of(await record_txn(db, world))
    original = photo()
    assert b"PhoneMaker" in original
    sent = await send(client, token, [("IMG_0001.JPG", original, "image/jpeg"),
                                      ("../../etc/passwd.pdf", PDF, "application/pdf")])
    assert sent.status_code == 303, sent.text
    shown = await page(client, f"/r/{token}")
    links = re.findall(r'href="(/evidence/[^"]+)">([^<]+)<', shown.text)
    assert [name for _link, name in links] == ["IMG_0001.JPG", "passwd.pdf"]
    served = await client.get(links[0][0])
    assert served.status_code == 200 and served.headers["content-type"] == "image/jpeg"
    assert "sandbox" in served.headers["content-security-policy"]
    assert served.headers["cache-control"] == "private, no-store"
    cleaned = served.content
    assert b"PhoneMaker" not in cleaned and not Image.open(io.BytesIO(cleaned)).getexif()
    stored = {hashlib.sha256(p.read_bytes()).hexdigest() for p in stored_files(settings)}
    assert {hashlib.sha256(cleaned).hexdigest(), hashlib.sha256(PDF).hexdigest()} <= stored
    forged = await client.get(links[0][0][:-3] + ("AAA" if not links[0][0].endswith("AAA")
                                                  else "BBB"))
    assert forged.status_code == 404  # links are signed: no guessing another file's
    other = await page(client, f"/r/{token_of(await record_txn(db, world))}")
    assert "/evidence/" not in other.text  # another receipt's page links none of them


async def test_refused_files_store_and_write_nothing(
    client: httpx.AsyncClient, db: Database, world: World, settings: Settings
) -> None:
    token = token_of(await record_txn(db, world))
    before = await counts(db, world), stored_files(settings)
    exe = b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 200
    big = photo() + b"\x00" * (5 * 1024 * 1024)
    cases = [
        ([("invoice.jpg", exe, "image/jpeg")], "只能添加 JPEG、PNG、WebP 图片或 PDF 文件"),
        ([("huge.jpg", big, "image/jpeg")], "有文件超过 5 MB"),
        ([(f"{n}.jpg", photo(), "image/jpeg") for n in range(6)], "最多可添加 5 个文件"),
        ([("broken.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 50, "image/png")],
         "只能添加 JPEG、PNG、WebP 图片或 PDF 文件"),
    ]
    for files, says in cases:
        refused = await send(client, token, files)
        assert refused.status_code == 400, (files[0][0], refused.status_code)
        assert says in refused.text, files[0][0]
    assert (await counts(db, world), stored_files(settings)) == before


async def test_an_upload_without_csrf_or_over_the_body_cap_is_refused(
    client: httpx.AsyncClient, db: Database, world: World, settings: Settings
) -> None:
    token = token_of(await record_txn(db, world))
    before = stored_files(settings)
    await page(client, f"/r/{token}")
    no_token = await client.post(f"/r/{token}/refund", data=form(), headers=ZH,
                                 files=[("evidence", ("a.jpg", photo(), "image/jpeg"))])
    assert no_token.status_code == 403
    huge = await client.post(f"/r/{token}/refund", content=b"x" * (28_000_000),
                             headers={"content-type": "multipart/form-data; boundary=x"})
    assert huge.status_code == 413
    assert stored_files(settings) == before
