"""Set-based loaders for ``bench.scale``: refund cases per merchant and many tenants'
transactions, written by ``INSERT ... SELECT generate_series`` inside PostgreSQL (no
row goes through Python), so 50,000 cases or 10 million payments load in minutes.

* :func:`load_cases`: per merchant, ``n`` payments, one refund case on each, and each
  case's timeline (events ``seq`` 1..``event_count``, the path its status took), case
  numbers ``RF<local day>-<n>`` in creation order, statuses by age (recent cases open,
  older ones mostly refunded, rejected or cancelled), created over ``MONTHS`` months;
  the payment's ``reserved_minor``/``refunded_minor`` hold what the case holds, and the
  merchant's ``refund_case`` counter is set past the last number.
* :func:`load_transactions`: per merchant, its payments in ``paid_at`` order (ids are
  UUIDv7 of ``paid_at``, order numbers ascend with it, as in production), 1 in 10 with
  an encrypted payer account and its fingerprint (a pool of 1,000 payers).

Both record what they loaded as the database's comment (JSON), which ``--reuse`` reads.
"""

from __future__ import annotations

import argparse
import json
import secrets
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

from bench import generate
from bench.common import ENCRYPTION_KEY, libpq_url, recreate_database
from qrefund.migrations.runner import migrate
from qrefund.platform.config import Settings
from qrefund.platform.crypto import KeyRing
from qrefund.platform.ids import new_id
from qrefund.platform.masking import account as mask_account
from qrefund.platform.transactions.service import PAYER_FINGERPRINT_PURPOSE, PAYER_PURPOSE
from qrefund.tenants.service import KEY_PREFIX, format_key, hash_secret

MONTHS = 18
TINY_MERCHANTS = 10
ACTOR = "api_key:bench-scale"
# The timeline of a case in each status: (type, from, to, hours after creation).
PATHS: dict[str, list[tuple[str, str | None, str, int]]] = {
    "SUBMITTED": [("submitted", None, "SUBMITTED", 0)],
    "UNDER_REVIEW": [("submitted", None, "SUBMITTED", 0),
                     ("review_started", "SUBMITTED", "UNDER_REVIEW", 2)],
    "AWAITING_INFO": [("submitted", None, "SUBMITTED", 0),
                      ("review_started", "SUBMITTED", "UNDER_REVIEW", 2),
                      ("info_requested", "UNDER_REVIEW", "AWAITING_INFO", 6)],
    "CANCELLED": [("submitted", None, "SUBMITTED", 0),
                  ("cancelled", "SUBMITTED", "CANCELLED", 3)],
    "REJECTED": [("submitted", None, "SUBMITTED", 0),
                 ("review_started", "SUBMITTED", "UNDER_REVIEW", 2),
                 ("rejected", "UNDER_REVIEW", "REJECTED", 20)],
    "APPROVED": [("submitted", None, "SUBMITTED", 0),
                 ("review_started", "SUBMITTED", "UNDER_REVIEW", 2),
                 ("approved", "UNDER_REVIEW", "APPROVED", 20)],
}
PATHS["PROCESSING"] = [*PATHS["APPROVED"], ("processing", "APPROVED", "PROCESSING", 21)]
PATHS["REFUNDED"] = [*PATHS["PROCESSING"], ("refunded", "PROCESSING", "REFUNDED", 30)]
PATHS["PAYOUT_FAILED"] = [*PATHS["PROCESSING"],
                          ("payout_failed", "PROCESSING", "PAYOUT_FAILED", 30)]
# Status by age: (status, cumulative share) for cases under 2 days, 2-10 days, older.
STATUS_MIX = {
    "recent": [("SUBMITTED", .35), ("UNDER_REVIEW", .70), ("AWAITING_INFO", .80),
               ("APPROVED", .90), ("PROCESSING", .95), ("CANCELLED", 1.0)],
    "week": [("REFUNDED", .55), ("REJECTED", .70), ("CANCELLED", .78), ("PROCESSING", .83),
             ("APPROVED", .88), ("AWAITING_INFO", .93), ("UNDER_REVIEW", .98),
             ("PAYOUT_FAILED", 1.0)],
    "old": [("REFUNDED", .72), ("REJECTED", .88), ("CANCELLED", .98), ("PAYOUT_FAILED", 1.0)],
}
CHANNELS = "(ARRAY['WECHAT_PAY','WECHAT_PAY','WECHAT_PAY','ALIPAY','ALIPAY','UNIONPAY_QR'])"
REASONS = ("(ARRAY['QUALITY_ISSUE','DUPLICATE_CHARGE','NOT_RECEIVED','NOT_AS_DESCRIBED',"
           "'AMOUNT_MISMATCH','MUTUAL_AGREEMENT','OTHER'])")


def uuid7_sql(ts: str) -> str:
    """SQL for a UUIDv7 of the timestamp expression ``ts`` (random tail), as ``new_id``
    makes them: ids of rows inserted in time order append to the primary-key index."""
    return (f"(lpad(to_hex(floor(extract(epoch FROM {ts}) * 1000)::bigint), 12, '0') || '7'"
            " || substr(replace(gen_random_uuid()::text, '-', ''), 14))::uuid")


def add_tenants(cur: psycopg.Cursor[Any], rows: Sequence[tuple[Any, ...]]) -> None:
    """COPY tenants: (id, kind, parent_id, name, slug) tuples, CN/CNY, active."""
    now = datetime.now(UTC)
    with cur.copy("COPY tenants (id, kind, parent_id, name, slug, timezone, country, "
                  "default_currency, status, created_at) FROM STDIN") as copy:
        for row in rows:
            copy.write_row((*row, "Asia/Shanghai", "CN", "CNY", "ACTIVE", now))


def mint_viewer_key(cur: psycopg.Cursor[Any], merchant: UUID) -> str:
    """A VIEWER API key of ``merchant``, stored as ``bench.generate`` stores them."""
    key_id, tag, secret = new_id(), secrets.token_hex(4), secrets.token_urlsafe(32)
    cur.execute("INSERT INTO api_keys (tenant_id, id, name, role, prefix, secret_hash, "
                "created_at) VALUES (%s, %s, 'bench-scale', 'VIEWER', %s, %s, now())",
                (merchant, key_id, f"{KEY_PREFIX}{tag}", hash_secret(secret)))
    return format_key(tag, merchant, key_id, secret)


def _status_sql() -> str:
    """A CASE picking the status from the case's age and a random draw ``r``."""
    def pick(mix: list[tuple[str, float]]) -> str:
        arms = " ".join(f"WHEN r < {share} THEN '{status}'" for status, share in mix[:-1])
        return f"CASE {arms} ELSE '{mix[-1][0]}' END"
    return (f"CASE WHEN age < interval '2 days' THEN {pick(STATUS_MIX['recent'])} "
            f"WHEN age < interval '10 days' THEN {pick(STATUS_MIX['week'])} "
            f"ELSE {pick(STATUS_MIX['old'])} END")


_PATHS_TABLE = """CREATE TEMP TABLE scale_paths (status text, seq int, type text,
    from_status text, to_status text, hours int, steps int) ON COMMIT DROP"""
# One row per case: its payment, amounts and status, before anything is inserted.
_SOURCE = """CREATE TEMP TABLE scale_src ON COMMIT DROP AS
SELECT n, created, age, {status} AS status, amount,
       CASE WHEN r2 < 0.8 THEN amount ELSE greatest(amount * r2, 100)::bigint END AS requested,
       created - interval '1 minute' * (10 + floor(random() * 4000)) AS paid_at,
       {reasons}[1 + floor(random() * 7)::int] AS reason
FROM (SELECT n, created, %(now)s - created AS age, random() AS r, random() AS r2,
             (1000 + floor(random() * 199000))::bigint AS amount
      FROM (SELECT n, %(start)s + (%(now)s - %(start)s) * (n - 1 + random() * 0.999) / %(n)s
                   AS created
            FROM generate_series(1, %(n)s) AS n) s) s"""
# The time of step ``seq`` of ``steps``: its usual delay, squeezed for recent cases so
# that no event lies in the future (both terms rise with seq: the order holds).
_AT = ("s.created + least(interval '1 hour' * p.hours, "
       "(%(now)s - s.created) * (p.seq - 1) / p.steps)")
_CASE_STAMPS = """CREATE TEMP TABLE scale_stamped ON COMMIT DROP AS
SELECT s.*, {uuid_case} AS case_id, {uuid_txn} AS txn_id, st.*
FROM scale_src s CROSS JOIN LATERAL (
  SELECT count(*)::int AS steps, max(at) AS updated_at,
         max(at) FILTER (WHERE type = 'review_started') AS review_started_at,
         max(at) FILTER (WHERE type = 'info_requested') AS info_requested_at,
         max(at) FILTER (WHERE type = 'approved') AS approved_at,
         max(at) FILTER (WHERE type = 'rejected') AS rejected_at,
         max(at) FILTER (WHERE type = 'cancelled') AS cancelled_at,
         max(at) FILTER (WHERE type = 'processing') AS processing_at,
         max(at) FILTER (WHERE type = 'refunded') AS refunded_at,
         max(at) FILTER (WHERE type = 'payout_failed') AS payout_failed_at
  FROM (SELECT p.type, {at} AS at FROM scale_paths p WHERE p.status = s.status) e) st"""
_TXNS_OF_CASES = """INSERT INTO transactions (tenant_id, id, merchant_order_no, channel,
    provider_reference, store_id, terminal_id, amount_minor, currency, status, paid_at,
    payer_masked, refunded_minor, reserved_minor, refund_count, receipt_token_version,
    created_at)
SELECT %(tenant)s, txn_id, 'ORD-' || lpad(n::text, 8, '0'), {channels}[1 + n %% 6],
       '4200' || lpad(n::text, 14, '0'), 'S0' || (1 + n %% 5), 'T' || lpad((1 + n %% 20)::text, 3,
       '0'), amount, 'CNY', 'SUCCEEDED', paid_at, NULL,
       CASE WHEN status = 'REFUNDED' THEN requested ELSE 0 END,
       CASE WHEN status IN ('SUBMITTED', 'UNDER_REVIEW', 'AWAITING_INFO', 'APPROVED',
                            'PROCESSING', 'PAYOUT_FAILED') THEN requested ELSE 0 END,
       1, 1, paid_at
FROM scale_stamped ORDER BY n"""
_CASES = """INSERT INTO refund_cases (tenant_id, id, case_number, transaction_id, status,
    requested_minor, approved_minor, currency, reason, channel, method, risk_flags,
    policy_version, extension_used_minutes, review_due_at, completion_due_at,
    review_paused_at, next_due_at, escalation_level, assignee, decision_note, submitted_by,
    event_count, created_at, updated_at, review_started_at, info_requested_at, approved_at,
    rejected_at, cancelled_at, processing_at, refunded_at, payout_failed_at)
SELECT %(tenant)s, case_id,
       'RF' || to_char(created AT TIME ZONE 'Asia/Shanghai', 'YYMMDD') || '-'
         || lpad(n::text, 6, '0'),
       txn_id, status, requested,
       CASE WHEN approved_at IS NOT NULL THEN requested END, 'CNY', reason,
       (ARRAY['POS_QR','APP','PHONE','WEB','API'])[1 + n %% 5], 'ORIGINAL_ROUTE', '[]', 0, 0,
       created + interval '48 hours', created + interval '168 hours', info_requested_at,
       CASE WHEN status IN ('SUBMITTED', 'UNDER_REVIEW') THEN created + interval '48 hours'
            WHEN status IN ('APPROVED', 'PROCESSING', 'PAYOUT_FAILED')
              THEN created + interval '168 hours' END,
       0, CASE WHEN review_started_at IS NOT NULL THEN %(actor)s::text END,
       CASE WHEN status = 'REJECTED' THEN 'outside the refund policy' END, %(actor)s::text,
       steps, created, updated_at, review_started_at, info_requested_at, approved_at,
       rejected_at, cancelled_at, processing_at, refunded_at, payout_failed_at
FROM scale_stamped ORDER BY n"""
_EVENTS = """INSERT INTO refund_case_events (tenant_id, id, case_id, seq, type, from_status,
    to_status, actor, note, data, occurred_at)
SELECT %(tenant)s, {uuid_event}, s.case_id, p.seq, p.type, p.from_status, p.to_status,
       %(actor)s::text, CASE WHEN p.type = 'rejected' THEN 'outside the refund policy' END,
       (CASE p.type
          WHEN 'submitted' THEN json_build_object('policyVersion', 0, 'riskFlags', '[]'::json)
          WHEN 'review_started' THEN json_build_object('assignee', %(actor)s::text)
          WHEN 'approved' THEN json_build_object('autoApproved', false)
          WHEN 'rejected' THEN json_build_object('releasedMinor', s.requested)
          ELSE '{{}}'::json END),
       {at}
FROM scale_stamped s JOIN scale_paths p ON p.status = s.status
ORDER BY s.n, p.seq"""


def load_cases(conn: psycopg.Connection[Any], merchant: UUID, count: int) -> None:
    """``count`` cases (payments, timelines) for ``merchant``, in one transaction."""
    now = datetime.now(UTC)
    params = {"tenant": merchant, "n": count, "now": now, "actor": ACTOR,
              "start": now - timedelta(days=round(MONTHS * 30.44))}
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(_PATHS_TABLE)
        with cur.copy("COPY scale_paths FROM STDIN") as copy:
            for status, path in PATHS.items():
                for seq, (type_, from_status, to_status, hours) in enumerate(path, 1):
                    copy.write_row((status, seq, type_, from_status, to_status, hours,
                                    len(path)))
        cur.execute(_SOURCE.format(status=_status_sql(), reasons=REASONS), params)
        cur.execute(_CASE_STAMPS.format(uuid_case=uuid7_sql("s.created"),
                                        uuid_txn=uuid7_sql("s.paid_at"),
                                        at=_AT), params)
        cur.execute(_TXNS_OF_CASES.format(channels=CHANNELS), params)
        # Fresh statistics before each insert that the foreign keys check row by row:
        # planned on an "empty" table, every check would scan it (quadratic).
        cur.execute("ANALYZE transactions")
        cur.execute(_CASES, params)
        cur.execute("ANALYZE refund_cases")
        cur.execute(_EVENTS.format(uuid_event=uuid7_sql(_AT), at=_AT), params)
        cur.execute("INSERT INTO tenant_sequences (tenant_id, name, value) "
                    "VALUES (%s, 'refund_case', %s)", (merchant, count))


def payer_pool(size: int = 1000) -> list[tuple[int, str, str, str]]:
    """(i, masked, encrypted, fingerprint) of ``size`` payer accounts, as the
    transactions service stores them."""
    ring = KeyRing.parse(ENCRYPTION_KEY)
    pool = []
    for i in range(size):
        payer = f"wx_{secrets.randbelow(10**10):010d}"
        pool.append((i, mask_account(payer), ring.encrypt(payer, PAYER_PURPOSE),
                     ring.blind_index(payer.upper(), PAYER_FINGERPRINT_PURPOSE)))
    return pool


_TXNS = """INSERT INTO transactions (tenant_id, id, merchant_order_no, channel,
    provider_reference, store_id, terminal_id, amount_minor, currency, status, paid_at,
    payer_masked, payer_account_enc, payer_fp, refunded_minor, reserved_minor, refund_count,
    receipt_token_version, created_at)
SELECT %(tenant)s, {uuid}, 'ORD-' || lpad(g::text, 8, '0'), {channels}[1 + floor(r * 6)::int],
       '4200' || lpad(floor(random() * 1e14)::bigint::text, 14, '0'),
       'S0' || (1 + g %% 5), 'T' || lpad((1 + g %% 20)::text, 3, '0'),
       (100 + floor(random() * 499900))::bigint, 'CNY',
       CASE WHEN r < 0.9 THEN 'SUCCEEDED' WHEN r < 0.95 THEN 'FAILED' ELSE 'PENDING' END,
       paid_at, p.masked, CASE WHEN g %% 10 = 0 THEN p.enc END,
       CASE WHEN g %% 10 = 0 THEN p.fp END, 0, 0, 0, 1, paid_at
FROM (SELECT g, random() AS r,
             %(start)s + (%(now)s - %(start)s) * (g - 1 + random() * 0.999) / %(n)s AS paid_at
      FROM generate_series(1, %(n)s) AS g) s
JOIN scale_payers p ON p.i = s.g %% 1000"""


def load_transactions(conn: psycopg.Connection[Any], counts: list[tuple[UUID, int]],
                      progress: Any = None) -> None:
    """Each merchant's payments over the last year, merchant by merchant (one
    transaction each), in ``paid_at`` order."""
    now = datetime.now(UTC)
    statement = _TXNS.format(uuid=uuid7_sql("paid_at"), channels=CHANNELS)
    with conn.cursor() as cur:
        cur.execute("CREATE TEMP TABLE scale_payers (i int PRIMARY KEY, masked text, "
                    "enc text, fp text)")
        with cur.copy("COPY scale_payers FROM STDIN") as copy:
            for row in payer_pool():
                copy.write_row(row)
        cur.execute("ANALYZE scale_payers")  # hashed; the payments stream in series order
        conn.commit()
        for done, (merchant, n) in enumerate(counts, 1):
            cur.execute(statement, {"tenant": merchant, "n": n, "now": now,
                                    "start": now.replace(year=now.year - 1)})
            conn.commit()
            if progress:
                progress(done, n)


def record_load(conn: psycopg.Connection[Any], database: str, info: dict[str, Any]) -> None:
    """What was loaded, as the database's comment (``--reuse`` reads it back)."""
    conn.execute(sql.SQL("COMMENT ON DATABASE {} IS {}").format(
        sql.Identifier(database), sql.Literal(json.dumps(info))))
    conn.commit()


def loaded(conn: psycopg.Connection[Any]) -> dict[str, Any] | None:
    row = conn.execute("SELECT shobj_description(oid, 'pg_database') FROM pg_database "
                       "WHERE datname = current_database()").fetchone()
    return json.loads(row[0]) if row and row[0] else None


def _fresh(url: str) -> None:
    """Drop, re-create and migrate the database ``url`` names."""
    recreate_database(url)
    migrate(Settings(database_url=url, encryption_key=ENCRYPTION_KEY,  # type: ignore[call-arg]
                     _env_file=None))


def _reusable(url: str, want: dict[str, Any]) -> dict[str, Any] | None:
    """The recorded load of ``url`` when it has the asked sizes (migrated to head)."""
    try:
        with psycopg.connect(libpq_url(url)) as conn:
            info = loaded(conn)
    except psycopg.OperationalError:
        return None
    if not info or any(info.get(k) != v for k, v in want.items()):
        return None
    migrate(Settings(database_url=url, encryption_key=ENCRYPTION_KEY,  # type: ignore[call-arg]
                     _env_file=None))
    print(f"reusing it: loaded {info['loaded_at']} in {info['load_seconds']:.1f} s",
          flush=True)
    return info


def _vacuum(url: str) -> float:
    started = time.perf_counter()
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        conn.execute("SET maintenance_work_mem = '512MB'")
        conn.execute("VACUUM ANALYZE")  # as autovacuum would have: index-only scans work
    return time.perf_counter() - started


def load_cases_database(url: str, sizes: list[int], reuse: bool) -> dict[str, Any]:
    """A database with one merchant per size, each with that many refund cases."""
    want = {"kind": "cases", "cases": sizes}
    if reuse and (info := _reusable(url, want)):
        return info
    started = time.perf_counter()
    _fresh(url)
    operator, merchants = new_id(), [new_id() for _ in sizes]
    with psycopg.connect(libpq_url(url)) as conn:
        conn.execute("SET synchronous_commit = off")
        with conn.cursor() as cur:
            add_tenants(cur, [(operator, "OPERATOR", None, "operator", "operator"),
                              *((m, "MERCHANT", operator, f"Cases {n}", f"cases-{n}-{i}")
                                for i, (m, n) in enumerate(zip(merchants, sizes, strict=True)))])
        conn.commit()
        for merchant, n in zip(merchants, sizes, strict=True):
            began = time.perf_counter()
            load_cases(conn, merchant, n)
            print(f"  {n:,} cases loaded in {time.perf_counter() - began:.1f} s", flush=True)
    vacuum = _vacuum(url)
    info = {**want, "merchants": [[str(m), n] for m, n in zip(merchants, sizes, strict=True)],
            "vacuum_seconds": vacuum, "load_seconds": time.perf_counter() - started,
            "loaded_at": datetime.now(UTC).isoformat(timespec="seconds")}
    with psycopg.connect(libpq_url(url)) as conn:
        record_load(conn, make_url(url).database or "", info)
    print(f"loaded in {info['load_seconds']:.1f} s (VACUUM ANALYZE {vacuum:.1f} s)", flush=True)
    return info


def spread(merchants: int, total: int, tiny: int = TINY_MERCHANTS) -> list[int]:
    """Payments per merchant, largest first: ``bench.generate``'s long tail (weight
    1/rank^0.9), then ``tiny`` merchants with a few dozen payments each."""
    small = [7 + 3 * i for i in reversed(range(min(tiny, merchants - 1)))]
    rest = merchants - len(small)
    weights = [1 / (rank + 1) ** 0.9 for rank in range(rest)]
    share = total - sum(small)
    counts = [int(share * w / sum(weights)) for w in weights]
    for i in range(share - sum(counts)):
        counts[i % rest] += 1
    return counts + small


def load_transactions_database(url: str, merchants: int, total: int,
                               reuse: bool) -> dict[str, Any]:
    """``merchants`` merchants (agencies of 19, one in 20 standalone) and ``total``
    payments spread over them."""
    want = {"kind": "transactions", "tenants": merchants, "transactions": total}
    if reuse and (info := _reusable(url, want)):
        return info
    started = time.perf_counter()
    _fresh(url)
    standalone = max(merchants // 20, merchants % 19)
    layout = argparse.Namespace(agencies=(merchants - standalone) // 19,
                                merchants_per_agency=19, standalone=standalone)
    rows, ids = generate.tenants(layout, datetime.now(UTC))
    counts = list(zip(ids, spread(len(ids), total), strict=True))
    inserting = time.perf_counter()

    def progress(done: int, _n: int) -> None:
        if done % 100 == 0 or done == len(counts):
            loaded_rows = sum(n for _m, n in counts[:done])
            took = time.perf_counter() - inserting
            print(f"  {done:,} merchants, {loaded_rows:,} payments, {took:.0f} s "
                  f"({loaded_rows / took:,.0f}/s)", flush=True)

    with psycopg.connect(libpq_url(url)) as conn:
        conn.execute("SET synchronous_commit = off")
        with conn.cursor() as cur:
            add_tenants(cur, [r[:5] for r in rows])
        conn.commit()
        load_transactions(conn, counts, progress)
    insert = time.perf_counter() - inserting
    vacuum = _vacuum(url)
    info = {**want, "tenant_rows": len(rows), "insert_seconds": insert,
            "vacuum_seconds": vacuum, "load_seconds": time.perf_counter() - started,
            "loaded_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "merchants": [[str(m), n] for m, n in counts]}
    with psycopg.connect(libpq_url(url)) as conn:
        record_load(conn, make_url(url).database or "", info)
    print(f"loaded {total:,} payments of {len(ids):,} merchants ({len(rows):,} tenants) in "
          f"{info['load_seconds']:.1f} s: inserts {insert:.1f} s ({total / insert:,.0f}/s), "
          f"VACUUM ANALYZE {vacuum:.1f} s", flush=True)
    return info
