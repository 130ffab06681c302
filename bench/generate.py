"""Fill a benchmark database: many tenants and 250k transactions, by COPY.

    .venv/bin/python -m bench.generate [--transactions 250000] [--agencies 20] ...

Drops and re-creates the database named by QREFUND_BENCH_DATABASE_URL (default
``qrefund_bench``), runs the migrations (which also create the app role), loads
tenants, transactions and a VIEWER key for the largest merchants, then VACUUM ANALYZEs.
Keys go to ``bench/results/keys.json``.
"""

from __future__ import annotations

import argparse
import json
import random
import secrets
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg import sql

from bench.common import (
    DATABASE_URL,
    ENCRYPTION_KEY,
    KEYS_FILE,
    RESULTS,
    libpq_url,
    recreate_database,
)
from qrefund.migrations.runner import migrate
from qrefund.platform.config import Settings
from qrefund.platform.crypto import KeyRing
from qrefund.platform.ids import new_id
from qrefund.platform.masking import account as mask_account
from qrefund.platform.transactions.service import PAYER_PURPOSE
from qrefund.tenants.service import KEY_PREFIX, format_key, hash_secret

CHANNELS = ["WECHAT_PAY", "ALIPAY", "UNIONPAY_QR", "ECNY", "CARD", "OTHER"]
CHANNEL_WEIGHTS = [45, 40, 8, 4, 2, 1]
TXN_COLUMNS = [
    "tenant_id",
    "id",
    "merchant_order_no",
    "channel",
    "provider_reference",
    "store_id",
    "terminal_id",
    "amount_minor",
    "currency",
    "status",
    "paid_at",
    "payer_masked",
    "payer_account_enc",
    "refunded_minor",
    "reserved_minor",
    "refund_count",
    "receipt_token_version",
    "receipt_revoked_at",
    "created_at",
]


def tenants(args: argparse.Namespace, now: datetime) -> tuple[list[tuple[Any, ...]], list[Any]]:
    operator = new_id()
    rows: list[tuple[Any, ...]] = [
        (operator, "OPERATOR", None, "operator", "operator", "Asia/Shanghai", "CN", "CNY")
    ]
    merchants = []
    for a in range(args.agencies):
        agency = new_id()
        rows.append(
            (agency, "AGENCY", operator, f"Agency {a}", f"agency-{a}", "Asia/Shanghai", "CN", "CNY")
        )
        for m in range(args.merchants_per_agency):
            merchant = new_id()
            merchants.append(merchant)
            rows.append(
                (
                    merchant,
                    "MERCHANT",
                    agency,
                    f"Merchant {a}-{m}",
                    f"merchant-{a}-{m}",
                    "Asia/Shanghai",
                    "CN",
                    "CNY",
                )
            )
    for s in range(args.standalone):
        merchant = new_id()
        merchants.append(merchant)
        rows.append(
            (merchant, "MERCHANT", operator, f"Shop {s}", f"shop-{s}", "Asia/Shanghai", "CN", "CNY")
        )
    return [(*r, "ACTIVE", now) for r in rows], merchants


def transaction_rows(
    merchants: list[Any], total: int, rng: random.Random, ring: KeyRing, now: datetime
) -> Any:
    # A few big merchants and a long tail, like real acquiring portfolios.
    weights = [1 / (rank + 1) ** 0.9 for rank in range(len(merchants))]
    owners = rng.choices(merchants, weights=weights, k=total)
    counters: dict[Any, int] = {}
    for tenant_id in owners:
        n = counters[tenant_id] = counters.get(tenant_id, 0) + 1
        payer = f"wx_{rng.randrange(10**10):010d}"
        yield (
            tenant_id,
            new_id(),
            f"ORD-{n:08d}",
            rng.choices(CHANNELS, CHANNEL_WEIGHTS)[0],
            f"4200{rng.randrange(10**14):014d}",
            f"S{rng.randint(1, 5):02d}",
            f"T{rng.randint(1, 20):03d}",
            rng.randint(100, 500_000),
            "CNY",
            "SUCCEEDED" if rng.random() < 0.9 else rng.choice(["FAILED", "PENDING"]),
            now - timedelta(seconds=rng.randint(0, 365 * 86400)),
            mask_account(payer),
            ring.encrypt(payer, PAYER_PURPOSE) if n % 10 == 0 else None,
            0,
            0,
            0,
            1,
            None,
            now,
        )


def load(conn: psycopg.Connection[Any], args: argparse.Namespace) -> dict[str, Any]:
    rng = random.Random(args.seed)
    ring = KeyRing.parse(ENCRYPTION_KEY)
    now = datetime.now(UTC)
    tenant_rows, merchants = tenants(args, now)
    with conn.cursor() as cur:
        with cur.copy(
            "COPY tenants (id, kind, parent_id, name, slug, timezone, country, "
            "default_currency, status, created_at) FROM STDIN"
        ) as copy:
            for row in tenant_rows:
                copy.write_row(row)
        with cur.copy(f"COPY transactions ({', '.join(TXN_COLUMNS)}) FROM STDIN") as copy:
            for row in transaction_rows(merchants, args.transactions, rng, ring, now):
                copy.write_row(row)
        keys = []
        for merchant in merchants[: args.keys]:  # the largest merchants (weights are by rank)
            key_id, tag, secret = new_id(), secrets.token_hex(4), secrets.token_urlsafe(32)
            cur.execute(
                "INSERT INTO api_keys (tenant_id, id, name, role, prefix, secret_hash, created_at)"
                " VALUES (%s, %s, 'bench', 'VIEWER', %s, %s, %s)",
                (merchant, key_id, f"{KEY_PREFIX}{tag}", hash_secret(secret), now),
            )
            keys.append(
                {"merchant": str(merchant), "key": format_key(tag, merchant, key_id, secret)}
            )
    conn.commit()
    with conn.cursor() as cur:
        conn.autocommit = True
        cur.execute("VACUUM ANALYZE")  # as autovacuum would have: index-only scans work
    return {"merchants": len(merchants), "tenants": len(tenant_rows), "keys": keys}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--transactions", type=int, default=250_000)
    parser.add_argument("--agencies", type=int, default=20)
    parser.add_argument("--merchants-per-agency", type=int, default=10)
    parser.add_argument("--standalone", type=int, default=30)
    parser.add_argument(
        "--keys", type=int, default=8, help="VIEWER keys, for the largest merchants"
    )
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()

    started = time.perf_counter()
    recreate_database(DATABASE_URL)
    migrate(Settings(database_url=DATABASE_URL, _env_file=None))  # type: ignore[call-arg]
    with psycopg.connect(libpq_url()) as conn:
        summary = load(conn, args)
        counts = {
            t: conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(t))).fetchone()
            for t in ("tenants", "transactions")
        }
    RESULTS.mkdir(exist_ok=True)
    KEYS_FILE.write_text(json.dumps({"database_url": DATABASE_URL, **summary}, indent=2))
    took = time.perf_counter() - started
    print(
        f"loaded {counts['transactions'][0]} transactions for {summary['merchants']} merchants "  # type: ignore[index]
        f"({counts['tenants'][0]} tenants) in {took:.1f}s; keys in {KEYS_FILE}"
    )  # type: ignore[index]


if __name__ == "__main__":
    main()
