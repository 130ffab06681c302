"""What a log line, a metric and a span know about the work in progress.

Log context lives in structlog's context variables (``request_id``, ``tenant_id``,
``key_id``, ``operation``, ``case_id``, ``ticket_id``, ``job_id``, ``enqueued_by``),
so stdlib and structlog records alike carry them. :class:`RequestInfo` is the
mutable per-request note the request middleware reads back at the end (operation
name, GraphQL errors, SQL statements and time): a holder object rather than
context variables, because code deeper down may run in a copied context (a
child task, SQLAlchemy's greenlet) whose writes the middleware would not see.
"""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import structlog

# X-Request-Id values we accept from a client or a proxy: bounded, printable, no spaces.
REQUEST_ID = re.compile(r"[A-Za-z0-9._:/+=-]{8,128}")  # no "@": no e-mail in logs
LOG_FIELDS = ("request_id", "tenant_id", "key_id", "operation", "case_id", "ticket_id",
              "job_id", "enqueued_by")


# The first named operation of a document (clients often omit operationName).
_NAMED_OPERATION = re.compile(r"\b(?:query|mutation|subscription)\s+([A-Za-z_][A-Za-z0-9_]*)")


def operation_in(document: str | None) -> str | None:
    found = _NAMED_OPERATION.search(document[:2000]) if isinstance(document, str) else None
    return found.group(1) if found else None


@dataclass
class RequestInfo:
    request_id: str
    operation: str | None = None
    graphql_errors: bool = False
    sql_statements: int = 0
    sql_seconds: float = 0.0


_request: ContextVar[RequestInfo | None] = ContextVar("qrefund_request", default=None)


def accept_request_id(value: str | None) -> str:
    """The caller's id when it is safe to log and echo, else a new one."""
    if value and REQUEST_ID.fullmatch(value):
        return value
    return uuid.uuid4().hex


def start_request(request_id: str) -> RequestInfo:
    """A fresh log context and request note (the previous request's never leaks in)."""
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(request_id=request_id)
    info = RequestInfo(request_id)
    _request.set(info)
    return info


def current_request() -> RequestInfo | None:
    return _request.get()


def current_request_id() -> str | None:
    info = _request.get()
    if info is not None:
        return info.request_id
    value = structlog.contextvars.get_contextvars().get("request_id")
    return str(value) if value else None


def bind(**values: Any) -> None:
    """Add ids to the log context (None values are skipped)."""
    structlog.contextvars.bind_contextvars(
        **{k: str(v) for k, v in values.items() if v is not None})


def note_operation(name: str | None, *, tenant_id: Any = None, key_id: Any = None) -> None:
    """The GraphQL layer says which operation (and caller) this request is."""
    info = _request.get()
    if info is not None and name:
        info.operation = name
    bind(operation=name, tenant_id=tenant_id, key_id=key_id)


def note_graphql_errors() -> None:
    info = _request.get()
    if info is not None:
        info.graphql_errors = True


def note_sql(seconds: float) -> None:
    info = _request.get()
    if info is not None:
        info.sql_statements += 1
        info.sql_seconds += seconds
