"""Alipay's daily bill (``alipay.data.dataservice.bill.downloadurl.query``, ``bill_type``
``trade``): the refunds in it.

The signed gateway answer gives ``bill_download_url`` (short-lived); the file is a zip
of GBK CSVs, the detail one named ``..._业务明细.csv`` (the other is its summary). In the
detail file lines starting with ``#`` are titles and totals; the first other line is the
header, then one row per trade or refund, values padded with spaces or tabs. A refund
row has ``业务类型`` 退款, our ``out_request_no`` in ``退款批次号/请求号`` and a negative
``订单金额(元)`` (full-width parentheses). Only completed refunds are listed (there is
no status column). The file carries no hash: it is trusted as the answer of a verified,
signed response that named its URL (over TLS), and refused when its structure is not
the documented one.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator

from qrefund.platform.channels.wechatpay_bill import yuan_to_fen
from qrefund.platform.payouts.channels import BillRow, BillUnavailable

DETAIL_SUFFIX = "业务明细.csv"
KIND, REFUND_KIND = "业务类型", "退款"
OUT_REQUEST_NO, TRADE_NO = "退款批次号/请求号", "支付宝交易号"
AMOUNT = "订单金额\uff08元\uff09"  # full-width parentheses
MAX_DETAIL_BYTES = 512 * 1024 * 1024  # a larger "bill" is refused (a zip bomb)


def _name(info: zipfile.ZipInfo) -> str:
    if info.flag_bits & 0x800:  # the name is UTF-8 already
        return info.filename
    try:  # zipfile read it as cp437; Alipay writes GBK names
        return info.filename.encode("cp437").decode("gbk")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return info.filename


def parse_zip(data: bytes) -> list[BillRow]:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            found = [i for i in archive.infolist() if _name(i).endswith(DETAIL_SUFFIX)
                     and "汇总" not in _name(i)]
            if len(found) != 1:
                raise BillUnavailable("alipay bill: no single detail file in the zip")
            if found[0].file_size > MAX_DETAIL_BYTES:
                raise BillUnavailable("alipay bill: the detail file is too large")
            with archive.open(found[0]) as raw:
                text = io.TextIOWrapper(raw, encoding="gb18030", newline="")
                return list(_rows(csv.reader(text)))
    except (zipfile.BadZipFile, UnicodeDecodeError, csv.Error, EOFError) as exc:
        raise BillUnavailable(f"alipay bill: unreadable ({type(exc).__name__})") from None


def _rows(reader: Iterator[list[str]]) -> Iterator[BillRow]:
    header: list[str] | None = None
    for cells in reader:
        if not cells or cells[0].lstrip().startswith("#"):
            if header is not None and cells and cells[0].lstrip().startswith("#"):
                return  # the totals after the list
            continue
        values = [c.strip() for c in cells]
        if header is None:
            header = values
            missing = {KIND, OUT_REQUEST_NO, TRADE_NO, AMOUNT} - set(header)
            if missing:
                raise BillUnavailable("alipay bill: a documented column is missing")
            continue
        row = dict(zip(header, values, strict=False))
        if row.get(KIND) != REFUND_KIND:
            continue
        yield BillRow(out_refund_no=row[OUT_REQUEST_NO], provider_refund_id=row[TRADE_NO],
                      amount_minor=yuan_to_fen(row[AMOUNT].removeprefix("-")),
                      refunded=True, status="REFUND")
    if header is None:
        raise BillUnavailable("alipay bill: no header row")
