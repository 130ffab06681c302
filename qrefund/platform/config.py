"""Settings read from ``QREFUND_*`` environment variables and a ``.env`` file.

Bad configuration fails at start with a message naming the setting
(pydantic-settings reports the field; :func:`load_settings` turns it into a
:class:`ConfigurationError` with the variable name).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

Seconds = Annotated[int, Field(ge=0, le=7 * 24 * 3600)]
# "<count>/<second|minute|hour|day>", as the `limits` library parses it.
RATE = r"^[0-9]{1,9} *(/|per) *[0-9]* *(second|minute|hour|day)s?$"
DEFAULT_PUBLIC_BASE_URL = "http://127.0.0.1:8000"


class ConfigurationError(RuntimeError):
    """Raised at start when a setting is missing or malformed."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="QREFUND_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    database_url: str = Field(
        default="sqlite+aiosqlite:///./qrefund.db",
        description="SQLAlchemy URL: sqlite+aiosqlite:///file.db or postgresql+psycopg://...",
    )
    # The role the API and workers act as on PostgreSQL. It must not own the tables
    # nor have BYPASSRLS, so row-level security applies. `qrefund migrate` creates it.
    db_app_role: str = "qrefund_app"
    # Connections a process keeps open once it has needed them. Size it for the requests
    # one API process has in flight: past it, the overflow's connections are opened and
    # closed again (a new server backend each time, and psycopg's prepared statements
    # lost with it) as the load moves around the size. Measured at 16 concurrent reads
    # of one case: a kept pool of 10 churned its overflow and cost 2.2 ms of CPU per
    # request, one of 20 1.7 ms (README: Performance).
    db_pool_size: int = Field(default=20, ge=1, le=200)
    # Connections opened past db_pool_size for a burst, closed as they come back while
    # the pool is full. A request past both waits for a connection up to
    # db_pool_timeout_seconds, then gets a 503.
    db_pool_overflow: int = Field(default=10, ge=0, le=200)
    db_pool_timeout_seconds: float = Field(default=30.0, gt=0, le=300)
    # A transaction-mode pooler (PgBouncer pool_mode=transaction) sits in front of
    # PostgreSQL: a client's transactions may run on different server connections, so
    # nothing may live in a session. Server-side prepared statements are turned off
    # and the app role is taken per transaction (set_config('role', ..., true)) beside
    # the tenant scope, instead of once per connection.
    db_transaction_pooler: bool = False
    # Pooled connections are replaced after this many seconds (no ping per checkout: a
    # unit whose first statement finds its connection dead retries once on a new one).
    db_pool_recycle_seconds: int = Field(default=1800, ge=30, le=86400)
    # An API key's look-up is reused for this long in one process (0: every request
    # looks it up); revocation reaches every process at once through Redis pub/sub.
    api_key_cache_seconds: float = Field(default=5.0, ge=0, le=60)
    # The in-process job runtime of an API process runs when no Redis URL is set, unless
    # this is false (an API process whose jobs run elsewhere; benchmarks).
    embedded_jobs: bool = True
    # Plain fields (no resolver: leaves, objects, lists of objects) take a compiled
    # execution path (graphql_schema/execution.py); false runs every field through
    # graphql-core's stock executor.
    graphql_fast_path: bool = True
    redis_url: str | None = Field(
        default=None, description="redis://host:port/db; unset = embedded job runtime"
    )
    encryption_key: str | None = Field(
        default=None,
        description="base64 32-byte AES key(s), 'kid:key,kid:key' for rotation; first encrypts",
    )
    encryption_key_file: Path = Path(".qrefund-encryption-key")
    environment: str = Field(default="development", pattern="^(development|test|production)$")
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    public_base_url: str = Field(
        default=DEFAULT_PUBLIC_BASE_URL,
        description="where consumers reach the platform: links in messages and receipt QR codes",
    )
    max_body_bytes: int = Field(default=1_000_000, ge=1024)
    # importTransactions uploads (multipart requests to /graphql): refused with 413 over this.
    max_import_bytes: int = Field(default=256 * 1024 * 1024, ge=1024)
    # Consumers' evidence files (README "Consumers"): stored here, never served from it.
    upload_dir: Path = Path("qrefund-uploads")
    # Export files (QREFUND_EXPORT_DIR): shared by the API (downloads) and the workers.
    export_dir: Path = Path("qrefund-exports")
    max_query_depth: int = Field(default=10, ge=2, le=50)
    max_query_tokens: int = Field(default=2000, ge=100)
    max_aliases: int = Field(default=30, ge=1)
    max_page_size: int = Field(default=100, ge=1, le=1000)
    default_page_size: int = Field(default=50, ge=1, le=1000)
    # Who may see the schema: "public" (anyone), "authenticated" (any valid key) or
    # "off". Field suggestions ("Did you mean ...") follow the same rule. GraphiQL is
    # served only when enabled. Unset: public in development and tests, authenticated
    # (GraphiQL off) in production.
    introspection: str | None = Field(default=None, pattern="^(public|authenticated|off)$")
    graphiql: bool | None = None
    rate_limit_enabled: bool = True
    rate_limit_per_key: str = Field(default="1200/minute", pattern=RATE)
    rate_limit_anonymous: str = Field(default="120/minute", pattern=RATE)
    rate_limit_auth_failures: str = Field(default="20/minute", pattern=RATE)
    # The consumer pages (README "The consumer page"): every request counts per client
    # address and, on a receipt page, per receipt token; one-time codes of /my per
    # contact (phone or e-mail) and per address.
    rate_limit_portal_address: str = Field(default="120/minute", pattern=RATE)
    rate_limit_portal_token: str = Field(default="60/minute", pattern=RATE)
    rate_limit_otp_contact: str = Field(default="5/hour", pattern=RATE)
    rate_limit_otp_address: str = Field(default="20/hour", pattern=RATE)
    otp_ttl_seconds: int = Field(default=600, ge=60, le=3600,
                                 description="how long a one-time code of /my is valid")
    # The consumer's public fields (receipt, applyForRefund ...): every call counts against
    # its receipt token and against the client address (README "Consumers").
    rate_limit_receipt_per_token: str = Field(default="30/minute", pattern=RATE)
    rate_limit_receipt_per_address: str = Field(default="60/minute", pattern=RATE)
    # Cost limit (qrefund/graphql_schema/cost.py): objects a query may ask for, with page
    # sizes multiplied through nesting and other lists assumed to hold the list size.
    max_query_cost: int = Field(default=20_000, ge=1)
    query_cost_list_size: int = Field(default=20, ge=1, le=1000)
    webhook_allow_private_targets: bool = False
    webhook_timeout_seconds: float = Field(
        default=10.0, gt=0, le=60, description="per-attempt HTTP timeout of a webhook delivery"
    )
    # WebSockets (README "Live updates"): caps, and how often an open socket re-checks its key.
    ws_max_subscriptions_per_socket: int = Field(
        default=20, ge=1, le=1000, description="subscriptions one WebSocket may run at once"
    )
    ws_max_subscriptions_per_key: int = Field(
        default=100, ge=1, le=100_000,
        description="subscriptions one API key may run at once in one API process",
    )
    ws_reauth_seconds: float = Field(
        default=60, gt=0, le=3600,
        description="an open WebSocket re-checks its key (revoked, expired, tenant) this often",
    )
    # Consumer e-mail. No host: e-mails are written to the log instead (development).
    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_from: str = "qrefund <no-reply@qrefund.invalid>"
    smtp_security: str = Field(default="starttls", pattern="^(none|starttls|ssl)$")
    smtp_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    sms_adapter: str = Field(
        default="log", pattern=r"^(log|[A-Za-z_][\w.]*:[A-Za-z_]\w*)$",
        description="'log' or package.module:ClassName of a SmsNotifier",
    )
    log_level: str = Field(default="INFO", pattern="^(DEBUG|INFO|WARNING|ERROR)$")
    # Observability (README "Observability"): log format, /metrics access, tracing.
    log_format: str = Field(default="auto", pattern="^(auto|json|console)$",
                            description="auto: JSON in production, console lines elsewhere")
    metrics_token: str | None = Field(
        default=None, min_length=16,
        description="bearer token /metrics requires; unset: /metrics is off in production "
                    "and open elsewhere")
    worker_metrics_port: int | None = Field(
        default=None, ge=1, le=65535,
        description="`qrefund worker` serves its processes' metrics on this port (no token: "
                    "keep the port inside the cluster)")
    tracing_enabled: bool = Field(default=False, description="OpenTelemetry spans over OTLP")
    tracing_otlp_endpoint: str | None = Field(
        default=None, pattern=r"^https?://\S+$",
        description="OTLP/HTTP traces URL (default: the exporter's, localhost:4318)")
    tracing_service_name: str = Field(default="qrefund", min_length=1, max_length=100)
    tracing_sample_ratio: float = Field(default=1.0, ge=0, le=1)
    # Jobs (see README "Jobs and workers").
    deadline_warning_fraction: float = Field(
        default=0.75, gt=0, lt=1, description="warn when this fraction of a deadline's SLA has run"
    )
    deadline_reescalate_hours: float = Field(
        default=24, gt=0, description="a breached deadline escalates one more level every N hours"
    )
    deadline_sweep_seconds: int = Field(default=60, ge=1, description="deadline sweep period")
    complaint_auto_close_seconds: int = Field(
        default=60, ge=1, description="period of the job closing unanswered resolved complaints"
    )
    # Retention (README "Backups and retention"): unset keeps every case and ticket live.
    retention_days: int | None = Field(
        default=None, ge=1,
        description="archive refund cases and complaint tickets closed more than N days ago",
    )
    delivery_log_days: int = Field(
        default=90, ge=1, description="delete finished webhook deliveries older than N days")
    retention_sweep_seconds: int = Field(default=3600, ge=1, description="retention job period")
    risk_scan_seconds: int = Field(
        default=3600, ge=1, description="period of the anomaly scan (one job per merchant with "
        "payments or refund requests in the last day)"
    )
    relay_sweep_seconds: int = Field(
        default=10, ge=1, description="period of the catch-up outbox relay (commits nudge it)"
    )
    payout_poll_seconds: tuple[Seconds, ...] = Field(
        default=(5, 15, 60, 300, 900, 1800, 3600), min_length=1,
        description="JSON list: waits between status queries of a PROCESSING payout (last repeats)",
    )
    payout_retry_seconds: tuple[Seconds, ...] = Field(
        default=(10, 60, 300, 1800, 7200), min_length=1,
        description="JSON list: waits before retrying a payout after a transient channel error",
    )
    job_retry_seconds: tuple[Seconds, ...] = Field(
        default=(10, 60, 300, 1800, 7200), max_length=20,
        description="JSON list: waits before retrying a job that failed (database or Redis "
                    "unreachable, timeouts); [] = no retries",
    )
    # Payment channels (see README "Payment channels"); tests point them at local fakes.
    wechatpay_api_base: str = Field(
        default="https://api.mch.weixin.qq.com", pattern=r"^https?://[^\s/]+(:\d+)?$",
        description="WeChat Pay API v3 host (scheme and host, no path)",
    )
    alipay_gateway: str = Field(
        default="https://openapi.alipay.com/gateway.do", pattern=r"^https?://\S+$",
        description="Alipay OpenAPI gateway URL",
    )
    payout_stranded_after_seconds: int = Field(
        default=120, ge=1, le=7 * 24 * 3600,
        description="an APPROVED case with no payout this long after approval gets its payout "
                    "from the payout sweep",
    )

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if not value.startswith(("sqlite", "postgresql")):
            raise ValueError("must be a sqlite or postgresql URL")
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str | None) -> str | None:
        if value and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return value or None

    @model_validator(mode="after")
    def _production_ready(self) -> Settings:
        """Production refuses to start without what it needs, naming each setting."""
        if self.environment != "production":
            return self
        missing = []
        if not self.encryption_key:
            missing.append("QREFUND_ENCRYPTION_KEY: required in production (no key file)")
        if self.is_sqlite:
            missing.append("QREFUND_DATABASE_URL: must be a postgresql URL in production")
        if not self.redis_url:
            missing.append("QREFUND_REDIS_URL: required in production (queues, pub/sub)")
        if self.public_base_url == DEFAULT_PUBLIC_BASE_URL or not self.public_base_url.startswith(
                "https://"):
            missing.append("QREFUND_PUBLIC_BASE_URL: the https:// address consumers use")
        if missing:
            raise ValueError("; ".join(missing))
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def introspection_mode(self) -> str:
        if self.introspection:
            return self.introspection
        return "authenticated" if self.environment == "production" else "public"

    @property
    def graphiql_enabled(self) -> bool:
        return self.graphiql if self.graphiql is not None else self.environment != "production"


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"QREFUND_{'_'.join(str(p) for p in err['loc']).upper()}: {err['msg']}"
            if err["loc"] else str(err["msg"]).removeprefix("Value error, ")
            for err in exc.errors()
        )
        raise ConfigurationError(f"invalid configuration: {problems}") from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
