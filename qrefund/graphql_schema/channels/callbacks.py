"""Provider callbacks over HTTP: ``POST /callbacks/wechatpay/<account id>`` and
``POST /callbacks/alipay/<account id>``.

The edge only reads the raw body and the URL's account id (which names its tenant,
like every global id), opens one unit of work in that tenant's scope and hands both
to the payouts domain, which verifies before it reads. Answers follow each
provider's notification protocol:

* WeChat Pay: ``204`` (no body) when handled, so WeChat Pay stops resending; ``4xx``
  with ``{"code": "FAIL", "message": ...}`` when refused (forged, unknown, replayed),
  so such a call changes nothing.
* Alipay: the plain text ``success`` when handled — and for a ``notify_id`` already
  handled (a resend or a replay: nothing changes, and Alipay must stop); ``fail``
  (with a ``4xx``) when refused.

Refusals are counted (:data:`REFUSED`), replays too (:data:`REPLAYED`), and logged
with the reason only, never the body or its values.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from qrefund.graphql_schema import ids
from qrefund.jobs import runtime
from qrefund.platform.config import Settings
from qrefund.platform.db import Database
from qrefund.platform.errors import NotFound
from qrefund.platform.payouts import callbacks
from qrefund.platform.payouts.callbacks import ReplayRejected, SignatureRejected
from qrefund.platform.payouts.models import Payout

log = logging.getLogger("qrefund.callbacks")

# The providers' protocol words (their vocabulary, not qrefund error codes).
PROVIDER_FAIL = "FAIL"  # WeChat Pay: refused, resend later
ALIPAY_SUCCESS, ALIPAY_FAIL = "success", "fail"
MAX_BODY = 64 * 1024  # bytes: a refund notification is a few KB at most
# Refused callbacks since the process started, by channel and reason.
REFUSED: Counter[tuple[str, str]] = Counter()
# Copies of an already accepted message, by channel.
REPLAYED: Counter[str] = Counter()


def _refuse(channel: str, reason: str, status: int, message: str) -> Response:
    REFUSED[(channel, reason)] += 1
    log.warning("%s callback refused (%s): %s", channel, reason, message)
    if channel == "alipay":
        return PlainTextResponse(ALIPAY_FAIL, status_code=status)
    return JSONResponse({"code": PROVIDER_FAIL, "message": message}, status_code=status)


async def _target(request: Request, channel: str
                  ) -> tuple[uuid.UUID, uuid.UUID, bytes] | Response:
    try:
        tenant_id, account_id = ids.scoped_id(request.path_params["account"],
                                              "PaymentChannelAccount")
    except NotFound:
        return _refuse(channel, "unknown_account", 404, "unknown account")
    body = await request.body()
    if len(body) > MAX_BODY:
        return _refuse(channel, "oversized", 413, "the body is oversized")
    return tenant_id, account_id, body


async def _for_merchants(db: Database, settings: Settings,
                         found: Payout | callbacks.ForMerchants | None, actor: str
                         ) -> Payout | None:
    """A notification to an agency's service-provider account is applied in a second
    unit, scoped to exactly the merchants linked to it (the payout is one of theirs)."""
    if not isinstance(found, callbacks.ForMerchants):
        return found
    if not found.merchant_ids:
        return None
    try:
        async with db.unit_of_work(runtime.tenants_scope(found.merchant_ids, actor)) as uow:
            return await callbacks.apply_for_merchants(uow, found, settings)
    except BaseException:
        await callbacks.forget(found, settings)
        raise


def wechatpay_route(db: Database, settings: Settings
                    ) -> Callable[[Request], Awaitable[Response]]:
    async def handle(request: Request) -> Response:
        target = await _target(request, "wechatpay")
        if isinstance(target, Response):
            return target
        tenant_id, account_id, body = target
        try:
            async with db.unit_of_work(runtime.job_scope(tenant_id, "wechatpay-callback")) as uow:
                found = await callbacks.wechatpay_notification(
                    uow, tenant_id, account_id, dict(request.headers), body, settings)
            payout = await _for_merchants(db, settings, found, "wechatpay-callback")
        except NotFound:
            return _refuse("wechatpay", "unknown_account", 404, "unknown account")
        except ReplayRejected as exc:
            REPLAYED["wechatpay"] += 1
            return _refuse("wechatpay", "replay", 401, str(exc))
        except SignatureRejected as exc:
            return _refuse("wechatpay", "signature", 401, str(exc))
        if payout is None:
            log.warning("wechatpay callback for account %s names no payout of it", account_id)
        else:
            log.info("wechatpay callback: payout %s is %s", payout.id, payout.status)
        return Response(status_code=204)

    return handle


def alipay_route(db: Database, settings: Settings) -> Callable[[Request], Awaitable[Response]]:
    async def handle(request: Request) -> Response:
        target = await _target(request, "alipay")
        if isinstance(target, Response):
            return target
        tenant_id, account_id, body = target
        try:
            async with db.unit_of_work(runtime.job_scope(tenant_id, "alipay-callback")) as uow:
                found = await callbacks.alipay_notification(uow, tenant_id, account_id, body,
                                                            settings)
            payout = await _for_merchants(db, settings, found, "alipay-callback")
        except NotFound:
            return _refuse("alipay", "unknown_account", 404, "unknown account")
        except ReplayRejected:
            # Handled before: Alipay resends until it reads "success"; nothing changes.
            REPLAYED["alipay"] += 1
            log.info("alipay callback for account %s: notify_id already handled", account_id)
            return PlainTextResponse(ALIPAY_SUCCESS)
        except SignatureRejected as exc:
            return _refuse("alipay", "signature", 400, str(exc))
        if payout is None:
            log.info("alipay callback for account %s reports no refund of it", account_id)
        else:
            log.info("alipay callback: payout %s is %s", payout.id, payout.status)
        return PlainTextResponse(ALIPAY_SUCCESS)

    return handle
