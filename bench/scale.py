"""Page latency as data grows: refund cases per merchant, and 1,000 tenants' transactions.

    .venv/bin/python -m bench.scale [--cases 60,1000,50000] [--tenants 1000]
        [--transactions 10000000] [--skip-cases] [--skip-transactions] [--reuse]
        [--duration 8] [--rounds 3] [--deep 10]

Cases: one database (QREFUND_BENCH_SCALE_DATABASE_URL, default ``qrefund_bench_scale``)
with one merchant per ``--cases`` size, loaded set-based by :mod:`bench.scale_load`. Per
merchant, the ``refundCases`` first page (``bench.compare``'s CASES_QUERY), page
``--deep`` (the same query with ``after`` = the previous page's ``endCursor``; the last
full page of a merchant with fewer) and, unless ``--no-far-pages``, the middle and the
last full page of a merchant with more pages than that. Transactions: a second database
(QREFUND_BENCH_SCALE_TXNS_DATABASE_URL, default ``qrefund_bench_scale_txns``) with
``--tenants`` merchants (in agencies of 19, one in 20 standalone) sharing
``--transactions`` payments with ``bench.generate``'s long tail, plus 10 tiny merchants;
the ``transactions`` first page of the largest, the median and a tiny merchant.

Every page is first walked through the API (answers without errors, the expected number
of edges, ``hasNextPage`` right, no row twice), then measured as ``bench.compare`` does:
the API (``bench.compare._start``: uvicorn pinned to core 0, production settings,
Redis ``QREFUND_BENCH_SCALE_REDIS_URL``, default db 11), wrk on core 1 with
``--connections`` (16) for ``--duration`` seconds, ``--rounds`` interleaved rounds after
a warm-up; req/s, p50, p99 and CPU ms per request of the server (medians of the
rounds). Then EXPLAIN (ANALYZE, BUFFERS) of the statements the API runs for the page
(:mod:`bench.scale_explain`: as the application role with the key's tenant setting).
``--reuse`` keeps a database whose recorded load (its comment) has the asked sizes.
Figures and plans go to ``bench/results/scale.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from unittest import mock
from uuid import UUID

import httpx
import psycopg

from bench import compare, wrk
from bench.common import ENCRYPTION_KEY, RESULTS, libpq_url, wait_ready
from bench.scale_explain import Plan, explain_request, print_plans
from bench.scale_load import load_cases_database, load_transactions_database, mint_viewer_key
from qrefund.graphql_schema.ids import encode
from qrefund.platform.pagination import encode_cursor

CASES_URL = os.environ.get("QREFUND_BENCH_SCALE_DATABASE_URL",
                           "postgresql+psycopg://postgres@127.0.0.1:5432/qrefund_bench_scale")
TXNS_URL = os.environ.get(
    "QREFUND_BENCH_SCALE_TXNS_DATABASE_URL",
    "postgresql+psycopg://postgres@127.0.0.1:5432/qrefund_bench_scale_txns")
REDIS_URL = os.environ.get("QREFUND_BENCH_SCALE_REDIS_URL", "redis://127.0.0.1:6379/11")
PAGE = 50


def with_after(query: str, field_name: str) -> str:
    """``bench.compare``'s page query, also taking ``after`` (the text is otherwise the
    same)."""
    head = f"query Page($first: Int!) {{ {field_name}(first: $first)"
    if head not in query:
        raise SystemExit(f"bench.compare's {field_name} query changed: {head!r} not in it")
    return query.replace(head, f"query Page($first: Int!, $after: String) "
                               f"{{ {field_name}(first: $first, after: $after)")


@dataclass
class Target:
    """One measured page: a merchant's key and the request body."""

    section: str  # "refundCases" or "transactions"
    merchant: str
    rows: int  # the merchant's cases or transactions
    page: int  # 1: the first page
    kind: str  # "first", "deep", "middle" or "last"
    key: str
    body: dict[str, Any]
    runs: list[dict[str, Any]] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"{self.section} {self.rows:,} rows, page {self.page}"

    def median(self, name: str) -> float:
        return statistics.median(r[name] for r in self.runs) if self.runs else 0.0


@contextmanager
def serving(database_url: str) -> Iterator[compare.Server]:
    """The API as ``bench.compare`` serves it (its ``_start``), on ``database_url``."""
    with mock.patch.multiple(compare, DATABASE_URL=database_url,
                             ENCRYPTION_KEY=ENCRYPTION_KEY, REDIS_URL=REDIS_URL):
        server = compare._start("api", "qrefund.app:create_app", None, factory=True)
    try:
        asyncio.run(wait_ready(server.url + "/healthz"))
        yield server
    finally:
        server.rss_peak_mb = compare.peak_rss_mb(server.process.pid)
        server.process.send_signal(signal.SIGINT)
        server.process.wait(timeout=60)


def mint_keys(database_url: str, merchants: list[UUID]) -> list[str]:
    with psycopg.connect(libpq_url(database_url)) as conn, conn.cursor() as cur:
        return [mint_viewer_key(cur, m) for m in merchants]


async def walk(server: compare.Server, section: str, key: str, rows: int,
               pages: int) -> list[dict[str, Any]]:
    """Request bodies of pages 1..``pages`` (each ``after`` the last one's endCursor),
    checking every answer: no errors, ``min(50, left)`` edges, ``hasNextPage`` iff rows
    are left, no id twice."""
    first = compare.CASES_QUERY if section == "refundCases" else compare.TRANSACTIONS_QUERY
    later = with_after(first, section)
    bodies: list[dict[str, Any]] = [{"query": first, "variables": {"first": PAGE}}]
    seen: set[str] = set()
    async with httpx.AsyncClient(timeout=60) as client:
        for n in range(1, pages + 1):
            response = await client.post(server.url + "/graphql", json=bodies[-1],
                                         headers={"Authorization": f"Bearer {key}"})
            answer = response.json()
            if response.status_code != 200 or answer.get("errors"):
                raise SystemExit(f"{section} page {n}: {json.dumps(answer)[:800]}")
            data = answer["data"][section]
            left = rows - (n - 1) * PAGE
            ids = [e["node"]["id"] for e in data["edges"]]
            if len(ids) != min(PAGE, left) or data["pageInfo"]["hasNextPage"] != (left > PAGE):
                raise SystemExit(f"{section} page {n} of a merchant with {rows} rows: "
                                 f"{len(ids)} edges, hasNextPage "
                                 f"{data['pageInfo']['hasNextPage']}")
            if seen.intersection(ids) or (section == "refundCases" and any(
                    e["node"]["transaction"] is None or e["node"]["lastEvent"] is None
                    for e in data["edges"])):
                raise SystemExit(f"{section} page {n}: a repeated row or a missing relation")
            seen.update(ids)
            if n < pages:
                bodies.append({"query": later, "variables": {
                    "first": PAGE, "after": data["pageInfo"]["endCursor"]}})
    return bodies


async def jump(server: compare.Server, url: str, key: str, merchant: UUID, rows: int,
               page: int) -> dict[str, Any]:
    """The body of ``transactions`` page ``page`` without walking there: ``after`` is the
    cursor of the row before it, read from the database in the API's order
    (``paid_at DESC, id DESC``); the API's answer must start with the row after it."""
    with psycopg.connect(libpq_url(url)) as conn:
        before, first = conn.execute(
            "SELECT paid_at, id FROM transactions WHERE tenant_id = %s "
            "ORDER BY paid_at DESC, id DESC OFFSET %s LIMIT 2",
            (merchant, (page - 1) * PAGE - 1)).fetchall()
    body = {"query": with_after(compare.TRANSACTIONS_QUERY, "transactions"),
            "variables": {"first": PAGE, "after": encode_cursor([before[0], before[1]])}}
    async with httpx.AsyncClient(timeout=60) as client:
        response = await client.post(server.url + "/graphql", json=body,
                                     headers={"Authorization": f"Bearer {key}"})
    answer = response.json()
    data = (answer.get("data") or {}).get("transactions") or {}
    edges = data.get("edges") or []
    if (answer.get("errors") or len(edges) != min(PAGE, rows - (page - 1) * PAGE)
            or edges[0]["node"]["id"] != encode("Transaction", merchant, first[1])
            or data["pageInfo"]["hasNextPage"] != (rows > page * PAGE)):
        raise SystemExit(f"transactions page {page} of a merchant with {rows} rows: "
                         f"{json.dumps(answer)[:800]}")
    return body


def pages_of(rows: int, deep: int, far: bool) -> dict[str, int]:
    """The first page, page ``deep`` (or the last full page of a merchant with fewer)
    and, with ``far``, the middle and the last full page when they lie deeper still."""
    full = rows // PAGE
    pages = {"first": 1}
    if min(deep, full) > 1:
        pages["deep"] = min(deep, full)
    if far and full // 2 > deep:
        pages["middle"] = full // 2
    if far and full > deep:
        pages["last"] = full
    return pages


def targets_for(server: compare.Server, url: str, section: str,
                merchants: list[tuple[UUID, int]], keys: list[str],
                args: argparse.Namespace) -> list[Target]:
    """The pages of :func:`pages_of` per merchant, each checked through the API:
    refundCases by walking every page up to the deepest, transactions by a cursor
    read from the database (the largest merchant has 20,000 pages)."""
    targets = []
    for (merchant, rows), key in zip(merchants, keys, strict=True):
        pages = pages_of(rows, args.deep, not args.no_far_pages)
        if section == "refundCases":
            bodies = asyncio.run(walk(server, section, key, rows, max(pages.values())))
            chosen = {kind: bodies[page - 1] for kind, page in pages.items()}
            how = f"pages 1..{len(bodies)} walked"
        else:
            chosen = {kind: (asyncio.run(walk(server, section, key, rows, 1))[0] if page == 1
                             else asyncio.run(jump(server, url, key, merchant, rows, page)))
                      for kind, page in pages.items()}
            how = f"pages {', '.join(map(str, pages.values()))} checked"
        print(f"  {section}: merchant with {rows:,} rows: {how}", flush=True)
        targets += [Target(section, str(merchant), rows, pages[kind], kind, key, body)
                    for kind, body in chosen.items()]
    return targets


def measure(server: compare.Server, targets: list[Target], args: argparse.Namespace) -> None:
    """A warm-up per page, then ``--rounds`` rounds of every page in turn."""
    loads = {id(t): wrk.Load("/graphql", [(t.key, json.dumps(t.body))]) for t in targets}
    for t in targets:
        compare.measure(server, "", loads[id(t)], args, args.warmup, record=False)
    for round_no in range(args.rounds):
        print(f"  round {round_no + 1}", flush=True)
        for t in targets:
            t.runs.append(compare.measure(server, t.label, loads[id(t)], args))


def _ratio(big: Target, small: Target, name: str) -> str:
    low = small.median(name)
    return f"x{big.median(name) / low:.2f}" if low else "n/a"


def report(title: str, targets: list[Target]) -> list[str]:
    lines = [f"\n{title}: medians of the rounds (wrk 16 connections on core "
             f"{compare.LOAD_CORE}, API one process on core {compare.API_CORE})",
             f"{'rows of the merchant':>21} {'page':>5} {'req/s':>7} {'p50 ms':>8} "
             f"{'p99 ms':>8} {'CPU ms':>7} {'bad':>4}"]
    for t in targets:
        lines.append(f"{t.rows:21,} {t.page:5d} {t.median('rps'):7.0f} "
                     f"{t.median('p50_ms'):8.1f} {t.median('p99_ms'):8.1f} "
                     f"{t.median('cpu_ms'):7.2f} {sum(r['bad'] for r in t.runs):4d}")
    for page_kind in ("first", "deep", "middle", "last"):  # pages of 50 rows only: like for like
        group = [t for t in targets if t.kind == page_kind and t.rows >= PAGE]
        if len(group) < 2:
            continue
        big, small = max(group, key=lambda t: t.rows), min(group, key=lambda t: t.rows)
        lines.append(f"{page_kind} page (50 rows), {big.rows:,}-row merchant (page "
                     f"{big.page:,}) / {small.rows:,}-row (page {small.page:,}): p50 "
                     f"{_ratio(big, small, 'p50_ms')}, CPU ms {_ratio(big, small, 'cpu_ms')}"
                     f", req/s {_ratio(big, small, 'rps')}")
    print("\n".join(lines), flush=True)
    return lines


def database_size(url: str) -> dict[str, Any]:
    with psycopg.connect(libpq_url(url)) as conn:
        row = conn.execute(
            "SELECT pg_database_size(current_database()), "
            "pg_total_relation_size('transactions'), pg_relation_size('transactions'), "
            "pg_total_relation_size('refund_cases'), "
            "pg_total_relation_size('refund_case_events')").fetchone()
    assert row is not None
    names = ["database", "transactions", "transactions_heap", "refund_cases",
             "refund_case_events"]
    return {n: int(v) for n, v in zip(names, row, strict=True)}


def print_size(size: dict[str, Any]) -> None:
    print("size: " + ", ".join(f"{k} {v / 2**20:,.0f} MB" for k, v in size.items()),
          flush=True)


def explain(url: str, target: Target, only_first: bool) -> list[Plan]:
    plans = asyncio.run(explain_request(url, REDIS_URL, target.key, target.body,
                                        only_first=only_first))
    print_plans(f"{target.section}, merchant with {target.rows:,} rows, page {target.page}",
                plans)
    return plans


def run_section(name: str, url: str, info: dict[str, Any], merchants: list[tuple[UUID, int]],
                args: argparse.Namespace) -> dict[str, Any]:
    """Check, measure and explain the pages of ``merchants``; what goes to the JSON."""
    size = database_size(url)
    print_size(size)
    keys = mint_keys(url, [m for m, _n in merchants])
    with serving(url) as server:
        targets = targets_for(server, url, name, merchants, keys, args)
        measure(server, targets, args)
    lines = report(name, targets)
    biggest = max(t.rows for t in targets)
    plans = {}
    for t in targets:
        if t.rows == biggest or (name == "transactions" and t.kind == "first"):
            full = name == "refundCases" and t.page == 1
            plans[t.label] = [p.as_json() for p in explain(url, t, only_first=not full)]
    return {"load": info, "size": size, "table": lines, "plans": plans,
            "targets": [{k: v for k, v in vars(t).items() if k != "key"} for t in targets]}


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--cases", default="60,1000,50000",
                        help="refund cases of each merchant, comma-separated")
    parser.add_argument("--tenants", type=int, default=1000, help="merchants")
    parser.add_argument("--transactions", type=int, default=10_000_000)
    parser.add_argument("--skip-cases", action="store_true")
    parser.add_argument("--skip-transactions", action="store_true")
    parser.add_argument("--reuse", action="store_true",
                        help="keep a database already loaded with these sizes")
    parser.add_argument("--duration", type=float, default=8.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--deep", type=int, default=10, help="the deep page's number")
    parser.add_argument("--no-far-pages", action="store_true",
                        help="skip the middle and last full pages")
    args = parser.parse_args()
    os.environ.setdefault("QREFUND_ENCRYPTION_KEY", ENCRYPTION_KEY)  # in-process API
    wrk.ensure_wrk()
    results: dict[str, Any] = {"args": vars(args), "started": datetime.now(UTC).isoformat()}
    started = time.perf_counter()
    if not args.skip_cases:
        print(f"== refund cases per merchant: {args.cases} ({CASES_URL})", flush=True)
        sizes = [int(n) for n in args.cases.split(",")]
        info = load_cases_database(CASES_URL, sizes, args.reuse)
        merchants = [(UUID(m), n) for m, n in info["merchants"]]
        results["refundCases"] = run_section("refundCases", CASES_URL, info, merchants, args)
    if not args.skip_transactions:
        print(f"\n== {args.tenants:,} merchants, {args.transactions:,} transactions "
              f"({TXNS_URL})", flush=True)
        info = load_transactions_database(TXNS_URL, args.tenants, args.transactions,
                                          args.reuse)
        ranked = sorted(((UUID(m), n) for m, n in info["merchants"]), key=lambda x: -x[1])
        chosen = [ranked[0], ranked[len(ranked) // 2], ranked[-1]]
        results["transactions"] = run_section("transactions", TXNS_URL, info, chosen, args)
    results["seconds"] = time.perf_counter() - started
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "scale.json").write_text(json.dumps(results, indent=2, default=str))
    print(f"\nall done in {results['seconds']:.0f} s; figures and plans in "
          f"{RESULTS / 'scale.json'}")


if __name__ == "__main__":
    main()
