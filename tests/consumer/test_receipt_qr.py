"""The receipt's QR code (SVG field, PNG route) decodes back to its consumer page, and
reissuing or revoking a receipt kills every token printed before."""

from __future__ import annotations

import io
import re
from typing import Any

import httpx
import zxingcpp
from PIL import Image

from qrefund.graphql_schema import ids
from qrefund.platform.config import Settings
from qrefund.platform.db import Database
from qrefund.platform.transactions.models import Transaction
from tests.consumer import api
from tests.consumer.helpers import token_of
from tests.refunds.helpers import record_txn
from tests.support.graphql import ok
from tests.support.world import World

QR = """query($id: ID!) { node(id: $id) { ... on Transaction {
  receiptToken receiptUrl receiptQrSvg(scale: 1) } } }"""
REISSUE = """mutation($input: %sReceiptTokenInput!) { %sReceiptToken(input: $input) {
  transaction { id receiptToken } %s userErrors { code field message } } }"""
_PATH = re.compile(r'class="qrline"[^>]* d="([^"]+)"')
_STEP = re.compile(r"([Mmh])(-?[\d.]+)(?: (-?[\d.]+))?")


def _decoded(image: Image.Image) -> str:
    (found,) = zxingcpp.read_barcodes(image)
    assert found.format == zxingcpp.BarcodeFormat.QRCode
    return str(found.text)


def _rasterised(svg: str) -> Image.Image:
    """segno's SVG at scale 1 drawn into pixels: its path is runs of dark modules."""
    size = int(re.search(r'width="(\d+)"', svg).group(1))  # type: ignore[union-attr]
    image = Image.new("L", (size, size), 255)
    x = y = 0.0
    for op, a, b in _STEP.findall(_PATH.search(svg).group(1)):  # type: ignore[union-attr]
        if op == "M":
            x, y = float(a), float(b)
        elif op == "m":
            x, y = x + float(a), y + float(b)
        else:
            for column in range(int(x), int(x + float(a))):
                image.putpixel((column, int(y)), 0)
            x += float(a)
    return image.resize((size * 8, size * 8), Image.Resampling.NEAREST)


def _gid(txn: Transaction) -> str:
    return ids.encode("Transaction", txn.tenant_id, txn.id)


async def _png(client: httpx.AsyncClient, txn: Transaction, key: str | None,
               **params: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return await client.get(f"/receipts/{_gid(txn)}.png", headers=headers, params=params)


async def test_the_svg_and_the_png_decode_to_the_consumer_page(
        client: httpx.AsyncClient, db: Database, world: World, settings: Settings) -> None:
    txn = await record_txn(db, world)
    token = token_of(txn)
    url = f"{settings.public_base_url.rstrip('/')}/r/{token}"
    found = (await ok(client, QR, {"id": _gid(txn)}, key=world.key("a", "VIEWER")))["node"]
    assert found["receiptToken"] == token and found["receiptUrl"] == url
    assert found["receiptQrSvg"].startswith('<svg xmlns="http://www.w3.org/2000/svg"')
    assert _decoded(_rasterised(found["receiptQrSvg"])) == url
    response = await _png(client, txn, world.key("a", "INTEGRATION"), scale=4)
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    assert response.headers["cache-control"] == "no-store"
    assert _decoded(Image.open(io.BytesIO(response.content))) == url


async def test_the_png_route_refusals(client: httpx.AsyncClient, db: Database,
                                      world: World) -> None:
    txn = await record_txn(db, world)
    assert (await _png(client, txn, None)).status_code == 401
    assert (await _png(client, txn, "qr_live_nonsense")).status_code == 401
    assert (await _png(client, txn, world.key("b", "ADMIN"))).status_code == 404
    assert (await _png(client, txn, world.key("a", "ADMIN"), scale=0)).status_code == 400
    assert (await _png(client, txn, world.key("a", "ADMIN"), scale="9x")).status_code == 400
    wrong_kind = await client.get(f"/receipts/{ids.encode('RefundCase', txn.tenant_id, txn.id)}"
                                  ".png", headers={"Authorization":
                                                   f"Bearer {world.key('a', 'ADMIN')}"})
    assert wrong_kind.status_code == 404
    # The agency of the merchant may print it
    assert (await _png(client, txn, world.key("agency", "ADMIN"))).status_code == 200


async def _receipt_mutation(client: httpx.AsyncClient, verb: str, txn: Transaction,
                            key: str) -> dict[str, Any]:
    doc = REISSUE % (verb.capitalize(), verb, "receiptToken" if verb == "reissue" else "")
    data = await ok(client, doc, {"input": {"transactionId": _gid(txn)}}, key=key)
    found: dict[str, Any] = data[f"{verb}ReceiptToken"]
    return found


async def test_reissue_and_revoke(client: httpx.AsyncClient, db: Database, world: World) -> None:
    txn = await record_txn(db, world)
    old = token_of(txn)
    for who, role, code in (("a", "REFUND_AGENT", "FORBIDDEN"), ("a", "SUPPORT", "FORBIDDEN"),
                            ("a", "VIEWER", "FORBIDDEN"), ("b", "ADMIN", "NOT_FOUND"),
                            ("other_agency", "ADMIN", "NOT_FOUND")):
        refused = await _receipt_mutation(client, "reissue", txn, world.key(who, role))
        assert [e["code"] for e in refused["userErrors"]] == [code]
        assert refused["transaction"] is None
    assert await api.receipt(client, old) is not None  # nothing changed
    reissued = await _receipt_mutation(client, "reissue", txn, world.key("a", "INTEGRATION"))
    new = reissued["receiptToken"]
    assert reissued["userErrors"] == [] and new and new != old
    assert reissued["transaction"]["receiptToken"] == new
    assert await api.receipt(client, old) is None
    assert (await api.receipt(client, new) or {})["merchantName"] == "Merchant A"
    revoked = await _receipt_mutation(client, "revoke", txn, world.key("a", "ADMIN"))
    assert revoked["userErrors"] == [] and revoked["transaction"]["receiptToken"] is None
    assert await api.receipt(client, new) is None
    assert (await _png(client, txn, world.key("a", "ADMIN"))).status_code == 404
    found = (await ok(client, QR, {"id": _gid(txn)}, key=world.key("a", "VIEWER")))["node"]
    assert found == {"receiptToken": None, "receiptUrl": None, "receiptQrSvg": None}
    again = await _receipt_mutation(client, "reissue", txn, world.key("a", "ADMIN"))
    assert await api.receipt(client, again["receiptToken"]) is not None
