"""WeChat Pay API v3: domestic refunds, refund queries, refund-result notifications.

Why not the ``wechatpayv3`` SDK: its client is synchronous (``requests``) and would
block the job loop that runs every payout job, and it gives no supported way to
point the gateway at another host, which the tests need (a protocol-faithful local
server). The protocol is small, so it is implemented here with ``cryptography``
and ``httpx``, following the published v3 rules:

* **Request signature.** ``Authorization: WECHATPAY2-SHA256-RSA2048 mchid=..,
  nonce_str=.., signature=.., timestamp=.., serial_no=..`` where ``signature`` is
  base64 RSA-SHA256 (PKCS#1 v1.5) by the merchant private key over
  ``METHOD\\nPATH?QUERY\\nTIMESTAMP\\nNONCE\\nBODY\\n``; ``serial_no`` is the merchant
  API certificate's serial.
* **Response and notification signatures.** ``Wechatpay-Timestamp``,
  ``Wechatpay-Nonce``, ``Wechatpay-Signature``, ``Wechatpay-Serial`` headers;
  the signature is over ``TIMESTAMP\\nNONCE\\nBODY\\n`` by the platform key whose id
  (public key id or certificate serial) is ``Wechatpay-Serial``. We refuse an
  unknown serial, a timestamp more than five minutes away, and a bad signature;
  then a (serial, timestamp, nonce) already accepted within the window (a replayed
  response or notification, :mod:`qrefund.platform.channels.nonces`).
* **Notification resource.** ``AEAD_AES_256_GCM`` with the API v3 key (32 bytes),
  the resource's ``nonce`` and ``associated_data``; the plaintext is the refund.

Errors: the documented codes are mapped in :data:`ERRORS` to a retry later
(:class:`ChannelUnavailable`, same ``out_refund_no``), a final failure, or a
failure that needs the merchant to act (switch the case to bank transfer).
"""

from __future__ import annotations

import base64
import json
import logging
import secrets
import time
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

import httpx
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from qrefund.platform.channels import nonces, wechatpay_bill
from qrefund.platform.channels.credentials import load_private, load_public
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

API_BASE = "https://api.mch.weixin.qq.com"
REFUNDS_PATH = "/v3/refund/domestic/refunds"
BILL_PATH = "/v3/bill/tradebill"
# The day's bill does not exist yet (documented 申请交易账单 error codes): retry later.
BILL_NOT_READY = frozenset({"NO_STATEMENT_EXIST", "STATEMENT_CREATING"})
SCHEMA = "WECHATPAY2-SHA256-RSA2048"
MAX_CLOCK_SKEW = 300  # seconds, both ways, for responses and notifications
# A message is accepted while its timestamp is within MAX_CLOCK_SKEW of our clock, so
# its nonce must be remembered at least that long after the latest acceptable moment.
NONCE_TTL = 2 * MAX_CLOCK_SKEW + 60
TIMEOUT = 10.0


class Disposition(StrEnum):
    RETRY = "RETRY"  # transient: same out_refund_no later
    FAIL = "FAIL"  # final: the attempt failed, a new one may follow
    NEEDS_ACTION = "NEEDS_ACTION"  # final, and the merchant must change something


# The refund API's documented error codes (申请退款 / 查询单笔退款 错误码).
ERRORS: dict[str, tuple[Disposition, str]] = {
    "SYSTEM_ERROR": (Disposition.RETRY, "WeChat Pay system error"),
    "FREQUENCY_LIMITED": (Disposition.RETRY, "WeChat Pay rate limit: backing off"),
    "NOT_ENOUGH": (Disposition.RETRY, "the merchant's balance is not enough: retrying later"),
    "USER_ACCOUNT_ABNORMAL": (Disposition.NEEDS_ACTION, "the payer's account is abnormal or "
                              "closed: refund by BANK_TRANSFER (retryRefundPayout)"),
    "NO_AUTH": (Disposition.NEEDS_ACTION, "the merchant has no refund permission"),
    "SIGN_ERROR": (Disposition.NEEDS_ACTION, "WeChat Pay refused our signature: check the "
                   "merchant private key and certificate serial"),
    "MCH_NOT_EXISTS": (Disposition.NEEDS_ACTION, "the mchid is unknown to WeChat Pay"),
    "PARAM_ERROR": (Disposition.FAIL, "WeChat Pay refused a parameter"),
    "INVALID_REQUEST": (Disposition.FAIL, "WeChat Pay refused the request in this state"),
    "RESOURCE_NOT_EXISTS": (Disposition.FAIL, "no such order or refund at WeChat Pay"),
}


@dataclass(frozen=True)
class WeChatPayConfig:
    mchid: str
    sub_mchid: str | None
    merchant_serial: str
    merchant_private_key: str  # PEM
    api_v3_key: str
    platform_key_id: str
    platform_public_key: str  # PEM
    notify_url: str
    api_base: str = API_BASE


class SignatureRejected(Exception):
    """A response or notification whose signature, serial or timestamp is not right."""


class ReplayRejected(SignatureRejected):
    """A genuinely signed message already accepted once: a copy, never acted on."""


# -- the signatures ------------------------------------------------------------------------


def sign(private_key_pem: str, message: str) -> str:
    key = load_private(private_key_pem)
    raw = key.sign(message.encode(), padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(raw).decode()


def authorization(config: WeChatPayConfig, method: str, path: str, body: str, *,
                  timestamp: int | None = None, nonce: str | None = None) -> str:
    ts = str(timestamp if timestamp is not None else int(time.time()))
    nonce = nonce or secrets.token_hex(16).upper()
    signature = sign(config.merchant_private_key, f"{method}\n{path}\n{ts}\n{nonce}\n{body}\n")
    return (f'{SCHEMA} mchid="{config.mchid}",nonce_str="{nonce}",signature="{signature}",'
            f'timestamp="{ts}",serial_no="{config.merchant_serial}"')


def verify(config: WeChatPayConfig, headers: httpx.Headers | dict[str, str], body: bytes, *,
           now: float | None = None) -> None:
    """Check the ``Wechatpay-*`` headers of a response or notification; raise
    :class:`SignatureRejected` (a message without secrets) when anything is off."""
    h = httpx.Headers(headers)
    serial, ts = h.get("Wechatpay-Serial", ""), h.get("Wechatpay-Timestamp", "")
    nonce, signature = h.get("Wechatpay-Nonce", ""), h.get("Wechatpay-Signature", "")
    if not (serial and ts and nonce and signature):
        raise SignatureRejected("missing Wechatpay-* signature headers")
    if serial != config.platform_key_id:
        raise SignatureRejected("Wechatpay-Serial names a key this account does not hold")
    if not ts.isdigit() or abs((now or time.time()) - int(ts)) > MAX_CLOCK_SKEW:
        raise SignatureRejected("Wechatpay-Timestamp is stale or malformed")
    message = ts.encode() + b"\n" + nonce.encode() + b"\n" + body + b"\n"
    try:
        load_public(config.platform_public_key).verify(
            base64.b64decode(signature, validate=True), message, padding.PKCS1v15(),
            hashes.SHA256())
    except (InvalidSignature, ValueError):
        raise SignatureRejected("Wechatpay-Signature does not verify") from None


def decrypt_resource(api_v3_key: str, resource: dict[str, Any]) -> dict[str, Any]:
    """The plaintext of a notification's ``AEAD_AES_256_GCM`` resource."""
    if resource.get("algorithm") != "AEAD_AES_256_GCM":
        raise SignatureRejected("unsupported resource algorithm")
    try:
        plain = AESGCM(api_v3_key.encode()).decrypt(
            str(resource["nonce"]).encode(), base64.b64decode(resource["ciphertext"]),
            str(resource.get("associated_data") or "").encode())
        found = json.loads(plain)
    except (KeyError, ValueError, InvalidTag):
        raise SignatureRejected("the resource does not decrypt with the API v3 key") from None
    if not isinstance(found, dict):
        raise SignatureRejected("the resource is not a JSON object")
    return found


def nonce_key(headers: httpx.Headers | dict[str, str]) -> str:
    h = httpx.Headers(headers)
    return "wechatpay:" + ":".join(h.get(name, "")[:64] for name in (
        "Wechatpay-Serial", "Wechatpay-Timestamp", "Wechatpay-Nonce"))


async def verify_once(config: WeChatPayConfig, headers: httpx.Headers | dict[str, str],
                      body: bytes, store: nonces.NonceStore) -> str:
    """:func:`verify`, then refuse a (serial, timestamp, nonce) accepted before
    (:class:`ReplayRejected`). The nonce is recorded only once the signature holds;
    returns its key, so a caller that ends up not acting on the message can forget it."""
    verify(config, headers, body)
    key = nonce_key(headers)
    try:
        fresh = await store.first_use(key, NONCE_TTL)
    except nonces.NonceStoreUnavailable as exc:
        # Not a replay, but not provably fresh either: refused like a bad signature.
        raise SignatureRejected(f"the replay guard is unavailable ({exc})") from None
    if not fresh:
        raise ReplayRejected("Wechatpay-Nonce already seen: a replayed message")
    return key


# -- answers -> results --------------------------------------------------------------------


def result_of_refund(refund: dict[str, Any]) -> ChannelResult:
    """A refund object (response, query or notification) as a channel result."""
    status = refund.get("status") or refund.get("refund_status")
    refund_id = refund.get("refund_id")
    if status == "SUCCESS":
        return ChannelResult(ChannelStatus.SUCCEEDED, provider_refund_id=refund_id)
    if status == "PROCESSING":
        return ChannelResult(ChannelStatus.PROCESSING, provider_refund_id=refund_id)
    if status == "ABNORMAL":
        return ChannelResult(ChannelStatus.FAILED, refund_id, "REFUND_ABNORMAL",
                             "the refund could not reach the payer's account: refund by "
                             "BANK_TRANSFER (retryRefundPayout)")
    if status == "CLOSED":
        return ChannelResult(ChannelStatus.FAILED, refund_id, "REFUND_CLOSED",
                             "WeChat Pay closed the refund")
    raise ChannelUnavailable(f"wechatpay: unknown refund status {str(status)[:32]!r}")


def result_of_error(http_status: int, provider_code: str, message: str) -> ChannelResult:
    """A WeChat Pay error answer (its own code vocabulary, not ours) as a result."""
    code = provider_code
    disposition, meaning = ERRORS.get(code, (
        Disposition.RETRY if http_status >= 500 or http_status == 429 else Disposition.FAIL,
        "WeChat Pay refused the refund"))
    if disposition == Disposition.RETRY:
        raise ChannelUnavailable(f"wechatpay: {code} ({meaning})")
    return ChannelResult(ChannelStatus.FAILED, failure_code=code[:64],
                         failure_reason=f"{meaning}: {message}"[:500])


# -- the adapter ---------------------------------------------------------------------------


class WeChatPayChannel:
    """The payout adapter for one merchant account (``refund``, ``query``)."""

    name = "wechatpay"

    def __init__(self, config: WeChatPayConfig, *, timeout: float = TIMEOUT,
                 nonce_store: nonces.NonceStore | None = None) -> None:
        self.config = config
        self.timeout = timeout
        self.nonces = nonce_store or nonces.default_store()

    async def refund(self, request: RefundRequest) -> ChannelResult:
        if request.currency != "CNY":
            return ChannelResult(ChannelStatus.FAILED, failure_code="UNSUPPORTED_CURRENCY",
                                 failure_reason="WeChat Pay domestic refunds are in CNY")
        body: dict[str, Any] = {
            "transaction_id": request.provider_reference,
            "out_refund_no": request.out_refund_no,
            "notify_url": self.config.notify_url,
            "amount": {"refund": request.amount_minor,
                       "total": request.payment_amount_minor or request.amount_minor,
                       "currency": "CNY"},
        }
        if request.reason:
            body["reason"] = request.reason[:80]
        if self.config.sub_mchid:
            body["sub_mchid"] = self.config.sub_mchid
        status, answer = await self._call("POST", REFUNDS_PATH, body)
        if status >= 300:
            return result_of_error(status, str(answer.get("code", "")), str(answer.get(
                "message", "")))
        return result_of_refund(answer)

    async def query(self, out_refund_no: str) -> ChannelResult:
        status, answer = await self._call("GET", self._query_path(out_refund_no), None)
        if status == 404:
            return ChannelResult(ChannelStatus.FAILED, failure_code="REFUND_NOT_FOUND",
                                 failure_reason="WeChat Pay has no refund with this number")
        if status >= 300:
            return result_of_error(status, str(answer.get("code", "")), str(answer.get(
                "message", "")))
        return result_of_refund(answer)

    async def probe(self) -> str:
        """Check the credentials without moving money: query a refund number that cannot
        exist. A signed "not found" means WeChat Pay accepted our signature and we
        accepted its; anything else is described. Raises ChannelUnavailable."""
        status, answer = await self._call("GET", self._query_path("QRPROBE" + "0" * 8), None)
        if status == 404:
            return ""
        return f"{answer.get('code', status)}: {answer.get('message', '')}"[:300]

    async def refund_bill(self, bill_date: date) -> list[BillRow]:
        """The day's refund bill (China date), verified by its SHA1 and parsed. Raises
        BillNotReady, BillUnavailable (hash, format) or ChannelUnavailable."""
        query = f"bill_date={bill_date.isoformat()}&bill_type=REFUND&tar_type=GZIP"
        if self.config.sub_mchid:
            query += f"&sub_mchid={self.config.sub_mchid}"
        status, answer = await self._call("GET", f"{BILL_PATH}?{query}", None)
        if status >= 300:
            code = str(answer.get("code", ""))[:40]
            if code in BILL_NOT_READY:
                raise BillNotReady(f"wechatpay bill {bill_date}: {code}")
            raise BillUnavailable(f"wechatpay bill {bill_date}: {code or status}")
        path = wechatpay_bill.download_path(self.config.api_base,
                                            str(answer.get("download_url", "")))
        headers = {"Authorization": authorization(self.config, "GET", path, ""),
                   "User-Agent": "qrefund"}
        try:
            async with httpx.AsyncClient(timeout=self.timeout) as client, client.stream(
                    "GET", self.config.api_base + path, headers=headers) as response:
                if response.status_code != 200:
                    raise ChannelUnavailable(f"wechatpay bill: HTTP {response.status_code}")
                spool = await wechatpay_bill.spool_verified(
                    response.aiter_raw(wechatpay_bill.CHUNK), gzipped=True,
                    hash_type=str(answer.get("hash_type", "")),
                    hash_value=str(answer.get("hash_value", "")))
        except httpx.HTTPError as exc:
            raise ChannelUnavailable(f"wechatpay bill: {type(exc).__name__}") from None
        with spool:
            return list(wechatpay_bill.parse(spool))

    def _query_path(self, out_refund_no: str) -> str:
        path = f"{REFUNDS_PATH}/{out_refund_no}"
        return f"{path}?sub_mchid={self.config.sub_mchid}" if self.config.sub_mchid else path

    async def _call(self, method: str, path: str, body: dict[str, Any] | None
                    ) -> tuple[int, dict[str, Any]]:
        text = json.dumps(body, ensure_ascii=False, separators=(",", ":")) if body else ""
        headers = {"Authorization": authorization(self.config, method, path, text),
                   "Accept": "application/json", "Content-Type": "application/json",
                   "User-Agent": "qrefund", "Wechatpay-Serial": self.config.platform_key_id}
        try:
            async with httpx.AsyncClient(timeout=self.timeout) as client:
                response = await client.request(method, self.config.api_base + path,
                                                content=text.encode(), headers=headers)
        except httpx.HTTPError as exc:
            raise ChannelUnavailable(f"wechatpay: {type(exc).__name__}") from None
        if response.status_code >= 500:
            raise ChannelUnavailable(f"wechatpay: HTTP {response.status_code}")
        try:
            await verify_once(self.config, response.headers, response.content, self.nonces)
        except SignatureRejected as exc:
            # Never act on an answer we cannot attribute to WeChat Pay: the same
            # out_refund_no is asked again later, so nothing is paid twice.
            log.error("wechatpay response refused (mchid %s): %s", self.config.mchid, exc)
            raise ChannelUnavailable(f"wechatpay: response refused ({exc})") from None
        try:
            answer = response.json() if response.content else {}
        except ValueError:
            raise ChannelUnavailable("wechatpay: response is not JSON") from None
        return response.status_code, answer if isinstance(answer, dict) else {}
