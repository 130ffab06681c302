"""The embedded job runtime: ``qrefund serve`` without ``QREFUND_REDIS_URL``.

So the one-command start still pays out, escalates and notifies, the API process
runs the whole job system itself, on one background thread:

* an in-process Redis (fakeredis with Lua scripting, which RQ's atomic enqueue
  needs) instead of a Redis server;
* RQ's :class:`~rq.SimpleWorker` (a forking worker would write to its own copy of
  an in-process Redis) draining every queue, with RQ's scheduler moving due
  retries and delayed polls;
* the periodic jobs of ``qrefund scheduler`` (relay catch-up, deadline sweep,
  payout polls).

The thread wakes as soon as something is enqueued (the outbox nudge calls
:func:`qrefund.jobs.runtime.enqueued`) and at least once a second.

Limits: queues live in memory, so jobs queued but not yet run are lost when the
process stops — the outbox still holds every event, but events already relayed
are not relayed again (their payouts resume through the periodic payout sweep;
a notification queued at the moment of a crash can be lost). Jobs run one at a
time in the API process, and only one API process may run (``--workers 1``).
Use a Redis server and ``qrefund worker`` for anything beyond a trial.
"""

from __future__ import annotations

import logging
import threading

from qrefund.jobs import runtime
from qrefund.jobs.registry import load_handlers
from qrefund.jobs.relay import install_nudge, uninstall_nudge
from qrefund.jobs.scheduler import build_scheduler
from qrefund.jobs.worker import WORKER_QUEUES, ThreadWorker
from qrefund.platform.config import Settings

log = logging.getLogger(__name__)

IDLE_WAKE_SECONDS = 1.0


class EmbeddedRuntime:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.connection = runtime.embedded_redis()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        runtime.configure(settings=self.settings, redis=self.connection, on_enqueue=self._wake.set)
        load_handlers()
        install_nudge()
        self.scheduler = build_scheduler(self.connection, self.settings)
        self._thread = threading.Thread(target=self._run, name="qrefund-jobs", daemon=True)
        self._thread.start()
        log.info("embedded job runtime started (in-process Redis, one in-process worker)")

    def wake(self) -> None:
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.scheduler.enqueue_jobs()
                worker = ThreadWorker(list(WORKER_QUEUES), connection=self.connection)
                worker.work(burst=True, with_scheduler=True, logging_level="WARNING")
            except Exception:  # keep the runtime alive; the failure is in the log
                log.exception("embedded job runtime: iteration failed")
            self._wake.wait(IDLE_WAKE_SECONDS)
            self._wake.clear()
        runtime.close_job_loop()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        uninstall_nudge()
        log.info("embedded job runtime stopped")


def start_api_runtime(settings: Settings) -> EmbeddedRuntime | None:
    """In an API process: commits nudge the relay; without Redis, run the embedded runtime
    (unless ``QREFUND_EMBEDDED_JOBS=false``: then jobs run elsewhere)."""
    runtime.configure(settings=settings)
    if settings.redis_url:
        install_nudge()
        return None
    if not settings.embedded_jobs:
        return None  # no queue here: the outbox keeps every event for a relay elsewhere
    embedded = EmbeddedRuntime(settings)
    embedded.start()
    return embedded


def stop_api_runtime(embedded: EmbeddedRuntime | None) -> None:
    if embedded is not None:
        embedded.stop()
    else:
        uninstall_nudge()  # a no-op when none was installed
