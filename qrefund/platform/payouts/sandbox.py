"""The built-in ``sandbox`` payment channel: deterministic, and idempotent like a real one.

Outcomes are chosen by the last two digits of the amount in minor units (so
``12.13 CNY`` and ``1013 JPY`` both end in ``13``):

=========  ================================================================
ends in    outcome
=========  ================================================================
``13``     ``PROCESSING``; ``SUCCEEDED`` from the 2nd status query on
``14``     ``PROCESSING``; ``FAILED`` (``BANK_RETURNED``) from the 2nd query on
``66``     ``FAILED`` at once (``ACCOUNT_CLOSED``) — original route only, so a
           retry by bank transfer succeeds
``77``     the first 2 calls with a given ``out_refund_no`` fail transiently
           (:class:`ChannelUnavailable`), the 3rd succeeds
other      ``SUCCEEDED`` at once
=========  ================================================================

A bank transfer to a destination ending in ``0000`` fails (``INVALID_ACCOUNT``).

Like WeChat Pay's ``out_refund_no``: the first call with a key creates the refund
(atomically, ``HSETNX``), every later call with the same key returns that refund's
state and never pays again, and the same key with another amount is refused. The
ledger lives in Redis (the queues' Redis, or the in-process one of the embedded
runtime), so every worker process sees the same "provider".
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from redis import Redis

from qrefund.platform.clock import utcnow
from qrefund.platform.ids import new_id
from qrefund.platform.payouts.channels import (
    ChannelRequestRejected,
    ChannelResult,
    ChannelStatus,
    ChannelUnavailable,
    RefundRequest,
)

LEDGER_KEY = "qrefund:sandbox:refunds"
CALLS_PREFIX = "qrefund:sandbox:calls:"
QUERIES_PREFIX = "qrefund:sandbox:queries:"
KEY_TTL = 30 * 24 * 3600
QUERIES_UNTIL_FINAL = 2
TRANSIENT_FAILURES = 2


def _pattern(request: RefundRequest) -> int:
    return request.amount_minor % 100


class SandboxChannel:
    name = "sandbox"

    def __init__(self, redis: Callable[[], Redis]) -> None:
        self._redis = redis

    async def refund(self, request: RefundRequest) -> ChannelResult:
        conn = self._redis()
        calls = int(conn.incr(CALLS_PREFIX + request.out_refund_no))
        conn.expire(CALLS_PREFIX + request.out_refund_no, KEY_TTL)
        existing = self._record(conn, request.out_refund_no)
        if existing is None and _pattern(request) == 77 and calls <= TRANSIENT_FAILURES:
            raise ChannelUnavailable(f"sandbox: channel busy (call {calls}), try again")
        record = {**asdict(request), "tenant_id": str(request.tenant_id),
                  "refund_id": f"sbx_{new_id().hex}", "created_at": utcnow().isoformat(),
                  "outcome": self._outcome(request)}
        if conn.hsetnx(LEDGER_KEY, request.out_refund_no, json.dumps(record)):
            existing = record
        else:
            existing = self._record(conn, request.out_refund_no)
        assert existing is not None
        if (existing["amount_minor"], existing["currency"]) != (request.amount_minor,
                                                                request.currency):
            raise ChannelRequestRejected(
                f"sandbox: out_refund_no {request.out_refund_no} was used with another amount")
        return self._state(conn, existing, queried=False)

    async def query(self, out_refund_no: str) -> ChannelResult:
        conn = self._redis()
        existing = self._record(conn, out_refund_no)
        if existing is None:
            return ChannelResult(ChannelStatus.FAILED, failure_code="REFUND_NOT_FOUND",
                                 failure_reason="sandbox: no refund with this out_refund_no")
        return self._state(conn, existing, queried=True)

    # -- the provider's side ---------------------------------------------------------

    @staticmethod
    def _outcome(request: RefundRequest) -> str:
        if request.method == "BANK_TRANSFER" and (request.destination or "").endswith("0000"):
            return "FAIL_INVALID_ACCOUNT"
        pattern = _pattern(request)
        if pattern == 13:
            return "SLOW_SUCCESS"
        if pattern == 14:
            return "SLOW_FAILURE"
        if pattern == 66 and request.method != "BANK_TRANSFER":
            return "FAIL_ACCOUNT_CLOSED"
        return "SUCCESS"

    @staticmethod
    def _record(conn: Redis, out_refund_no: str) -> dict[str, Any] | None:
        raw = conn.hget(LEDGER_KEY, out_refund_no)
        return json.loads(raw) if raw else None  # type: ignore[arg-type]

    @staticmethod
    def _state(conn: Redis, record: dict[str, Any], *, queried: bool) -> ChannelResult:
        refund_id, outcome = record["refund_id"], record["outcome"]
        if outcome == "SUCCESS":
            return ChannelResult(ChannelStatus.SUCCEEDED, provider_refund_id=refund_id)
        if outcome == "FAIL_ACCOUNT_CLOSED":
            return ChannelResult(ChannelStatus.FAILED, refund_id, "ACCOUNT_CLOSED",
                                 "sandbox: the payer's account is closed")
        if outcome == "FAIL_INVALID_ACCOUNT":
            return ChannelResult(ChannelStatus.FAILED, refund_id, "INVALID_ACCOUNT",
                                 "sandbox: the destination account does not exist")
        key = QUERIES_PREFIX + record["out_refund_no"]
        queries = int(conn.incr(key)) if queried else int(conn.get(key) or 0)  # type: ignore[arg-type]
        if queried:
            conn.expire(key, KEY_TTL)
        if queries < QUERIES_UNTIL_FINAL:
            return ChannelResult(ChannelStatus.PROCESSING, provider_refund_id=refund_id)
        if outcome == "SLOW_SUCCESS":
            return ChannelResult(ChannelStatus.SUCCEEDED, provider_refund_id=refund_id)
        return ChannelResult(ChannelStatus.FAILED, refund_id, "BANK_RETURNED",
                             "sandbox: the receiving bank returned the refund")

    # -- for tests and the benchmark: what the "provider" saw ---------------------------

    def ledger(self) -> list[dict[str, Any]]:
        """Every refund the sandbox created (one per distinct out_refund_no)."""
        raw = self._redis().hgetall(LEDGER_KEY)
        return [json.loads(v) for v in raw.values()]  # type: ignore[union-attr]

    def calls(self, out_refund_no: str) -> int:
        """How many ``refund`` calls arrived with this key (replays included)."""
        return int(self._redis().get(CALLS_PREFIX + out_refund_no) or 0)  # type: ignore[arg-type]
