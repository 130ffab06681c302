"""Structured logs: one processor chain for structlog and stdlib records alike.

``configure_logging`` installs a single root handler whose
:class:`structlog.stdlib.ProcessorFormatter` runs every record — our
``structlog.get_logger()`` calls, stdlib ``logging`` calls, uvicorn's, RQ's,
SQLAlchemy's — through the same chain: context variables merged in (request id,
tenant, key, operation, case, ticket, job), exceptions formatted, then
:func:`~qrefund.observability.redaction.redact`, then JSON (production, or
``QREFUND_LOG_FORMAT=json``) or a readable console line (development).

Redaction runs after exceptions are formatted so that a traceback quoting a
secret is scrubbed too, and before the renderer so nothing escapes it.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, TextIO

import structlog
from structlog.typing import Processor

from qrefund.observability.redaction import redact

_HANDLER_NAME = "qrefund-structured"


def _shared_chain() -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.PositionalArgumentsFormatter(),
        structlog.processors.StackInfoRenderer(),
        structlog.processors.format_exc_info,
        redact,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]


def renderer(fmt: str) -> Processor:
    if fmt == "json":
        return structlog.processors.JSONRenderer()
    return structlog.dev.ConsoleRenderer(colors=False)


def resolve_format(fmt: str, environment: str) -> str:
    """``auto``: JSON in production, console lines elsewhere."""
    if fmt != "auto":
        return fmt
    return "json" if environment == "production" else "console"


def formatter(fmt: str) -> structlog.stdlib.ProcessorFormatter:
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_shared_chain(),
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer(fmt)],
    )


def configure_logging(level: str = "INFO", fmt: str = "console",
                      stream: TextIO | None = None) -> None:
    """Route structlog and the stdlib root logger through one redacting handler."""
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *_shared_chain(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(formatter(fmt))
    root = logging.getLogger()
    root.handlers[:] = [h for h in root.handlers if h.get_name() != _HANDLER_NAME]
    # Other handlers (pytest's capture) stay; console handlers of basicConfig go.
    root.handlers[:] = [h for h in root.handlers
                        if type(h) is not logging.StreamHandler]
    root.addHandler(handler)
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "rq.worker"):
        # uvicorn and RQ add handlers of their own; ours formats (and redacts) everything.
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("alembic").setLevel(logging.WARNING)


def get_logger(name: str | None = None) -> Any:
    return structlog.get_logger(name)
