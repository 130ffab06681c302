"""Provider callbacks over HTTP: ``POST /callbacks/wechatpay/<account id>``.

The edge only reads the raw body and the URL's account id (which names its tenant,
like every global id), opens one unit of work in that tenant's scope and hands both
to the payouts domain, which verifies before it reads. Answers follow WeChat Pay's
notification protocol: ``204`` (no body) when handled, so WeChat Pay stops resending;
``4xx`` with ``{"code": "FAIL", "message": ...}`` when refused, so a forged or broken
call changes nothing. Refusals are counted (:data:`REFUSED`) and logged without the
body.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from qrefund.graphql_schema import ids
from qrefund.jobs import runtime
from qrefund.platform.config import Settings
from qrefund.platform.db import Database
from qrefund.platform.errors import NotFound
from qrefund.platform.payouts import callbacks
from qrefund.platform.payouts.callbacks import SignatureRejected

log = logging.getLogger("qrefund.callbacks")

# WeChat Pay's protocol word for a refused notification (its vocabulary, not a qrefund
# error code): the provider resends later.
PROVIDER_FAIL = "FAIL"
# Refused callbacks since the process started, by channel and reason.
REFUSED: Counter[tuple[str, str]] = Counter()


def _refuse(channel: str, reason: str, status: int, message: str) -> Response:
    REFUSED[(channel, reason)] += 1
    log.warning("%s callback refused (%s): %s", channel, reason, message)
    return JSONResponse({"code": PROVIDER_FAIL, "message": message}, status_code=status)


def wechatpay_route(db: Database, settings: Settings
                    ) -> Callable[[Request], Awaitable[Response]]:
    async def handle(request: Request) -> Response:
        try:
            tenant_id, account_id = ids.scoped_id(request.path_params["account"],
                                                  "PaymentChannelAccount")
        except NotFound:
            return _refuse("wechatpay", "unknown_account", 404, "unknown account")
        body = await request.body()
        try:
            async with db.unit_of_work(runtime.job_scope(tenant_id, "wechatpay-callback")) as uow:
                payout = await callbacks.wechatpay_notification(
                    uow, tenant_id, account_id, dict(request.headers), body, settings)
        except NotFound:
            return _refuse("wechatpay", "unknown_account", 404, "unknown account")
        except SignatureRejected as exc:
            return _refuse("wechatpay", "signature", 401, str(exc))
        if payout is None:
            log.warning("wechatpay callback for account %s names no payout of it", account_id)
        else:
            log.info("wechatpay callback: payout %s is %s", payout.id, payout.status)
        return Response(status_code=204)

    return handle
