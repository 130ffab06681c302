"""Requests/s and latency of the `transactions` first page (50 rows), API vs floor.

    .venv/bin/python -m bench.generate          # once: 250k transactions in qrefund_bench
    .venv/bin/python -m bench.run [--duration 10] [--concurrency 8] [--profile]

Serves the API (``qrefund.app:create_app``) and the floor (``bench.floor``) with
uvicorn on 127.0.0.1, one process each, then drives each with a fixed number of
concurrent httpx clients for a fixed time, after a warm-up, and prints
requests/s, p50 and p99 side by side with the ratio. ``/healthz`` is measured
too: it is the ceiling of this harness (client + HTTP server, no work).
With ``--profile`` the API runs under pyinstrument and the profile is written to
``bench/results/api-profile.txt``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from typing import Any

import httpx

from bench.common import DATABASE_URL, ENCRYPTION_KEY, RESULTS, load_keys, wait_ready

QUERY = """query Page($first: Int!) { transactions(first: $first) {
  pageInfo { hasNextPage endCursor }{total}
  edges { cursor node { id merchantOrderNo amount { amount currency }
    refundableAmount { amount currency } status channel paidAt terminalId } } } }"""


@dataclass
class Result:
    name: str
    requests: int
    errors: int
    rps: float
    p50_ms: float
    p99_ms: float


def query(total_count: bool) -> str:
    return QUERY.replace("{total}", " totalCount" if total_count else "")


def _server(
    module: str, port: int, *, factory: bool, profile: bool, tree: str | None = None
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "QREFUND_DATABASE_URL": DATABASE_URL,
        "QREFUND_ENCRYPTION_KEY": ENCRYPTION_KEY,
        "QREFUND_ENVIRONMENT": "production",
        "QREFUND_LOG_LEVEL": "WARNING",
        "QREFUND_BENCH_DATABASE_URL": DATABASE_URL,
    }
    uvicorn = [
        "-m",
        "uvicorn",
        module,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-access-log",
        *(["--factory"] if factory else []),
    ]
    prefix = [sys.executable]
    if profile:
        out = RESULTS / "api-profile.txt"
        prefix = [sys.executable, "-m", "pyinstrument", "-r", "text", "-o", str(out)]
    if tree:  # serve another checkout (e.g. a git worktree of an older revision)
        env["PYTHONPATH"] = tree
    return subprocess.Popen([*prefix, *uvicorn], env=env, cwd=tree)


def _check(body: dict[str, Any]) -> bool:
    try:
        return "errors" not in body and len(body["data"]["transactions"]["edges"]) == 50
    except (KeyError, TypeError):
        return False


def _free_port() -> int:
    # Other benchmarks may be serving on fixed ports on this machine: ask the OS.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def _drive(
    name: str,
    method: str,
    url: str,
    payload: Any,
    keys: list[str],
    concurrency: int,
    duration: float,
    warmup: float,
) -> Result:
    latencies: list[float] = []
    errors = 0

    async def worker(n: int, until: float, record: bool) -> None:
        nonlocal errors
        headers = {"Authorization": f"Bearer {keys[n % len(keys)]}"}
        async with httpx.AsyncClient(headers=headers, timeout=30) as client:
            while time.perf_counter() < until:
                started = time.perf_counter()
                response = await client.request(method, url, json=payload)
                elapsed = time.perf_counter() - started
                good = response.status_code == 200 and (payload is None or _check(response.json()))
                if record:
                    latencies.append(elapsed)
                    errors += 0 if good else 1

    await asyncio.gather(
        *(worker(n, time.perf_counter() + warmup, False) for n in range(concurrency))
    )
    started = time.perf_counter()
    await asyncio.gather(*(worker(n, started + duration, True) for n in range(concurrency)))
    took = time.perf_counter() - started
    ordered = sorted(latencies)
    return Result(
        name,
        len(ordered),
        errors,
        len(ordered) / took,
        statistics.median(ordered) * 1000,
        ordered[int(len(ordered) * 0.99)] * 1000,
    )


async def measure(args: argparse.Namespace) -> list[Result]:
    keys = load_keys()
    api_port = args.port or _free_port()
    floor_port = _free_port()
    servers = [
        _server(
            "qrefund.app:create_app",
            api_port,
            factory=True,
            profile=args.profile,
            tree=args.api_tree,
        ),
        _server("bench.floor:app", floor_port, factory=False, profile=False),
    ]
    try:
        await wait_ready(f"http://127.0.0.1:{api_port}/healthz")
        await wait_ready(f"http://127.0.0.1:{floor_port}/healthz")
        runs = [
            ("ceiling (GET /healthz)", "GET", f"http://127.0.0.1:{api_port}/healthz", None),
            (
                "floor (Starlette + SQL)",
                "POST",
                f"http://127.0.0.1:{floor_port}/page{'?count=1' if args.total_count else ''}",
                {"first": 50},
            ),
            (
                "API (GraphQL transactions)",
                "POST",
                f"http://127.0.0.1:{api_port}/graphql",
                {"query": query(args.total_count), "variables": {"first": 50}},
            ),
        ]
        return [
            await _drive(
                name, method, url, payload, keys, args.concurrency, args.duration, args.warmup
            )
            for name, method, url, payload in runs
        ]
    finally:
        for server in servers:
            server.send_signal(signal.SIGINT)
        for server in servers:
            server.wait(timeout=60)


def report(results: list[Result], args: argparse.Namespace) -> None:
    what = " with totalCount" if args.total_count else ""
    print(
        f"transactions first page (50 rows){what}, {args.concurrency} concurrent clients, "
        f"{args.duration:.0f}s each after {args.warmup:.0f}s warm-up"
    )
    print(f"{'':30} {'req/s':>9} {'p50 ms':>9} {'p99 ms':>9} {'errors':>7}")
    for r in results:
        print(f"{r.name:30} {r.rps:9.0f} {r.p50_ms:9.2f} {r.p99_ms:9.2f} {r.errors:7d}")
    by_name = {r.name.split(" ")[0]: r for r in results}
    floor, api = by_name["floor"], by_name["API"]
    print(
        f"API / floor: {floor.rps / api.rps:.2f}x fewer req/s, "
        f"p50 {api.p50_ms / floor.p50_ms:.2f}x, p99 {api.p99_ms / floor.p99_ms:.2f}x"
    )
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"transactions_page{'_count' if args.total_count else ''}.json"
    out.write_text(
        json.dumps({"args": vars(args), "results": [asdict(r) for r in results]}, indent=2)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--port", type=int, default=0, help="the API's port (default: any free)")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--total-count", action="store_true", help="also count the matches")
    parser.add_argument("--api-tree", help="serve the API from this checkout (before/after)")
    args = parser.parse_args()
    report(asyncio.run(measure(args)), args)


if __name__ == "__main__":
    main()
