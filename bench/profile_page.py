"""Profile one read or write of the API in-process (no HTTP server, no client).

    .venv/bin/python -m bench.profile_page [--read cases|transactions|node|complaints|typename]
        [--write submit|review|approve] [--merchants 1] [--first-merchant 0]
        [--requests 300] [--concurrency 1] [--html] [--timing]

Calls the ASGI app directly with httpx's ASGI transport, one request at a time, on
the refund-case dataset (``python -m bench.refund_cases generate``), with the same
documents as ``bench.compare``; prints where the time goes per request under
pyinstrument, or with ``--timing`` only the wall and CPU time per request without a
profiler (the figure to compare between two changes).

``--write`` runs ``bench.compare``'s three mutations in its order on ``--requests`` spare
payments spread over ``--merchants`` merchants (submit each, then review each case, then
approve each) and profiles the one named; with ``--timing`` it prints all three. The
payments it used are taken out of the keys file, as ``bench.compare`` does.
``--concurrency N`` keeps N writes in flight (as wrk's connections do) and adds each
step's latency percentiles: one merchant's writes then queue on its row locks in-process,
where the profiler and the CPU clock can see what the queue costs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import json
import os
import time
import uuid
from collections.abc import Callable
from typing import Any

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


def _environment() -> None:
    from bench.refund_cases import DATABASE_URL, ENCRYPTION_KEY

    os.environ.update({
        "QREFUND_DATABASE_URL": DATABASE_URL, "QREFUND_ENCRYPTION_KEY": ENCRYPTION_KEY,
        "QREFUND_LOG_LEVEL": "WARNING", "QREFUND_ENVIRONMENT": "production",
        "QREFUND_PUBLIC_BASE_URL": "https://bench.invalid",
        "QREFUND_RATE_LIMIT_PER_KEY": "100000000/minute",
        "QREFUND_REDIS_URL": os.environ.get("QREFUND_BENCH_REDIS_URL",
                                            "redis://127.0.0.1:6379/12")})


async def run(read: str, requests: int, html: bool, timing: bool) -> None:
    _environment()
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
    if not timing:
        _report(profiler, read, html)


def _report(profiler: Any, name: str, html: bool) -> None:
    if html:
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / f"{name}-profile.html").write_text(profiler.output_html())
    print(profiler.output_text(show_all=False, color=False, short_mode=False))
    if os.environ.get("BENCH_FLAT"):
        print(profiler.output_text(color=False, flat=True, show_all=True)[:8000])


def _write_bodies(merchants: range, requests: int) -> Callable[[str], list[Any]]:
    """The spare payments to write on (taken off the keys file's pools) and a function
    that turns each step into its (key, JSON body) list once the step before has run."""
    from bench import compare
    from bench.refund_cases import _load_keys
    from qrefund.graphql_schema.ids import encode

    RESULTS.mkdir(exist_ok=True)
    with open(RESULTS / "refund_keys.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # a run side by side takes its payments in turn
        data = _load_keys()
        pools = [list(p) for p in data["spare_by_merchant"]]
        per = max(requests // len(merchants), 1)
        if any(len(pools[i]) < per for i in merchants):
            raise SystemExit("too few spare payments: run `python -m bench.refund_cases "
                             "generate`")
        tenants = {i: uuid.UUID(data["merchants"][i]) for i in merchants}
        taken = {i: pools[i][:per] for i in merchants}
        for i in merchants:
            del pools[i][:per]
        data["spare_by_merchant"], data["spare"] = pools, pools[0]
        compare._save_keys(data)  # used from here on, whatever happens below

    cases: dict[int, list[str]] = {}

    def bodies(step: str) -> list[tuple[str, dict[str, Any]]]:
        if step == "review":  # the cases submit opened (approve takes the same ones)
            cases.update({i: compare._submitted_cases(tenants[i], taken[i]) for i in merchants})
        out = []
        for i in merchants:
            if step == "submit":
                out.append([(data["keys"][f"{i}:INTEGRATION"], json.loads(compare._mutation_body(
                    "SubmitRefundRequest", {
                        "transactionId": encode("Transaction", tenants[i], uuid.UUID(p)),
                        "amount": "5.00", "reason": "QUALITY_ISSUE", "channel": "API",
                        "idempotencyKey": uuid.uuid4().hex}))) for p in taken[i]])
                continue
            agent = data["keys"][f"{i}:REFUND_AGENT"]
            name = "StartRefundReview" if step == "review" else "ApproveRefund"
            out.append([(agent, json.loads(compare._mutation_body(
                name, {"id": c} if step == "review" else {
                    "id": c, "idempotencyKey": uuid.uuid4().hex})))
                for c in cases[i]])
        return [item for group in zip(*out, strict=False) for item in group]

    return bodies


async def _in_flight(send: Callable[..., Any], load: list[Any], concurrency: int) -> list[float]:
    """Send ``load`` with ``concurrency`` requests in flight; each one's seconds."""
    pending, latencies = iter(load), []

    async def worker() -> None:
        for key, body in pending:
            started = time.perf_counter()
            await send(key, body)
            latencies.append(time.perf_counter() - started)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies


def _percentiles(latencies: list[float]) -> str:
    ordered = sorted(latencies)

    def at(share: float) -> float:
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000

    return (f", p50 {at(0.5):.1f} ms, p90 {at(0.9):.1f}, p99 {at(0.99):.1f}, "
            f"p99/p50 {at(0.99) / at(0.5):.2f}")


async def run_writes(write: str, merchants: range, requests: int, html: bool,
                     timing: bool, concurrency: int = 1) -> None:
    """submit, review and approve on fresh payments (in that order, each step on what
    the step before made), timing each and profiling ``write``."""
    _environment()
    from pyinstrument import Profiler

    from qrefund.app import create_app

    bodies = _write_bodies(merchants, requests)
    app = create_app()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://bench") as client, \
            app.router.lifespan_context(app):
        async def send(key: str, body: dict[str, Any]) -> None:
            response = await client.post(
                "/graphql", json=body, headers={"Authorization": f"Bearer {key}"})
            answer = next(iter(response.json()["data"].values()))
            assert not answer["userErrors"], response.text[:500]

        for step in ("submit", "review", "approve"):
            load = bodies(step)
            warm = len(load) // 10  # the first tenth warms caches, pool, plans: not timed
            for key, body in load[:warm]:
                await send(key, body)
            load = load[warm:]
            profiler = Profiler(async_mode="enabled", interval=0.0005)
            started, cpu = time.perf_counter(), time.process_time()
            with profiler if step == write and not timing else contextlib.nullcontext():
                latencies = await _in_flight(send, load, concurrency)
            took, cpu = time.perf_counter() - started, time.process_time() - cpu
            print(f"{step}: {len(load)} requests, {took / len(load) * 1000:.2f} ms wall, "
                  f"{cpu / len(load) * 1000:.2f} ms CPU each"
                  f"{_percentiles(latencies) if concurrency > 1 else ''}"
                  f"{' (under the profiler)' if step == write and not timing else ''}")
            if step == write and not timing:
                _report(profiler, write, html)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--read", default="cases",
                        choices=["cases", "transactions", "node", "complaints", "typename"])
    parser.add_argument("--write", choices=["submit", "review", "approve"],
                        help="profile a write instead of a read")
    parser.add_argument("--merchants", type=int, default=1,
                        help="the merchants --write spreads its requests over")
    parser.add_argument("--first-merchant", type=int, default=0,
                        help="the first of them (two runs side by side on merchants of "
                             "their own: an A/B of two trees at the same machine speed)")
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=1,
                        help="writes in flight at once (--write only)")
    parser.add_argument("--html", action="store_true")
    parser.add_argument("--timing", action="store_true")
    args = parser.parse_args()
    if args.write:
        merchants = range(args.first_merchant, args.first_merchant + args.merchants)
        asyncio.run(run_writes(args.write, merchants, args.requests, args.html, args.timing,
                               args.concurrency))
    else:
        asyncio.run(run(args.read, args.requests, args.html, args.timing))


if __name__ == "__main__":
    main()
