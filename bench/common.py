"""Settings shared by the benchmark scripts."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import httpx
import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"  # git-ignored: keys, figures, profiles
KEYS_FILE = RESULTS / "keys.json"
DATABASE_URL = os.environ.get(
    "QREFUND_BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/qrefund_bench"
)
# A fixed key so receipt tokens and encrypted payer accounts stay valid between runs.
ENCRYPTION_KEY = "bench:" + "Q" * 43


def libpq_url(url: str = DATABASE_URL) -> str:
    """The same database for psycopg itself (no SQLAlchemy driver suffix)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def load_keys() -> list[str]:
    """The benchmark's API keys (VIEWER keys of the largest merchants)."""
    if not KEYS_FILE.exists():
        raise SystemExit(f"{KEYS_FILE} is missing: run `python -m bench.generate` first")
    return [entry["key"] for entry in json.loads(KEYS_FILE.read_text())["keys"]]


async def wait_ready(url: str, tries: int = 300) -> None:
    """Poll ``url`` until it answers 200 (a server started in a subprocess)."""
    async with httpx.AsyncClient() as client:
        for _ in range(tries):
            try:
                if (await client.get(url)).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise SystemExit(f"{url} did not come up")



def recreate_database(url: str) -> None:
    """Drop the database ``url`` names (closing its connections) and create it empty."""
    parsed = make_url(url)
    admin = parsed.set(database="postgres", drivername="postgresql")
    with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as conn:
        name = sql.Identifier(parsed.database or "qrefund_bench")
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(name))
