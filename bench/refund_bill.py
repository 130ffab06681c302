"""Cost of reading a WeChat Pay refund bill: download bytes -> verified rows.

Builds a bill of ``--rows`` refunds in the documented format (backticked CSV, summary
rows), gzips it, and times :func:`spool_verified` + :func:`parse` (gunzip, SHA1,
spool, CSV, Decimal yuan -> fen) against a floor: ``csv.reader`` over the already
decompressed text, doing nothing else. Prints seconds, rows/s, the ratio, and the
peak Python memory of the verified parse (tracemalloc) to show that it streams.

    .venv/bin/python -m bench.refund_bill [--rows 200000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import gzip
import hashlib
import io
import time
import tracemalloc
from collections.abc import AsyncIterator

from qrefund.platform.channels import wechatpay_bill

COLUMNS = ["交易时间", "商户号", "微信订单号", "商户订单号", "退款申请时间", "微信退款单号",
           "商户退款单号", "退款金额", "退款类型", "退款状态", "手续费", "订单金额"]


def bill(rows: int) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for n in range(rows):
        writer.writerow([f"`{v}" for v in (
            "2026-11-30 09:00:00", "1900000109", f"4200{n:028d}", f"WX-{n}",
            "2026-11-30 10:00:00", f"503{n:029d}", f"QR-{n:020d}", f"{(n % 9999 + 1) / 100:.2f}",
            "ORIGINAL", "SUCCESS", "0.00", "100.00")])
    writer.writerow(["总交易单数", "退款总金额"])
    writer.writerow([f"`{rows}", "`0.00"])
    return out.getvalue().encode()


async def _chunks(data: bytes) -> AsyncIterator[bytes]:
    for at in range(0, len(data), wechatpay_bill.CHUNK):
        yield data[at:at + wechatpay_bill.CHUNK]


async def verified(gz: bytes, digest: str) -> int:
    spool = await wechatpay_bill.spool_verified(_chunks(gz), gzipped=True, hash_type="SHA1",
                                                hash_value=digest)
    with spool:
        return len(list(wechatpay_bill.parse(spool)))  # as the adapter does


def floor(plain: bytes) -> int:
    return sum(1 for _ in csv.reader(io.StringIO(plain.decode()))) - 3


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    plain = bill(args.rows)
    gz, digest = gzip.compress(plain), hashlib.sha1(plain).hexdigest()
    print(f"bill: {args.rows} rows, {len(plain) / 1e6:.1f} MB, gzip {len(gz) / 1e6:.1f} MB")
    best_floor = best = float("inf")
    for _ in range(args.rounds):
        start = time.perf_counter()
        assert floor(plain) == args.rows
        best_floor = min(best_floor, time.perf_counter() - start)
        start = time.perf_counter()
        assert asyncio.run(verified(gz, digest)) == args.rows
        best = min(best, time.perf_counter() - start)
    tracemalloc.start()
    asyncio.run(verified(gz, digest))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(f"floor (csv.reader on decompressed text): {best_floor:.2f} s, "
          f"{args.rows / best_floor:,.0f} rows/s")
    print(f"verified parse (gunzip+SHA1+spool+csv+Decimal): {best:.2f} s, "
          f"{args.rows / best:,.0f} rows/s, x{best / best_floor:.1f} the floor")
    print(f"peak Python memory of the verified parse: {peak / 1e6:.1f} MB "
          f"(file {len(plain) / 1e6:.1f} MB; spooled to disk above "
          f"{wechatpay_bill.SPOOL_BYTES / 1e6:.0f} MB)")


if __name__ == "__main__":
    main()
