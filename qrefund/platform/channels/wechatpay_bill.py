"""WeChat Pay API v3 refund bills (交易账单, ``bill_type=REFUND``): download and parse.

Two signed calls, like every v3 call: ``GET /v3/bill/tradebill?bill_date=..&bill_type=
REFUND[&sub_mchid=..][&tar_type=GZIP]`` answers ``{download_url, hash_type,
hash_value}`` (or ``NO_STATEMENT_EXIST`` / ``STATEMENT_CREATING``: not ready), then a
signed GET of ``download_url`` (which must be on the API host: we never send a signed
request elsewhere) gives the file. The download is not signed by WeChat Pay; the SHA1
``hash_value`` of the original (decompressed) file is what proves it, so the file is
spooled to disk while hashed, and parsed only once the hash holds.

The file is a CSV: a header row of documented Chinese column names, one row per refund
with a backtick (`) before each value (so spreadsheets keep long numbers as text), then a
summary header (``总交易单数,...``) and its row. Columns are looked up by name, so an
added or reordered column does not shift anything; the summary's row count must match
the rows read. Amounts are yuan with two decimals, converted to fen with Decimal.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import tempfile
import zlib
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal, InvalidOperation
from typing import IO
from urllib.parse import urlsplit

from qrefund.platform.payouts.channels import BillRow, BillUnavailable

OUT_REFUND_NO = "商户退款单号"
REFUND_ID = "微信退款单号"
REFUND_AMOUNT = "退款金额"
REFUND_STATUS = "退款状态"
SUMMARY_FIRST = "总交易单数"
REFUNDED = "SUCCESS"
SPOOL_BYTES = 4 * 1024 * 1024  # a bigger bill goes to a temporary file
CHUNK = 64 * 1024


def download_path(api_base: str, download_url: str) -> str:
    """The path-and-query to sign for ``download_url``; refuses a URL off the API host."""
    base, url = urlsplit(api_base), urlsplit(download_url)
    if (url.scheme, url.netloc) != (base.scheme, base.netloc) or not url.path.startswith("/"):
        raise BillUnavailable("wechatpay bill: download_url is not on the API host")
    return url.path + (f"?{url.query}" if url.query else "")


async def spool_verified(chunks: AsyncIterator[bytes], *, gzipped: bool, hash_type: str,
                         hash_value: str) -> IO[bytes]:
    """The decompressed file, spooled, once its hash is the one WeChat Pay announced."""
    if hash_type.upper() != "SHA1":
        raise BillUnavailable(f"wechatpay bill: unsupported hash_type {hash_type[:16]!r}")
    digest = hashlib.sha1(usedforsecurity=True)
    inflate = zlib.decompressobj(wbits=31) if gzipped else None
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 (the caller closes it)
    try:
        async for chunk in chunks:
            plain = inflate.decompress(chunk) if inflate else chunk
            digest.update(plain)
            spool.write(plain)
        if inflate is not None:
            if not inflate.eof:
                raise BillUnavailable("wechatpay bill: truncated gzip")
            tail = inflate.flush()
            digest.update(tail)
            spool.write(tail)
    except zlib.error:
        spool.close()
        raise BillUnavailable("wechatpay bill: not a gzip file") from None
    except BaseException:
        spool.close()
        raise
    if digest.hexdigest().lower() != hash_value.strip().lower():
        spool.close()
        raise BillUnavailable("wechatpay bill: SHA1 hash mismatch (tampered or truncated)")
    spool.seek(0)
    return spool


def _value(cell: str) -> str:
    return cell.strip().removeprefix("`").strip()


def yuan_to_fen(text: str) -> int:
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise BillUnavailable(f"bill: amount {text[:20]!r} is not a number") from None
    fen = amount * 100
    if not amount.is_finite() or fen != fen.to_integral_value() or amount < 0:
        raise BillUnavailable(f"bill: amount {text[:20]!r} is not whole fen")
    return int(fen)


def parse(file: IO[bytes]) -> Iterator[BillRow]:
    """The refund rows of a verified bill file, streamed (UTF-8, with or without BOM);
    BillUnavailable for anything that is not a well-formed bill."""
    try:
        yield from _rows(file)
    except (UnicodeDecodeError, csv.Error) as exc:
        raise BillUnavailable(f"wechatpay bill: unreadable ({type(exc).__name__})") from None


def _rows(file: IO[bytes]) -> Iterator[BillRow]:
    text = codecs.getreader("utf-8-sig")(file)
    reader = csv.reader(text)
    header = [_value(c) for c in next(reader, [])]
    try:
        at = {name: header.index(name)
              for name in (OUT_REFUND_NO, REFUND_ID, REFUND_AMOUNT, REFUND_STATUS)}
    except ValueError:
        raise BillUnavailable("wechatpay bill: a documented column is missing") from None
    read = 0
    for cells in reader:
        if not cells or not any(c.strip() for c in cells):
            continue
        if _value(cells[0]) == SUMMARY_FIRST:
            summary = next(reader, [])
            if not summary or _value(summary[0]) != str(read):
                raise BillUnavailable("wechatpay bill: summary count disagrees with rows")
            return
        if len(cells) < len(header):
            raise BillUnavailable(f"wechatpay bill: row {read + 1} is short")
        read += 1
        status = _value(cells[at[REFUND_STATUS]])
        yield BillRow(out_refund_no=_value(cells[at[OUT_REFUND_NO]]),
                      provider_refund_id=_value(cells[at[REFUND_ID]]),
                      amount_minor=yuan_to_fen(_value(cells[at[REFUND_AMOUNT]])),
                      refunded=status == REFUNDED, status=status[:32])
    raise BillUnavailable("wechatpay bill: no summary rows (truncated)")
