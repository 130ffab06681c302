"""A job function the observability tests enqueue (RQ imports it by name)."""

from __future__ import annotations

import logging

log = logging.getLogger("qrefund.tests.job")


def say_hello(name: str) -> str:
    log.info("hello from the job, %s", name)
    return name
