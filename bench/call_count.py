"""Python calls per request of one read, counted in-process.

    .venv/bin/python -m bench.call_count [--read node|cases|transactions|complaints|typename]
        [--requests 1600] [--concurrency 16] [--top 25]

Calls the ASGI app directly (no HTTP server, no HTTP client: nothing but the app is
counted), on the refund-case dataset (``python -m bench.refund_cases generate``) with
``bench.compare``'s documents, ``--concurrency`` requests at a time after a warm-up,
under ``cProfile``, on uvloop as uvicorn serves it. Prints the calls per request, then
per module (the package under ``site-packages``, or the file) the calls per request
and their own time under the profiler. A count does not move with the machine's
speed, which swings by half within minutes on the bench machine: it is the figure to
compare two changes by in-process, before confirming with ``bench.compare``. Another
tree's count: ``cd /tmp/before && PYTHONPATH=/work/main /work/main/.venv/bin/python -m
bench.call_count`` (its ``qrefund`` first, the bench scripts from this checkout).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import cProfile
import json
import pstats
import re
from typing import Any

import uvloop

from bench.profile_page import _environment, _payloads

_MODULE = re.compile(r"site-packages/([^/]+)|(qrefund/[^/]+(?:/[^/.]+)?)")


async def _count(read: str, requests: int, concurrency: int) -> pstats.Stats:
    _environment()
    from qrefund.app import create_app

    payloads = [(key, json.dumps(body).encode()) for key, body in _payloads(read)]
    app = create_app()

    async def one(n: int) -> None:
        key, body = payloads[n % len(payloads)]
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
                 "method": "POST", "scheme": "http", "path": "/graphql",
                 "raw_path": b"/graphql", "query_string": b"", "root_path": "",
                 "headers": [(b"host", b"bench"), (b"content-type", b"application/json"),
                             (b"authorization", f"Bearer {key}".encode()),
                             (b"content-length", str(len(body)).encode())],
                 "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 8000)}
        sent: list[dict[str, Any]] = []
        delivered = False

        async def receive() -> dict[str, Any]:
            nonlocal delivered
            if delivered:  # the body was read: the client stays until the answer
                await asyncio.Event().wait()
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await app(scope, receive, send)
        answer = b"".join(m.get("body", b"") for m in sent[1:])
        if sent[0]["status"] != 200 or b'"errors"' in answer:
            raise SystemExit(f"bad answer {sent[0]['status']}: {answer[:300]!r}")

    async def client(first: int, count: int) -> None:
        for n in range(first, first + count):
            await one(n)

    async with app.router.lifespan_context(app):
        await client(0, 50)  # warm-up: pool, caches, prepared statements
        profile = cProfile.Profile()
        profile.enable()
        each = requests // concurrency
        await asyncio.gather(*(client(c * each, each) for c in range(concurrency)))
        profile.disable()
    return pstats.Stats(profile)


def _report(stats: Any, requests: int, top: int) -> None:
    print(f"calls per request: {stats.total_calls / requests:,.0f} "
          f"({stats.prim_calls / requests:,.0f} primitive)")
    calls: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    for (path, _line, name), (_cc, ncalls, tottime, _ct, _callers) in stats.stats.items():
        found = _MODULE.search(path)
        module = (found.group(1) or found.group(2)) if found else (
            "builtins" if path == "~" else path.rsplit("/", 1)[-1] or name)
        calls[module] += ncalls
        own[module] += tottime
    print(f"{'calls/request':>14}  {'own µs (profiled)':>18}  module")
    for module, count in calls.most_common(top):
        print(f"{count / requests:14.1f}  {own[module] * 1e6 / requests:18.1f}  {module}")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--read", default="node",
                        choices=["cases", "transactions", "node", "complaints", "typename"])
    parser.add_argument("--requests", type=int, default=1600)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    requests = args.requests // args.concurrency * args.concurrency
    # uvloop, as uvicorn runs the app (asyncio's own loop adds ~300 calls a request)
    stats = uvloop.run(_count(args.read, requests, args.concurrency))
    _report(stats, requests, args.top)


if __name__ == "__main__":
    main()
