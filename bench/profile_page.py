"""Profile one read of the API in-process (no HTTP server, no client).

    .venv/bin/python -m bench.profile_page [--read cases|transactions|node|complaints|typename]
        [--requests 300] [--html] [--timing]

Calls the ASGI app directly with httpx's ASGI transport, one request at a time, on
the refund-case dataset (``python -m bench.refund_cases generate``), with the same
documents as ``bench.compare``; prints where the time goes per request under
pyinstrument, or with ``--timing`` only the wall and CPU time per request without a
profiler (the figure to compare between two changes).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time

import httpx

from bench.common import RESULTS


def _payloads(read: str) -> list[tuple[str, dict[str, object]]]:
    from bench import compare
    from bench.refund_cases import _load_keys

    data = _load_keys()
    viewers = [v for k, v in sorted(data["keys"].items()) if k.endswith(":VIEWER")]
    if read == "typename":  # the fixed cost of an authenticated request
        return [(k, {"query": "{ __typename }"}) for k in viewers]
    if read == "node":
        return [(k, {"query": compare.NODE_QUERY, "variables": {"id": gid}})
                for k, gid in compare._case_ids(viewers, 5)]
    document = {"cases": compare.CASES_QUERY, "transactions": compare.TRANSACTIONS_QUERY,
                "complaints": compare.COMPLAINTS_QUERY}[read]
    return [(k, {"query": document, "variables": {"first": 50}}) for k in viewers]


async def run(read: str, requests: int, html: bool, timing: bool) -> None:
    from bench.refund_cases import DATABASE_URL, ENCRYPTION_KEY

    os.environ.update({
        "QREFUND_DATABASE_URL": DATABASE_URL, "QREFUND_ENCRYPTION_KEY": ENCRYPTION_KEY,
        "QREFUND_LOG_LEVEL": "WARNING", "QREFUND_ENVIRONMENT": "production",
        "QREFUND_PUBLIC_BASE_URL": "https://bench.invalid",
        "QREFUND_RATE_LIMIT_PER_KEY": "100000000/minute",
        "QREFUND_REDIS_URL": os.environ.get("QREFUND_BENCH_REDIS_URL",
                                            "redis://127.0.0.1:6379/12")})
    from pyinstrument import Profiler

    from qrefund.app import create_app

    payloads = _payloads(read)
    app = create_app()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://bench") as client:
        async def one(n: int) -> None:
            key, payload = payloads[n % len(payloads)]
            response = await client.post("/graphql", json=payload,
                                         headers={"Authorization": f"Bearer {key}"})
            assert "errors" not in response.json(), response.text[:500]

        async with app.router.lifespan_context(app):
            for n in range(30):  # warm-up: pool, caches, prepared statements
                await one(n)
            profiler = Profiler(async_mode="enabled", interval=0.0005)
            started, cpu = time.perf_counter(), time.process_time()
            if timing:
                for n in range(requests):
                    await one(n)
            else:
                with profiler:
                    for n in range(requests):
                        await one(n)
            took, cpu = time.perf_counter() - started, time.process_time() - cpu
    print(f"{read}: {requests} requests, {took / requests * 1000:.2f} ms wall, "
          f"{cpu / requests * 1000:.2f} ms CPU each"
          f"{'' if timing else ' (under the profiler)'}")
    if timing:
        return
    if html:
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / f"{read}-profile.html").write_text(profiler.output_html())
    print(profiler.output_text(show_all=False, color=False, short_mode=False))
    if os.environ.get("BENCH_FLAT"):
        print(profiler.output_text(color=False, flat=True, show_all=True)[:8000])


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--read", default="cases",
                        choices=["cases", "transactions", "node", "complaints", "typename"])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--html", action="store_true")
    parser.add_argument("--timing", action="store_true")
    args = parser.parse_args()
    asyncio.run(run(args.read, args.requests, args.html, args.timing))


if __name__ == "__main__":
    main()
