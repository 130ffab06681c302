"""Profile the API's `transactions` first page in-process (no HTTP server, no client).

    .venv/bin/python -m bench.profile_page [--requests 300] [--html]

Calls the ASGI app directly with httpx's ASGI transport, one request at a time,
under pyinstrument; prints where the time goes per request.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time

import httpx

from bench.common import DATABASE_URL, ENCRYPTION_KEY, RESULTS, load_keys
from bench.run import query


async def run(requests: int, html: bool) -> None:
    os.environ.update(
        {
            "QREFUND_DATABASE_URL": DATABASE_URL,
            "QREFUND_ENCRYPTION_KEY": ENCRYPTION_KEY,
            "QREFUND_LOG_LEVEL": "WARNING",
        }
    )
    from pyinstrument import Profiler

    from qrefund.app import create_app

    key = load_keys()[0]
    app = create_app()
    payload = {"query": query(False), "variables": {"first": 50}}
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://bench"
    ) as client:
        for _ in range(20):  # warm-up: pool, caches
            assert (
                "errors"
                not in (await client.post("/graphql", json=payload, headers=headers)).json()
            )
        profiler = Profiler(async_mode="enabled", interval=0.0005)
        started = time.perf_counter()
        with profiler:
            for _ in range(requests):
                await client.post("/graphql", json=payload, headers=headers)
        took = time.perf_counter() - started
    await app.state.db.dispose()
    print(f"{requests} requests, {took / requests * 1000:.2f} ms each (under the profiler)")
    if html:
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "page-profile.html").write_text(profiler.output_html())
    print(profiler.output_text(show_all=False, color=False, short_mode=False))
    if os.environ.get("BENCH_FLAT"):
        print(profiler.output_text(color=False, flat=True, show_all=True)[:6000])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--html", action="store_true")
    args = parser.parse_args()
    asyncio.run(run(args.requests, args.html))


if __name__ == "__main__":
    main()
