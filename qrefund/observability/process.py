"""One call per process (API, worker, scheduler) to set up logs, SQL counts, tracing."""

from __future__ import annotations

from qrefund.observability import logs, sqlstats, tracing
from qrefund.platform.config import Settings


def configure_process(settings: Settings, *, logging: bool = True) -> None:
    if logging:
        logs.configure_logging(settings.log_level,
                               logs.resolve_format(settings.log_format, settings.environment))
    sqlstats.install()
    if settings.tracing_enabled:
        tracing.setup(service_name=settings.tracing_service_name,
                      endpoint=settings.tracing_otlp_endpoint,
                      sample_ratio=settings.tracing_sample_ratio)
