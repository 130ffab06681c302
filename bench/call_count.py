"""Python calls per request of one read, counted in-process.

    .venv/bin/python -m bench.call_count [--read node|cases|transactions|complaints|typename]
        [--requests 1600] [--concurrency 16] [--top 25] [--latency [--no-gc]]

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

``--latency``: no profiler; instead the CPU per request (the process's CPU time over
the timed requests), each request's time through the app (percentiles, and p99/p50 as
``bench.compare`` prints it) and the garbage collector's pauses by generation, to tell
how much of a tail is the collector's. ``--no-gc`` turns the collector off for the
timed requests (after the app's start-up has set it up), for comparison.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import cProfile
import gc
import json
import pstats
import re
import time
from dataclasses import dataclass, field
from typing import Any

import uvloop

from bench.profile_page import _environment, _payloads

_MODULE = re.compile(r"site-packages/([^/]+)|(qrefund/[^/]+(?:/[^/.]+)?)")


@dataclass
class Timing:
    """What ``--latency`` measures over the timed requests."""

    cpu_seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)  # seconds, one per request
    pauses: dict[int, list[float]] = field(default_factory=dict)  # generation -> seconds
    _started: float = 0.0

    def on_gc(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.pauses.setdefault(info["generation"], []).append(
                time.perf_counter() - self._started)


async def _count(read: str, requests: int, concurrency: int,
                 timing: Timing | None = None, no_gc: bool = False) -> pstats.Stats | Timing:
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

        started = time.perf_counter()
        await app(scope, receive, send)
        if timing is not None and measuring:
            timing.latencies.append(time.perf_counter() - started)
        answer = b"".join(m.get("body", b"") for m in sent[1:])
        if sent[0]["status"] != 200 or b'"errors"' in answer:
            raise SystemExit(f"bad answer {sent[0]['status']}: {answer[:300]!r}")

    async def client(first: int, count: int) -> None:
        for n in range(first, first + count):
            await one(n)

    measuring = False
    each = requests // concurrency
    async with app.router.lifespan_context(app):
        await client(0, 50)  # warm-up: pool, caches, prepared statements
        if timing is not None:
            await asyncio.gather(*(client(c * 20, 20) for c in range(concurrency)))
            measuring = True
            if no_gc:
                gc.disable()
            gc.callbacks.append(timing.on_gc)
            cpu = time.process_time()
            await asyncio.gather(*(client(c * each, each) for c in range(concurrency)))
            timing.cpu_seconds = time.process_time() - cpu
            gc.callbacks.remove(timing.on_gc)
            gc.enable()
            return timing
        profile = cProfile.Profile()
        profile.enable()
        await asyncio.gather(*(client(c * each, each) for c in range(concurrency)))
        profile.disable()
    return pstats.Stats(profile)


def _report_timing(timing: Timing, requests: int) -> None:
    ms = sorted(t * 1000 for t in timing.latencies)

    def at(q: float) -> float:
        return ms[min(len(ms) - 1, int(len(ms) * q))]

    print(f"CPU per request: {timing.cpu_seconds * 1e6 / requests:,.0f} µs")
    print("time through the app (ms): " + ", ".join(
        f"p{q * 100:g} {at(q):.1f}" for q in (0.5, 0.9, 0.95, 0.99, 0.999))
        + f", max {ms[-1]:.1f}; p99/p50 {at(0.99) / at(0.5):.2f}")
    if not timing.pauses:
        print("garbage collector: no collection (off, or nothing to collect)")
    for generation, pauses in sorted(timing.pauses.items()):
        print(f"garbage collector, generation {generation}: {len(pauses)} collections, "
              f"{sum(pauses) * 1000:.1f} ms in all, longest {max(pauses) * 1000:.2f} ms")


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
    parser.add_argument("--latency", action="store_true",
                        help="CPU, latency percentiles and GC pauses instead of calls")
    parser.add_argument("--no-gc", action="store_true",
                        help="with --latency: the garbage collector off while timing")
    args = parser.parse_args()
    requests = args.requests // args.concurrency * args.concurrency
    # uvloop, as uvicorn runs the app (asyncio's own loop adds ~300 calls a request)
    if args.latency:
        timing = uvloop.run(_count(args.read, requests, args.concurrency, Timing(), args.no_gc))
        assert isinstance(timing, Timing)
        _report_timing(timing, requests)
        return
    stats = uvloop.run(_count(args.read, requests, args.concurrency))
    _report(stats, requests, args.top)


if __name__ == "__main__":
    main()
