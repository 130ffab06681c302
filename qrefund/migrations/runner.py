"""`qrefund migrate`: upgrade the schema, then (PostgreSQL) set up the app role.

The application role owns nothing and has no BYPASSRLS, so row-level security
binds it; migrations run as the connecting (owner) user.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from qrefund.platform.config import Settings
from qrefund.platform.db import sync_url

HERE = Path(__file__).parent


def alembic_config(url: str) -> Config:
    cfg = Config(str(HERE / "alembic.ini"))
    cfg.set_main_option("script_location", str(HERE))
    cfg.set_main_option("version_locations", str(HERE / "versions"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def ensure_app_role(url: str, role: str) -> None:
    engine = create_engine(url, poolclass=NullPool)
    with engine.begin() as conn:
        exists = conn.execute(
            text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}
        ).first()
        if not exists:
            conn.execute(text(f'CREATE ROLE "{role}" NOLOGIN NOBYPASSRLS'))
        conn.execute(text(f'GRANT "{role}" TO CURRENT_USER'))
        conn.execute(text(f'GRANT USAGE ON SCHEMA public TO "{role}"'))
        conn.execute(
            text(f'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO "{role}"')
        )
        conn.execute(text(f'REVOKE ALL ON TABLE alembic_version FROM "{role}"'))
        conn.execute(text(f'GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO "{role}"'))
    engine.dispose()


def migrate(settings: Settings, revision: str = "head") -> None:
    url = sync_url(settings.database_url)
    command.upgrade(alembic_config(url), revision if revision != "head" else "heads")
    if url.startswith("postgresql") and settings.db_app_role:
        ensure_app_role(url, settings.db_app_role)
