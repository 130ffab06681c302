"""Alipay OpenAPI: ``alipay.trade.refund`` and ``alipay.trade.fastpay.refund.query``.

Why not an SDK: ``alipay-sdk-python`` (official) and ``python-alipay-sdk`` are
synchronous (they would block the job loop every payout job runs on) and bring
their own crypto stacks; the gateway protocol is small. Implemented with
``cryptography`` and ``httpx`` after the published rules (public key mode):

* **Request signature (RSA2).** Every parameter but ``sign`` with a non-empty value,
  sorted by name, joined as ``k=v`` with ``&`` (values not URL-encoded), signed with
  RSA-SHA256 PKCS#1 v1.5 by the app private key, base64. Sent as a form POST.
* **Response verification.** The answer is ``{"<method>_response": {...}, "sign":
  "..."}`` (dots of the method name become underscores); the signed text is the
  ``<method>_response`` value *exactly as it appears in the body*, verified with the
  Alipay public key. An answer that does not verify is never acted on.
* **Service providers.** ``app_auth_token`` is sent when the account holds one.

Refunds are synchronous at Alipay (``code`` 10000 with ``fund_change`` ``Y``: the money
moved); ``fund_change`` ``N`` (a repeat of a request already done, or still under
way) is settled by the refund query. The asynchronous notification is not used:
the refund query answers the same question and needs no public endpoint.
"""

from __future__ import annotations

import base64
import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from qrefund.platform.channels.credentials import load_private, load_public
from qrefund.platform.channels.wechatpay import Disposition, SignatureRejected
from qrefund.platform.payouts.channels import (
    ChannelResult,
    ChannelStatus,
    ChannelUnavailable,
    RefundRequest,
)

log = logging.getLogger(__name__)

GATEWAY = "https://openapi.alipay.com/gateway.do"
REFUND = "alipay.trade.refund"
REFUND_QUERY = "alipay.trade.fastpay.refund.query"
CHINA = timezone(timedelta(hours=8))
TIMEOUT = 10.0

# Gateway codes (公共错误码) and the refund APIs' sub_codes (业务错误码).
GATEWAY_ERRORS: dict[str, tuple[Disposition, str]] = {
    "20000": (Disposition.RETRY, "Alipay service unavailable"),
    "20001": (Disposition.NEEDS_ACTION, "Alipay refused the app's authorisation"),
    "40001": (Disposition.FAIL, "a required parameter is missing"),
    "40002": (Disposition.NEEDS_ACTION, "Alipay refused a parameter or our signature"),
    "40006": (Disposition.NEEDS_ACTION, "the app lacks the permission to refund"),
}
SUB_ERRORS: dict[str, tuple[Disposition, str]] = {
    "ACQ.SYSTEM_ERROR": (Disposition.RETRY, "Alipay system error"),
    "ACQ.SELLER_BALANCE_NOT_ENOUGH": (Disposition.RETRY, "the merchant's balance is not "
                                      "enough: retrying later"),
    "ACQ.BUYER_ERROR": (Disposition.NEEDS_ACTION, "the payer's Alipay account is abnormal: "
                        "refund by BANK_TRANSFER (retryRefundPayout)"),
    "ACQ.REASON_TRADE_BEEN_FREEZEN": (Disposition.NEEDS_ACTION, "the payment is frozen at "
                                      "Alipay"),
    "ACQ.TRADE_NOT_EXIST": (Disposition.FAIL, "Alipay has no such payment"),
    "ACQ.TRADE_STATUS_ERROR": (Disposition.FAIL, "the payment cannot be refunded in its state"),
    "ACQ.TRADE_HAS_FINISHED": (Disposition.FAIL, "the payment is finished: no refund possible"),
    "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL": (Disposition.FAIL, "the refund amount is more than "
                                       "what is left to refund"),
    "ACQ.DISCORDANT_REPEAT_REQUEST": (Disposition.FAIL, "out_request_no reused with other "
                                      "data"),
    "ACQ.INVALID_PARAMETER": (Disposition.FAIL, "Alipay refused a parameter"),
    "ACQ.ACCESS_FORBIDDEN": (Disposition.NEEDS_ACTION, "the app may not refund this payment"),
}


@dataclass(frozen=True)
class AlipayConfig:
    app_id: str
    app_private_key: str  # PEM
    alipay_public_key: str  # PEM
    app_auth_token: str | None = None
    gateway: str = GATEWAY
    trade_no: str | None = None  # the payment's Alipay trade number (for queries)


def signing_text(params: dict[str, str]) -> str:
    return "&".join(f"{k}={params[k]}" for k in sorted(params) if k != "sign" and params[k])


def sign(private_key_pem: str, text: str) -> str:
    raw = load_private(private_key_pem).sign(text.encode(), padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(raw).decode()


def signed_params(config: AlipayConfig, method: str, biz: dict[str, Any], *,
                  now: datetime | None = None) -> dict[str, str]:
    params = {
        "app_id": config.app_id, "method": method, "format": "JSON", "charset": "utf-8",
        "sign_type": "RSA2", "version": "1.0",
        "timestamp": (now or datetime.now(CHINA)).astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S"),
        "biz_content": json.dumps(biz, ensure_ascii=False, separators=(",", ":")),
    }
    if config.app_auth_token:
        params["app_auth_token"] = config.app_auth_token
    params["sign"] = sign(config.app_private_key, signing_text(params))
    return params


def verified_response(config: AlipayConfig, method: str, body: str) -> dict[str, Any]:
    """The ``<method>_response`` object, once its signature over the exact text holds."""
    key = method.replace(".", "_") + "_response"
    try:
        whole = json.loads(body)
        marker = body.index(f'"{key}"')
        start = body.index(":", marker + len(key) + 2) + 1
        while body[start] in " \t\r\n":
            start += 1
        value, end = json.JSONDecoder().raw_decode(body, start)
        signature = base64.b64decode(str(whole["sign"]), validate=True)
    except (ValueError, KeyError, TypeError, IndexError):
        raise SignatureRejected("not a signed Alipay answer") from None
    try:
        load_public(config.alipay_public_key).verify(
            signature, body[start:end].encode(), padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        raise SignatureRejected("the Alipay signature does not verify") from None
    if not isinstance(value, dict):
        raise SignatureRejected("the Alipay answer is not an object")
    return value


def yuan(minor: int) -> str:
    return f"{minor // 100}.{minor % 100:02d}"


def result_of_error(answer: dict[str, Any]) -> ChannelResult:
    code, sub = str(answer.get("code", "")), str(answer.get("sub_code", ""))
    disposition, meaning = SUB_ERRORS.get(sub) or GATEWAY_ERRORS.get(code) or (
        Disposition.RETRY if code == "20000" else Disposition.FAIL, "Alipay refused the refund")
    if disposition == Disposition.RETRY:
        raise ChannelUnavailable(f"alipay: {sub or code} ({meaning})")
    return ChannelResult(ChannelStatus.FAILED, failure_code=(sub or code)[:64],
                         failure_reason=f"{meaning}: {answer.get('sub_msg') or ''}"[:500])


class AlipayChannel:
    """The payout adapter for one Alipay app (``refund``, ``query``)."""

    name = "alipay"

    def __init__(self, config: AlipayConfig, *, timeout: float = TIMEOUT) -> None:
        self.config = config
        self.timeout = timeout

    async def refund(self, request: RefundRequest) -> ChannelResult:
        if request.currency != "CNY":
            return ChannelResult(ChannelStatus.FAILED, failure_code="UNSUPPORTED_CURRENCY",
                                 failure_reason="Alipay refunds here are in CNY")
        biz: dict[str, Any] = {"trade_no": request.provider_reference,
                               "refund_amount": yuan(request.amount_minor),
                               "out_request_no": request.out_refund_no}
        if request.reason:
            biz["refund_reason"] = request.reason[:256]
        answer = await self._call(REFUND, biz)
        if answer.get("code") != "10000":
            return result_of_error(answer)
        if answer.get("fund_change") == "Y":
            return ChannelResult(ChannelStatus.SUCCEEDED, provider_refund_id=request.out_refund_no)
        return ChannelResult(ChannelStatus.PROCESSING)  # settled by the refund query

    async def query(self, out_refund_no: str) -> ChannelResult:
        biz: dict[str, Any] = {"out_request_no": out_refund_no}
        if self.config.trade_no:
            biz["trade_no"] = self.config.trade_no
        answer = await self._call(REFUND_QUERY, biz)
        if answer.get("code") != "10000":
            return result_of_error(answer)
        if answer.get("refund_status") == "REFUND_SUCCESS":
            return ChannelResult(ChannelStatus.SUCCEEDED, provider_refund_id=out_refund_no)
        # Documented: no refund_status means the request was not received or failed.
        return ChannelResult(ChannelStatus.FAILED, failure_code="REFUND_NOT_FOUND",
                             failure_reason="Alipay has no successful refund with this number")

    async def probe(self) -> str:
        """A signed refund query for a number that cannot exist: a signed business answer
        (any sub_code) means both signatures hold; gateway-level refusals are described."""
        answer = await self._call(REFUND_QUERY, {"out_request_no": "QRPROBE00000000",
                                                 "out_trade_no": "QRPROBE00000000"})
        code = str(answer.get("code", ""))
        if code in ("10000", "40004"):
            return ""
        return f"{code} {answer.get('sub_code', '')}: {answer.get('sub_msg', '')}"[:300]

    async def _call(self, method: str, biz: dict[str, Any]) -> dict[str, Any]:
        params = signed_params(self.config, method, biz)
        try:
            async with httpx.AsyncClient(timeout=self.timeout) as client:
                response = await client.post(self.config.gateway, data=params)
        except httpx.HTTPError as exc:
            raise ChannelUnavailable(f"alipay: {type(exc).__name__}") from None
        if response.status_code != 200:
            raise ChannelUnavailable(f"alipay: HTTP {response.status_code}")
        try:
            return verified_response(self.config, method, response.text)
        except SignatureRejected as exc:
            log.error("alipay response refused (app %s): %s", self.config.app_id, exc)
            raise ChannelUnavailable(f"alipay: response refused ({exc})") from None
