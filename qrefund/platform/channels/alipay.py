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
way) is settled by the refund query — or by the asynchronous notification:

* **Notification** (``notify_url``, a public request parameter sent with each refund).
  A form-encoded POST; the signed text is every parameter but ``sign`` and
  ``sign_type`` with a non-empty value, sorted, ``k=v`` joined by ``&`` (values
  URL-decoded), RSA2 by the Alipay key. ``app_id`` must be the account's. A refund
  shows as ``out_biz_no`` (our ``out_request_no``) with ``refund_fee`` (the trade's
  refunded total) or ``gmt_refund``, under ``trade_status`` ``TRADE_SUCCESS`` (a
  partial refund) or ``TRADE_CLOSED`` (a full one). Alipay resends until it reads the
  plain text ``success``, with the same ``notify_id``.
"""

from __future__ import annotations

import base64
import json
import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qsl

import httpx
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from qrefund.platform.channels import alipay_bill
from qrefund.platform.channels.credentials import load_private, load_public
from qrefund.platform.channels.wechatpay import Disposition, SignatureRejected
from qrefund.platform.payouts.channels import (
    BillNotReady,
    BillRow,
    BillUnavailable,
    ChannelResult,
    ChannelStatus,
    ChannelUnavailable,
    RefundRequest,
)

log = logging.getLogger(__name__)

GATEWAY = "https://openapi.alipay.com/gateway.do"
REFUND = "alipay.trade.refund"
REFUND_QUERY = "alipay.trade.fastpay.refund.query"
BILL_URL = "alipay.data.dataservice.bill.downloadurl.query"
BILL_NOT_READY = frozenset({"isp.bill_not_exist"})  # documented: no bill for that day yet
MAX_BILL_BYTES = 64 * 1024 * 1024  # the zip as downloaded
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
    notify_url: str | None = None  # where Alipay sends the asynchronous notification


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
    if config.notify_url and method == REFUND:
        params["notify_url"] = config.notify_url
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


MAX_NOTIFICATION = 16 * 1024  # bytes: a refund notification is well under 2 KB
# Alipay resends a notification for about 25 hours (4m, 10m, 10m, 1h, 2h, 6h, 15h).
NOTIFY_TTL = 3 * 24 * 3600
REFUND_TRADE_STATUSES = ("TRADE_SUCCESS", "TRADE_CLOSED")


def notification_params(body: bytes) -> dict[str, str]:
    """The form parameters of a notification body; a repeated or undecodable one is
    refused (:class:`SignatureRejected`) rather than guessed at."""
    if len(body) > MAX_NOTIFICATION:
        raise SignatureRejected("the notification is oversized")
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=True,
                          errors="strict")
    except (UnicodeDecodeError, ValueError):
        raise SignatureRejected("the notification is not a form") from None
    params = dict(pairs)
    if len(params) != len(pairs):
        raise SignatureRejected("the notification repeats a parameter")
    return params


def verify_notification(config: AlipayConfig, params: dict[str, str]) -> None:
    """RSA2 over the sorted parameters without ``sign``/``sign_type``, by the Alipay key;
    then ``app_id`` must be this account's. Nothing else is read before this holds."""
    if params.get("sign_type") != "RSA2":
        raise SignatureRejected("the notification is not signed RSA2")
    text = "&".join(f"{k}={params[k]}" for k in sorted(params)
                    if k not in ("sign", "sign_type") and params[k])
    try:
        load_public(config.alipay_public_key).verify(
            base64.b64decode(params.get("sign", ""), validate=True), text.encode(),
            padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError):
        raise SignatureRejected("the Alipay notification signature does not verify") from None
    if params.get("app_id") != config.app_id:
        raise SignatureRejected("the notification is about another app")


def minor(amount: str) -> int | None:
    """``"12.30"`` as 1230; None for anything that is not a yuan amount."""
    whole, _, cents = amount.partition(".")
    if not whole.isdigit() or len(cents) > 2 or (cents and not cents.isdigit()):
        return None
    return int(whole) * 100 + int(cents.ljust(2, "0") or 0)


def refund_of_notification(params: dict[str, str]) -> tuple[str, int | None] | None:
    """(out_request_no, the trade's refunded total in minor units or None) when a verified
    notification reports a refund; None for other notifications (a payment, ...)."""
    out_biz_no = params.get("out_biz_no", "")
    if (params.get("trade_status") not in REFUND_TRADE_STATUSES or not out_biz_no
            or not (params.get("refund_fee") or params.get("gmt_refund"))):
        return None
    return out_biz_no[:64], minor(params.get("refund_fee", ""))


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

    async def refund_bill(self, bill_date: date) -> list[BillRow]:
        """The refunds in the day's trade bill (see :mod:`alipay_bill`). Raises
        BillNotReady, BillUnavailable or ChannelUnavailable."""
        answer = await self._call(BILL_URL, {"bill_type": "trade",
                                             "bill_date": bill_date.isoformat()})
        if answer.get("code") != "10000":
            sub = str(answer.get("sub_code") or answer.get("code") or "")[:40]
            if sub in BILL_NOT_READY:
                raise BillNotReady(f"alipay bill {bill_date}: {sub}")
            raise BillUnavailable(f"alipay bill {bill_date}: {sub}")
        url = str(answer.get("bill_download_url", ""))
        if not url.startswith(("https://", "http://")):
            raise BillUnavailable("alipay bill: no download URL")
        try:
            async with httpx.AsyncClient(timeout=self.timeout) as client, client.stream(
                    "GET", url) as response:
                if response.status_code != 200:
                    raise ChannelUnavailable(f"alipay bill: HTTP {response.status_code}")
                data = bytearray()
                async for chunk in response.aiter_raw():
                    data += chunk
                    if len(data) > MAX_BILL_BYTES:
                        raise BillUnavailable("alipay bill: the download is too large")
        except httpx.HTTPError as exc:
            raise ChannelUnavailable(f"alipay bill: {type(exc).__name__}") from None
        return alipay_bill.parse_zip(bytes(data))

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
