"""Run by a test in a subprocess: a forking RQ worker whose work horse dies right after
the payment channel accepted a refund and before the database heard of it."""

from __future__ import annotations

import os
from typing import Any

import qrefund.jobs.payouts  # noqa: F401  (registers the real sandbox, replaced below)
from qrefund.jobs import runtime
from qrefund.jobs.registry import QUEUE_PAYOUTS, load_handlers
from qrefund.jobs.worker import QrefundWorker
from qrefund.platform.payouts import channels
from qrefund.platform.payouts.channels import ChannelResult
from qrefund.platform.payouts.sandbox import SandboxChannel

CRASH_EXIT_CODE = 17


class CrashAfterCall(SandboxChannel):
    async def refund(self, request: Any) -> ChannelResult:
        await super().refund(request)
        os._exit(CRASH_EXIT_CODE)  # the process dies: no except, no finally, no commit


def main() -> None:
    load_handlers()
    channels.register_adapter("sandbox", lambda: CrashAfterCall(runtime.redis))
    QrefundWorker([QUEUE_PAYOUTS], connection=runtime.redis()).work(burst=True)


if __name__ == "__main__":
    main()
