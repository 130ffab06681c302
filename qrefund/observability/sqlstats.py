"""SQL statements and their time, counted per request.

One listener pair on SQLAlchemy's :class:`~sqlalchemy.engine.Engine` class covers
every engine of the process (API, jobs; PostgreSQL and SQLite). The counts go to
the running request's :class:`~qrefund.observability.context.RequestInfo`.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

from qrefund.observability.context import note_sql

_installed = False
_START = "qrefund_sql_started"


def _before(conn: Any, _cursor: Any, _statement: Any, _params: Any, context: Any,
            _many: bool) -> None:
    conn.info[_START] = time.perf_counter()


def _after(conn: Any, _cursor: Any, _statement: Any, _params: Any, context: Any,
           _many: bool) -> None:
    started = conn.info.pop(_START, None)
    if started is not None:
        note_sql(time.perf_counter() - started)


def install() -> None:
    global _installed
    if _installed:
        return
    event.listen(Engine, "before_cursor_execute", _before)
    event.listen(Engine, "after_cursor_execute", _after)
    _installed = True
