"""The read path and two mutations, API vs plain-SQL floor (and PostGraphile for the
reads), measured with wrk.

    .venv/bin/python -m bench.refund_cases generate   # once: 16 merchants, spare payments
    .venv/bin/python -m bench.compare [--api before=/tmp/before] [--duration 8]
        [--no-reads | --no-writes] [--write-merchants 1,16] [--write-requests 300]
        [--no-postgraphile] [--services-core 1|none]

Every server is one process pinned to core 0 (``taskset``; uvicorn, node for
PostGraphile), wrk is pinned to core 1 with 16 connections (one thread), installed from
Debian's packages when missing. For the timed rounds PostgreSQL and Redis are pinned to
the load core too (``bench.placement``; ``--services-core none`` leaves them to the
scheduler, which put them on the server's core often enough to take 15% of it from the
API), and every run prints how busy the server's core and the load core were. Servers:
the floor (``bench.reads_floor``: the same SQL as the same RLS role, the same JSON) and
one API process per ``--api NAME=TREE`` (default: this checkout as ``api``; another
tree, e.g. ``git worktree add /tmp/before <rev>``, serves the API of that revision
against the same database). Production settings, Redis db ``QREFUND_BENCH_REDIS_URL``
(default db 12), the per-key rate limit raised so that it still costs its Redis call but
never refuses. For the reads, when ``node`` is installed (``--no-postgraphile`` to leave
it out), PostGraphile 4 too, on the same core, as the same RLS role with the same tenant
setting (``bench.postgraphile``: installed with npm under ``bench/results``, one SQL
function added to the bench database).

Before timing, every read is asked of every server with every key and the answers
must be equal (the whole ``data``; PostGraphile's, whose shape differs, mapped to the
same canonical rows as the floor's). Then 3 interleaved rounds: per query, the floor,
each API and PostGraphile in turn, each for ``--duration`` seconds. Per run: req/s, p50,
p99 (wrk's latency histogram) and their ratio (the tail), CPU ms per request (utime +
stime of the server process from ``/proc`` over the run, divided by requests), bad
answers (non-200, GraphQL errors or userErrors). The table gives the median of the
rounds, the range of req/s, and the ratio to the floor measured in the same round. Writes
(``submitRefundRequest``, ``startRefundReview``, ``approveRefund``: each request on
a payment or case of its own, ``--write-requests`` per run) run against the floor's
write routes (``bench.writes_floor``: the same rows, the same row locks in the same
order, one transaction as the RLS role, the same JSON) and each API, every server on
payments of its own, once on merchant 0 and once spread over 16 merchants
(``--write-merchants``): a merchant's writes share its event-sequence row lock. Before
timing, each server runs the three writes once on a spare payment of merchant 0 and
every API must have done what the floor did: per table the same numbers of inserted
and updated rows and the same row shapes (``bench.write_rows``), and the same
statuses; then, as the reads' warm-up does, every server runs each spread's writes
once untimed (``WARM_UP_WRITES``; their figures are printed, not tabled). A write's
``x floor`` is the API's req/s over the floor's in the same round and spread. Compare
fails before starting servers when the data has too few merchants or spare payments
for the runs asked for; the payments a run used are taken out of the keys file, so a
later run never sends one twice. Peak RSS (VmHWM) of each server is printed at the end.
Figures go to ``bench/results/compare.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
import psycopg

from bench import placement, postgraphile, write_rows, wrk
from bench.common import RESULTS, libpq_url, wait_ready
from bench.refund_cases import DATABASE_URL, ENCRYPTION_KEY, _load_keys, _save_keys
from bench.run import _free_port

REDIS_URL = os.environ.get("QREFUND_BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
API_CORE, LOAD_CORE = 0, 1
CASES_QUERY = """query Page($first: Int!) { refundCases(first: $first) {
  pageInfo { hasNextPage endCursor }
  edges { cursor node { id caseNumber status requestedAmount { amount currency }
    approvedAmount { amount currency } reason channel method reviewDueAt completionDueAt
    escalationLevel createdAt
    transaction { id merchantOrderNo amount { amount currency }
      refundableAmount { amount currency } }
    lastEvent { type actor occurredAt } } } } }"""
TRANSACTIONS_QUERY = """query Page($first: Int!) { transactions(first: $first) {
  pageInfo { hasNextPage endCursor }
  edges { cursor node { id merchantOrderNo amount { amount currency }
    refundableAmount { amount currency } status channel paidAt terminalId } } } }"""
NODE_QUERY = """query One($id: ID!) { node(id: $id) { __typename ... on RefundCase {
  id caseNumber status requestedAmount { amount currency } approvedAmount { amount currency }
  reason channel method reviewDueAt completionDueAt escalationLevel
  transaction { id merchantOrderNo amount { amount currency }
    refundableAmount { amount currency } } } } }"""
COMPLAINTS_QUERY = """query Page($first: Int!) { complaintTickets(first: $first) {
  pageInfo { hasNextPage endCursor }
  edges { cursor node { id ticketNumber status priority category channel description
    assignee team firstResponseDueAt resolutionDueAt firstRespondedAt nextDueAt
    escalationLevel isRepeat resolution createdAt updatedAt
    transaction { id merchantOrderNo amount { amount currency } } } } } }"""
MUTATION = """mutation M($i: %sInput!) { %s(input: $i) { refundCase { id status }
  userErrors { code message } } }"""
MUTATION_OK = '"userErrors":%s*%[%]'
# Before the timed rounds, each writing server runs every write on this many objects
# per spread, untimed: a merchant's first writes in a process pay for what later ones
# find ready (pool connections, its key look-up, statements on each connection, its
# rows' pages in PostgreSQL's buffers). Measured without it, the first round's
# 16-merchant submits had a p99 of 4.1x their p50 on the API (1.4-1.6 in the later
# rounds), 2.6x on the floor (1.7), its slowest requests all among the first. A run
# stops at its last object and cuts the requests still in flight (up to one a
# connection, and the next step then has fewer objects): 96 leaves every step some.
WARM_UP_WRITES = 96
WRITE_PATHS = {  # where each server takes each mutation (the same request bodies)
    "api": dict.fromkeys(("SubmitRefundRequest", "StartRefundReview", "ApproveRefund"),
                         "/graphql"),
    "floor": {"SubmitRefundRequest": "/submit", "StartRefundReview": "/review",
              "ApproveRefund": "/approve"},
}


@dataclass
class Server:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    kind: str = "api"  # which load it is sent: "floor", "api" or "postgraphile"
    rss_peak_mb: float = 0.0
    runs: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def _clock_ticks() -> int:
    return os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (its threads included)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _clock_ticks()


def peak_rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _start(name: str, module: str, tree: str | None, *, factory: bool,
           kind: str = "api") -> Server:
    port = _free_port()
    env = {**os.environ, "QREFUND_DATABASE_URL": DATABASE_URL,
           "QREFUND_ENCRYPTION_KEY": ENCRYPTION_KEY, "QREFUND_ENVIRONMENT": "production",
           "QREFUND_REDIS_URL": REDIS_URL, "QREFUND_PUBLIC_BASE_URL": "https://bench.invalid",
           "QREFUND_RATE_LIMIT_PER_KEY": "100000000/minute", "QREFUND_LOG_LEVEL": "WARNING",
           "QREFUND_BENCH_REFUNDS_DATABASE_URL": DATABASE_URL}
    if tree:
        env["PYTHONPATH"] = os.path.abspath(tree)
    cmd = ["taskset", "-c", str(API_CORE), sys.executable, "-m", "uvicorn", module,
           "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
           "--no-access-log", *(["--factory"] if factory else [])]
    return Server(name, port, subprocess.Popen(cmd, env=env, cwd=tree or None), kind)


def _start_postgraphile(args: argparse.Namespace) -> Server | None:
    """PostGraphile 4 on core 0 (bench/postgraphile.py), unless turned off, not needed
    (``--no-reads``) or node is missing."""
    if args.postgraphile is False or args.no_reads:
        return None
    version = postgraphile.ensure_installed()
    if version is None:
        if args.postgraphile:
            raise SystemExit("--postgraphile: node not found")
        print("PostGraphile skipped: node not found", flush=True)
        return None
    postgraphile.prepare_database(DATABASE_URL)
    print(f"PostGraphile {version} on node {postgraphile.node_version()}", flush=True)
    port = _free_port()
    return Server("postgraphile", port, postgraphile.start(port, DATABASE_URL, API_CORE),
                  kind="postgraphile")


def _key_tenant(key: str) -> uuid.UUID:
    return uuid.UUID(hex=key.split("_")[2][:32])


def _case_ids(keys: list[str], per_key: int) -> list[tuple[str, str]]:
    """(viewer key, RefundCase global id) pairs: cases of each key's merchant."""
    from qrefund.graphql_schema.ids import encode

    pairs: list[tuple[str, str]] = []
    with psycopg.connect(libpq_url(DATABASE_URL)) as conn:
        for key in keys:
            tenant = _key_tenant(key)
            rows = conn.execute("SELECT id FROM refund_cases WHERE tenant_id = %s "
                                "ORDER BY id LIMIT %s", (tenant, per_key)).fetchall()
            pairs += [(key, encode("RefundCase", tenant, r[0])) for r in rows]
    return pairs


def read_loads(data: dict[str, Any]) -> dict[str, dict[str, wrk.Load]]:
    """Per read: the floor's, the API's and PostGraphile's load (same keys, same order)."""
    viewers = [v for k, v in sorted(data["keys"].items()) if k.endswith(":VIEWER")]

    def body(query: str, variables: dict[str, Any]) -> str:
        return json.dumps({"query": query, "variables": variables})

    cases = [(k, body(CASES_QUERY, {"first": 50})) for k in viewers]
    txns = [(k, body(TRANSACTIONS_QUERY, {"first": 50})) for k in viewers]
    one = [(k, body(NODE_QUERY, {"id": gid})) for k, gid in _case_ids(viewers, 25)]
    complaints = [(k, body(COMPLAINTS_QUERY, {"first": 50})) for k in viewers]
    loads = {
        "refundCases page (50 + txn + last event)": {
            "floor": wrk.Load("/cases", cases), "api": wrk.Load("/graphql", cases)},
        "transactions page (50)": {
            "floor": wrk.Load("/transactions", txns), "api": wrk.Load("/graphql", txns)},
        "node(id) one case": {
            "floor": wrk.Load("/case", one), "api": wrk.Load("/graphql", one)},
        "complaint page (50)": {
            "floor": wrk.Load("/complaints", complaints),
            "api": wrk.Load("/graphql", complaints)},
    }
    for by_kind in loads.values():  # the same rows asked in PostGraphile's schema
        if by_kind["floor"].path in postgraphile.PATHS:
            by_kind["postgraphile"] = postgraphile.load(by_kind["floor"])
    return loads


async def validate(loads: dict[str, dict[str, wrk.Load]], floor: Server,
                   apis: list[Server]) -> None:
    """Every server answers every read with the same data (before any timing)."""
    async with httpx.AsyncClient(timeout=60) as client:
        for name, by_kind in loads.items():
            for n, (key, body) in enumerate(by_kind["floor"].items):
                answers = []
                for server, path in [(floor, by_kind["floor"].path),
                                     *((a, by_kind["api"].path) for a in apis)]:
                    response = await client.post(
                        server.url + path, content=body,
                        headers={"Authorization": f"Bearer {key}",
                                 "Content-Type": "application/json"})
                    answers.append((server.name, response.status_code, response.json()))
                first = answers[0]
                for other in answers[1:]:
                    if other[1:] != first[1:]:
                        raise SystemExit(f"{name} #{n}: {other[0]} differs from {first[0]}:\n"
                                         f"{json.dumps(other[2])[:1500]}\nvs\n"
                                         f"{json.dumps(first[2])[:1500]}")
            print(f"  {name}: {len(by_kind['floor'].items)} requests, answers equal", flush=True)


def measure(server: Server, label: str, load: wrk.Load, args: argparse.Namespace,
            duration: float | None = None, record: bool = True) -> dict[str, Any]:
    before, load_before = cpu_seconds(server.process.pid), placement.core_ticks(LOAD_CORE)
    result = wrk.run(server.url, load, duration=duration or args.duration,
                     connections=args.connections, core=LOAD_CORE)
    spent = cpu_seconds(server.process.pid) - before
    result["cpu_ms"] = spent * 1000 / max(result["requests"], 1)
    # How much of its core the server used, and how busy the load core (wrk, and the
    # database when it is pinned there) was: near 100% there, the load side set the pace.
    result["server_busy"] = result["cpu_ms"] * result["rps"] / 1000
    # A one-use load that ran out of objects counts its load core over the time it ran.
    result["load_busy"] = placement.core_busy(load_before, placement.core_ticks(LOAD_CORE),
                                              result["seconds"] if result.get("exhausted")
                                              else None)
    if record:
        server.runs.setdefault(label, []).append(result)
        print(f"    {server.name:12} {label:44} {result['rps']:8.0f} req/s  "
              f"p50 {result['p50_ms']:7.1f}  p99 {result['p99_ms']:7.1f} ms  "
              f"cpu {result['cpu_ms']:6.2f} ms  core {result['server_busy']:4.0%}  "
              f"load core {result['load_busy']:4.0%}  bad {result['bad']}", flush=True)
        if result["first_bad"]:
            print(f"      first bad answer: {result['first_bad']}", flush=True)
        if result.get("exhausted"):
            # req/s is over the time from the first request to the last answer (bench.wrk)
            print(f"      every object was used after {result['seconds']:.2f} s: req/s is over "
                  "that time" + ("; a short run: raise --write-requests"
                                 if result["seconds"] < 1 else ""), flush=True)
    return result


def _mutation_body(name: str, variables: dict[str, Any]) -> str:
    field_name = name[0].lower() + name[1:]
    return json.dumps({"query": MUTATION % (name, field_name), "variables": {"i": variables}})


def _submitted_cases(tenant: uuid.UUID, payments: list[str]) -> list[str]:
    from qrefund.graphql_schema.ids import encode

    with psycopg.connect(libpq_url(DATABASE_URL)) as conn:
        rows = conn.execute(
            "SELECT id FROM refund_cases WHERE tenant_id = %s AND status = 'SUBMITTED' "
            "AND transaction_id = ANY(%s) ORDER BY id",
            (tenant, [uuid.UUID(p) for p in payments])).fetchall()
    return [encode("RefundCase", tenant, r[0]) for r in rows]


def _per_merchant(requests: int, merchants: int) -> int:
    """The objects each merchant gets in a write run of ``requests`` over ``merchants``."""
    return max(requests // merchants, 1)


def measure_writes(server: Server, data: dict[str, Any], pools: list[list[str]],
                   merchants: int, args: argparse.Namespace, paths: dict[str, str],
                   warm_up: bool = False) -> None:
    """submitRefundRequest on fresh payments, then startRefundReview and approveRefund
    on the cases it opened (each request its own object), spread round-robin over the
    first ``merchants`` merchants, ``args.write_requests`` requests in all, sent to
    ``paths`` (the API's ``/graphql`` or the floor's routes: the same bodies). Every
    write of a merchant takes its event-sequence row lock: with one merchant they queue
    on one row, with several on one each. The payments are taken off ``pools``, so
    that no server ever gets one another used. ``warm_up``: :data:`WARM_UP_WRITES`
    requests, not recorded; their figures are printed."""
    from qrefund.graphql_schema.ids import encode

    per = _per_merchant(WARM_UP_WRITES if warm_up else args.write_requests, merchants)
    tenants = [uuid.UUID(t) for t in data["merchants"][:merchants]]
    taken = [pools[i][:per] for i in range(merchants)]
    for i in range(merchants):
        del pools[i][:per]
    suffix = f" ({merchants} merchant{'s' if merchants > 1 else ''})"

    def interleave(lists: list[list[tuple[str, str]]]) -> list[tuple[str, str]]:
        return [item for group in zip(*lists, strict=False) for item in group]

    submits = interleave([[(data["keys"][f"{i}:INTEGRATION"], _mutation_body(
        "SubmitRefundRequest", {
            "transactionId": encode("Transaction", tenants[i], uuid.UUID(p)),
            "amount": "5.00", "reason": "QUALITY_ISSUE", "channel": "API",
            "idempotencyKey": uuid.uuid4().hex})) for p in taken[i]]
        for i in range(merchants)])
    def run(label: str, path: str, load: list[tuple[str, str]]) -> None:
        result = measure(server, label + suffix, wrk.Load(path, load, MUTATION_OK, once=True),
                         args, args.write_duration, record=not warm_up)
        if warm_up:
            print(f"    {server.name:12} {label + suffix:44} warm-up, not timed: "
                  f"{result['requests']} requests, p50 {result['p50_ms']:.1f} ms, "
                  f"p99 {result['p99_ms']:.1f} ms, bad {result['bad']}", flush=True)

    run("submitRefundRequest", paths["SubmitRefundRequest"], submits)
    cases = [_submitted_cases(tenants[i], taken[i]) for i in range(merchants)]
    agents = [data["keys"][f"{i}:REFUND_AGENT"] for i in range(merchants)]
    reviews = interleave([[(agents[i], _mutation_body("StartRefundReview", {"id": c}))
                           for c in cases[i]] for i in range(merchants)])
    run("startRefundReview", paths["StartRefundReview"], reviews)
    approvals = interleave([[(agents[i], _mutation_body("ApproveRefund", {
        "id": c, "idempotencyKey": uuid.uuid4().hex})) for c in cases[i]]
        for i in range(merchants)])
    run("approveRefund", paths["ApproveRefund"], approvals)


async def check_writes(floor: Server, apis: list[Server], data: dict[str, Any],
                       pools: list[list[str]]) -> None:
    """Before timing: each server runs submit, review and approve once, on a spare
    payment of merchant 0 of its own; every API must have written what the floor wrote
    (per table the same inserted and updated counts and row shapes) and answered the
    same statuses, else the run stops with the differences."""
    done: dict[str, list[write_rows.Outcome]] = {}
    for server in [floor, *apis]:
        async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:
            done[server.name] = await write_rows.write_once(
                client, WRITE_PATHS["floor" if server is floor else "api"], _mutation_body,
                data, 0, pools[0].pop(), libpq_url(DATABASE_URL))
    for api in apis:
        found = []
        for mine, theirs in zip(done[floor.name], done[api.name], strict=True):
            found += [f"{mine.mutation}: {line}" for line in write_rows.differences(
                mine.deltas, theirs.deltas, floor.name, api.name)]
            if mine.status != theirs.status:
                found.append(f"{mine.mutation}: status {floor.name} {mine.status}, "
                             f"{api.name} {theirs.status}")
        if found:
            raise SystemExit(f"{api.name} does not write what the floor writes:\n  "
                             + "\n  ".join(found))
    for outcome in done[floor.name]:
        print(f"  {outcome.mutation} -> {outcome.status}: {write_rows.summary(outcome.deltas)}; "
              f"{', '.join(a.name for a in apis)} the same (row shapes too)", flush=True)


def check_pools(data: dict[str, Any], servers: int, args: argparse.Namespace) -> None:
    """Fail before starting anything when the data cannot feed the write runs: every
    server needs, per round and spread, ``--write-requests`` payments of its own spread
    over the merchants, per spread those of its warm-up, and one more of merchant 0 for
    the check before timing."""
    spread = [int(n) for n in args.write_merchants.split(",")]
    pools = data["spare_by_merchant"]
    if max(spread) > len(pools):
        raise SystemExit(f"--write-merchants asks for {max(spread)} merchants, the data has "
                         f"{len(pools)}: `python -m bench.refund_cases generate --merchants "
                         f"{max(spread)}`")
    need = [servers if i == 0 else 0 for i in range(len(pools))]
    for merchants in spread:
        for i in range(merchants):
            need[i] += _per_merchant(args.write_requests, merchants) * servers * args.rounds
            need[i] += _per_merchant(WARM_UP_WRITES, merchants) * servers
    short = [f"merchant {i}: {len(pools[i])} spare payments, {n} needed"
             for i, n in enumerate(need) if len(pools[i]) < n]
    if short:
        mutations = max(need[0], 4 * max(need[1:], default=0))
        raise SystemExit(
            f"too few spare payments for {args.rounds} rounds x {servers} servers x "
            f"--write-merchants {args.write_merchants} x {args.write_requests} requests:\n  "
            + "\n  ".join(short) + f"\ngenerate more: `python -m bench.refund_cases generate "
            f"--merchants {len(pools)} --mutations {mutations}` (or lower --write-requests "
            "or --rounds)")


def report(floor: Server, others: list[Server], args: argparse.Namespace) -> None:
    print(f"\n{args.rounds} interleaved rounds, wrk 16 connections on core {LOAD_CORE}, "
          f"each server one process on core {API_CORE}; {args.services}; medians "
          "(req/s range); core: the server's share of its core, load: the load core's "
          "busy share")
    header = (f"{'query':44} {'server':12} {'req/s':>7} {'range':>13} {'p50 ms':>8} "
              f"{'p99 ms':>8} {'p99/p50':>7} {'CPU ms':>7} {'core':>5} {'load':>5} "
              f"{'x floor':>8} {'bad':>5}")
    print(header)
    labels = list(dict.fromkeys([*floor.runs, *(k for a in others for k in a.runs)]))
    for label in labels:
        base = floor.runs.get(label)
        for server in [floor, *others]:
            runs = server.runs.get(label)
            if not runs:
                continue
            rps = [r["rps"] for r in runs]
            ratio = f"{'':8}"
            if base and server is not floor:
                ratios = [r["rps"] / b["rps"] for r, b in zip(runs, base, strict=False)]
                ratio = f"{statistics.median(ratios):8.3f}"
            p50 = statistics.median(r["p50_ms"] for r in runs)
            p99 = statistics.median(r["p99_ms"] for r in runs)
            print(f"{label:44} {server.name:12} {statistics.median(rps):7.0f} "
                  f"{min(rps):6.0f}-{max(rps):<6.0f} {p50:8.1f} {p99:8.1f} "
                  f"{p99 / p50 if p50 else 0:7.2f} "
                  f"{statistics.median(r['cpu_ms'] for r in runs):7.2f} "
                  f"{statistics.median(r['server_busy'] for r in runs):5.0%} "
                  f"{statistics.median(r['load_busy'] for r in runs):5.0%} {ratio} "
                  f"{sum(r['bad'] for r in runs):5d}")
    for server in [floor, *others]:
        print(f"peak RSS {server.name}: {server.rss_peak_mb:.0f} MB")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "compare.json").write_text(json.dumps(
        {"args": vars(args), "servers": {s.name: {"runs": s.runs, "rss_peak_mb": s.rss_peak_mb}
                                         for s in [floor, *others]}}, indent=2))


def _trees(specs: list[str]) -> list[tuple[str, str | None]]:
    if not specs:
        return [("api", None)]
    return [(s.split("=", 1)[0], s.split("=", 1)[1] or None) if "=" in s else (s, None)
            for s in specs]


def _parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--api", action="append", default=[], metavar="NAME=TREE")
    parser.add_argument("--duration", type=float, default=8.0)
    parser.add_argument("--write-duration", type=float, default=4.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--services-core", default=str(LOAD_CORE),
                        help="pin PostgreSQL and Redis to this core for the timed rounds "
                        "(default: the load core); 'none' leaves them to the scheduler")
    parser.add_argument("--no-writes", action="store_true")
    parser.add_argument("--no-reads", action="store_true")
    parser.add_argument("--write-requests", type=int, default=300,
                        help="requests per write run (each on an object of its own)")
    parser.add_argument("--write-merchants", default="1,16",
                        help="spread the writes over these many merchants, one run each")
    parser.add_argument("--postgraphile", action=argparse.BooleanOptionalAction,
                        default=None, help="also serve the reads with PostGraphile 4 "
                        "(default: when node is installed)")
    return parser.parse_args()


def _rounds(servers: list[Server], apis: list[Server], loads: dict[str, dict[str, wrk.Load]],
            data: dict[str, Any], args: argparse.Namespace) -> None:
    """Warm-up, then ``args.rounds`` interleaved rounds: each read on every server in
    turn, then the writes on the floor (``servers[0]``) and the APIs, after a check that
    they all write the same rows."""
    for by_kind in loads.values():  # warm-up: caches, pools, prepared statements
        for s in servers:
            if s.kind in by_kind:
                measure(s, "", by_kind[s.kind], args, args.warmup, record=False)
    pools = [list(p) for p in data["spare_by_merchant"]]
    spread = [int(n) for n in args.write_merchants.split(",")]
    writers = [servers[0], *apis]  # the floor and the APIs (PostGraphile has no such writes)

    def writes(warm_up: bool) -> None:
        for merchants in spread:
            for s in writers:
                measure_writes(s, data, pools, merchants, args,
                               WRITE_PATHS["floor" if s.kind == "floor" else "api"], warm_up)
                _keep_unused(data, pools)

    if not args.no_writes:
        print("checking that every server writes the same rows ...", flush=True)
        asyncio.run(check_writes(servers[0], apis, data, pools))
        _keep_unused(data, pools)
        writes(warm_up=True)
    for round_no in range(args.rounds):
        print(f"round {round_no + 1}", flush=True)
        for label, by_kind in loads.items():
            if args.no_reads:
                break
            for s in servers:
                if s.kind in by_kind:
                    measure(s, label, by_kind[s.kind], args)
        if not args.no_writes:
            writes(warm_up=False)


def _keep_unused(data: dict[str, Any], pools: list[list[str]]) -> None:
    """Write the payments still unused back to the keys file: a payment that has had
    its refund is never sent again by a later run (its answer would differ), and
    :func:`check_pools` asks for new data when too few are left."""
    data["spare_by_merchant"] = pools
    data["spare"] = pools[0]
    _save_keys(data)


def main() -> None:
    args = _parse_args()
    wrk.ensure_wrk()
    data = _load_keys()
    if not args.no_writes:
        check_pools(data, 1 + len(_trees(args.api)), args)
    graphile = _start_postgraphile(args)  # first: npm may fail, and nothing runs yet
    floor = _start("floor", "bench.reads_floor:app", None, factory=False, kind="floor")
    apis = [_start(name, "qrefund.app:create_app", tree, factory=True)
            for name, tree in _trees(args.api)]
    others = [*apis, *([graphile] if graphile else [])]
    servers = [floor, *others]
    try:
        for s in servers:
            asyncio.run(wait_ready(s.url + "/healthz"))
        loads = read_loads(data)
        print("checking that every server returns the same rows ...", flush=True)
        asyncio.run(validate(loads, floor, apis))
        if graphile:
            asyncio.run(postgraphile.validate(loads, floor.url, graphile.url))
        services = None if args.services_core == "none" else int(args.services_core)
        with placement.services_on(services, libpq_url(DATABASE_URL), REDIS_URL) as note:
            args.services = note
            _rounds(servers, apis, loads, data, args)
        for s in servers:
            s.rss_peak_mb = peak_rss_mb(s.process.pid)
    finally:
        for s in servers:
            s.process.send_signal(signal.SIGINT)
        for s in servers:
            s.process.wait(timeout=60)
    report(floor, others, args)


if __name__ == "__main__":
    main()
