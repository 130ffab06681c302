"""Observability tests: capture every log line the process writes, as it writes it."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import structlog

from qrefund.observability.logs import configure_logging


class CapturedLogs:
    def __init__(self, stream: io.StringIO) -> None:
        self.stream = stream

    @property
    def text(self) -> str:
        return self.stream.getvalue()

    def records(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.text.splitlines() if line.strip()]


@pytest.fixture
def captured_logs() -> Iterator[CapturedLogs]:
    """The production configuration (JSON, redaction) at DEBUG, writing to a buffer; the
    process's logging is put back afterwards."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    saved_loggers = {name: (list(logging.getLogger(name).handlers),
                            logging.getLogger(name).propagate)
                     for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "rq.worker")}
    stream = io.StringIO()
    configure_logging("DEBUG", "json", stream=stream)
    try:
        yield CapturedLogs(stream)
    finally:
        root.handlers[:], _ = saved[0], root.setLevel(saved[1])
        for name, (handlers, propagate) in saved_loggers.items():
            logging.getLogger(name).handlers[:] = handlers
            logging.getLogger(name).propagate = propagate
        structlog.reset_defaults()
        structlog.contextvars.clear_contextvars()


# The job harness (real RQ workers on the test Redis) of the job tests.
from tests.jobs.conftest import job_settings, jobs  # noqa: E402, F401
