"""A protocol-faithful fake of WeChat Pay API v3 refunds, on 127.0.0.1.

Written from the published protocol, independently of the adapter (it shares no
code with ``qrefund.platform.channels``):

* it verifies every request's ``Authorization: WECHATPAY2-SHA256-RSA2048`` header:
  a known mchid, the merchant certificate serial it holds, a timestamp within five
  minutes, a nonce never seen before, and the RSA-SHA256 signature over
  ``METHOD\\nPATH?QUERY\\nTIMESTAMP\\nNONCE\\nBODY\\n``; a fault answers 401
  ``SIGN_ERROR`` (signed, like WeChat Pay's error answers);
* it signs every answer with its platform key (``Wechatpay-*`` headers);
* in service-provider mode (服务商) a refund names a ``sub_mchid``, which must be bound
  to the calling (service provider's) mchid, and a refund query names the same
  ``sub_mchid`` as its refund (``?sub_mchid=``);
* it keeps refunds by ``out_refund_no`` (the same number never refunds twice; the
  same number with another amount is ``INVALID_REQUEST``);
* it builds refund-result notifications: the refund JSON sealed with
  AEAD_AES_256_GCM under the merchant's API v3 key, the envelope signed.

It serves the refund bill (``GET /v3/bill/tradebill?bill_type=REFUND``, then the signed
download of its ``download_url``): a CSV built from the refunds it actually processed on
that (China) day for that mchid / sub_mchid, a backtick before each value, the header
and summary rows, gzip when ``tar_type=GZIP``, and the SHA1 of the uncompressed file.
``bill_ready = False`` answers ``NO_STATEMENT_EXIST``; ``tamper_bill`` alters the file
after its hash was announced.

Tests script it: ``errors`` (codes answered to the next refund calls), ``outcome``
(the status a new refund gets), ``settle`` (a PROCESSING refund's final status),
``replay_responses`` (answer every call with the last answer sent, byte for byte:
status, ``Wechatpay-*`` headers and body — what an attacker in the path could do).
"""

from __future__ import annotations

import base64
import csv
import gzip
import hashlib
import io
import json
import os
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from tests.channels.keys import KeyPair, pair

CHINA = timezone(timedelta(hours=8))
# The refund bill's columns and summary, as WeChat Pay documents them (交易账单 REFUND).
BILL_COLUMNS = [
    "交易时间", "公众账号ID", "商户号", "特约商户号", "设备号", "微信订单号", "商户订单号",
    "用户标识", "交易类型", "交易状态", "付款银行", "货币种类", "应结订单金额", "代金券金额",
    "退款申请时间", "退款成功时间", "微信退款单号", "商户退款单号", "退款金额", "充值券退款金额",
    "退款类型", "退款状态", "商品名称", "商户数据包", "手续费", "费率", "订单金额",
    "申请退款金额", "费率备注",
]
BILL_SUMMARY = [
    "总交易单数", "应结订单总金额", "退款总金额", "充值券退款总金额", "手续费总金额",
    "订单总金额", "申请退款总金额",
]
BILL_STATUS = {"SUCCESS": "SUCCESS", "CLOSED": "REFUNDCLOSE", "PROCESSING": "PROCESSING",
               "ABNORMAL": "CHANGE"}
PLATFORM_KEY_ID = "PUB_KEY_ID_0112345678902025112900000000000001"
_AUTH = re.compile(r'(\w+)="([^"]*)"')
# HTTP status of each error code, as WeChat Pay documents them.
ERROR_STATUS = {"NOT_ENOUGH": 403, "USER_ACCOUNT_ABNORMAL": 403, "NO_AUTH": 403,
                "FREQUENCY_LIMITED": 429, "SYSTEM_ERROR": 500, "PARAM_ERROR": 400,
                "INVALID_REQUEST": 400, "SIGN_ERROR": 401, "RESOURCE_NOT_EXISTS": 404,
                "MCH_NOT_EXISTS": 400}


@dataclass
class Merchant:
    mchid: str
    serial: str
    public_key: rsa.RSAPublicKey
    api_v3_key: str


@dataclass
class FakeWeChatPay:
    platform: KeyPair = field(default_factory=lambda: pair("wechatpay-platform"))
    merchants: dict[str, Merchant] = field(default_factory=dict)
    sub_merchants: dict[str, set[str]] = field(default_factory=dict)  # sp mchid -> sub_mchids
    refunds: dict[str, dict[str, Any]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    outcome: str = "SUCCESS"
    tamper_responses: bool = False
    replay_responses: bool = False
    last_response: tuple[int, dict[str, str], bytes] | None = None
    seen_nonces: set[str] = field(default_factory=set)
    refused: list[str] = field(default_factory=list)
    calls: list[tuple[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    bill_ready: bool = True
    tamper_bill: bool = False
    bill_files: dict[str, bytes] = field(default_factory=dict)  # download token -> file
    _server: ThreadingHTTPServer | None = None

    # -- set-up ------------------------------------------------------------------------

    def add_merchant(self, mchid: str, keys: KeyPair, api_v3_key: str) -> None:
        public = serialization.load_pem_public_key(keys.public_pem.encode())
        assert isinstance(public, rsa.RSAPublicKey)
        self.merchants[mchid] = Merchant(mchid, keys.serial, public, api_v3_key)

    def bind_sub_merchant(self, sp_mchid: str, sub_mchid: str) -> None:
        self.sub_merchants.setdefault(sp_mchid, set()).add(sub_mchid)

    def reset(self) -> None:
        with self.lock:
            self.merchants.clear()
            self.sub_merchants.clear()
            self.refunds.clear()
            self.errors.clear()
            self.seen_nonces.clear()
            self.refused.clear()
            self.calls.clear()
            self.outcome, self.tamper_responses = "SUCCESS", False
            self.replay_responses, self.last_response = False, None
            self.bill_ready, self.tamper_bill = True, False
            self.bill_files.clear()

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    # -- the protocol ------------------------------------------------------------------

    def sign(self, body: bytes, *, timestamp: int | None = None, nonce: str | None = None,
             key: rsa.RSAPrivateKey | None = None, serial: str = PLATFORM_KEY_ID
             ) -> dict[str, str]:
        ts = str(timestamp if timestamp is not None else int(time.time()))
        nonce = nonce or secrets.token_hex(16)
        message = ts.encode() + b"\n" + nonce.encode() + b"\n" + body + b"\n"
        signature = (key or self.platform.private).sign(message, padding.PKCS1v15(),
                                                        hashes.SHA256())
        return {"Wechatpay-Serial": serial, "Wechatpay-Timestamp": ts, "Wechatpay-Nonce": nonce,
                "Wechatpay-Signature": base64.b64encode(signature).decode(),
                "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048"}

    def check_request(self, method: str, target: str, headers: Any, body: bytes) -> str | None:
        """None when the request is signed right; else why not."""
        auth = headers.get("Authorization", "")
        if not auth.startswith("WECHATPAY2-SHA256-RSA2048 "):
            return "no WECHATPAY2-SHA256-RSA2048 authorization"
        parts = dict(_AUTH.findall(auth))
        merchant = self.merchants.get(parts.get("mchid", ""))
        if merchant is None:
            return "unknown mchid"
        if parts.get("serial_no") != merchant.serial:
            return "wrong serial_no"
        ts, nonce = parts.get("timestamp", ""), parts.get("nonce_str", "")
        if not ts.isdigit() or abs(time.time() - int(ts)) > 300:
            return "stale timestamp"
        with self.lock:
            if nonce in self.seen_nonces:
                return "replayed nonce"
            self.seen_nonces.add(nonce)
        message = f"{method}\n{target}\n{ts}\n{nonce}\n".encode() + body + b"\n"
        try:
            merchant.public_key.verify(base64.b64decode(parts.get("signature", "")), message,
                                       padding.PKCS1v15(), hashes.SHA256())
        except (InvalidSignature, ValueError):
            return "bad signature"
        return None

    def handle(self, method: str, target: str, headers: Any, body: bytes
               ) -> tuple[int, dict[str, Any] | bytes | None]:
        self.calls.append((method, target))
        problem = self.check_request(method, target, headers, body)
        if problem is not None:
            self.refused.append(problem)
            return 401, {"code": "SIGN_ERROR", "message": problem}
        url = urlsplit(target)
        path, mchid = url.path, dict(_AUTH.findall(headers.get("Authorization", "")))["mchid"]
        if method == "POST" and path == "/v3/refund/domestic/refunds":
            req = json.loads(body)
            sub = req.get("sub_mchid")
            if sub is not None and sub not in self.sub_merchants.get(mchid, set()):
                return 400, {"code": "PARAM_ERROR", "message": "sub_mchid 与 sp_mchid 不匹配"}
            return self._refund(req, mchid)
        if method == "GET" and path.startswith("/v3/refund/domestic/refunds/"):
            found = self.refunds.get(path.rsplit("/", 1)[1])
            query = dict(p.split("=", 1) for p in url.query.split("&") if "=" in p)
            if (found is None or found["by_mchid"] != mchid
                    or query.get("sub_mchid") != found.get("sub_mchid")):
                return 404, {"code": "RESOURCE_NOT_EXISTS", "message": "退款单不存在"}
            return 200, self._public(found)
        if method == "GET" and path == "/v3/bill/tradebill":
            return self._bill(dict(parse_qsl(url.query)), mchid)
        if method == "GET" and path == "/v3/billdownload/file":
            file = self.bill_files.get(dict(parse_qsl(url.query)).get("token", ""))
            if file is None:
                return 404, {"code": "RESOURCE_NOT_EXISTS", "message": "账单文件不存在"}
            return 200, file
        return 404, {"code": "PARAM_ERROR", "message": "no such API"}

    # -- refund bills ------------------------------------------------------------------

    def bill_csv(self, bill_date: str, mchid: str, sub_mchid: str | None) -> bytes:
        """The REFUND bill of one day: header, one backticked row per refund, summary."""
        rows = [r for r in list(self.refunds.values()) if r["bill_date"] == bill_date
                and r["by_mchid"] == mchid and r.get("sub_mchid") == sub_mchid]
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(BILL_COLUMNS)
        for r in rows:
            values = dict.fromkeys(BILL_COLUMNS, "")
            values.update({
                "交易时间": "2026-11-30 09:00:00", "商户号": mchid, "特约商户号": sub_mchid or "0",
                "微信订单号": r["transaction_id"], "交易类型": "NATIVE", "交易状态": "REFUND",
                "货币种类": "CNY", "退款申请时间": r["create_time"][:19].replace("T", " "),
                "微信退款单号": r["refund_id"], "商户退款单号": r["out_refund_no"],
                "退款金额": f"{r['amount']['refund'] / 100:.2f}", "退款类型": "ORIGINAL",
                "退款状态": BILL_STATUS[r["status"]], "手续费": "0.00", "费率": "0.60%",
                "订单金额": f"{r['amount']['total'] / 100:.2f}",
                "申请退款金额": f"{r['amount']['refund'] / 100:.2f}"})
            writer.writerow(["`" + values[c] for c in BILL_COLUMNS])
        writer.writerow(BILL_SUMMARY)
        total = sum(r["amount"]["refund"] for r in rows) / 100
        writer.writerow([f"`{v}" for v in (len(rows), "0.00", f"{total:.2f}", "0.00", "0.00",
                                           "0.00", f"{total:.2f}")])
        return out.getvalue().encode()

    def _bill(self, query: dict[str, str], mchid: str) -> tuple[int, dict[str, Any]]:
        if query.get("bill_type") != "REFUND" or "bill_date" not in query:
            return 400, {"code": "PARAM_ERROR", "message": "bill_type/bill_date"}
        sub = query.get("sub_mchid")
        if sub is not None and sub not in self.sub_merchants.get(mchid, set()):
            return 400, {"code": "PARAM_ERROR", "message": "sub_mchid 与 sp_mchid 不匹配"}
        if not self.bill_ready:
            return 400, {"code": "NO_STATEMENT_EXIST", "message": "账单文件不存在"}
        plain = self.bill_csv(query["bill_date"], mchid, sub)
        digest = hashlib.sha1(plain).hexdigest()
        if self.tamper_bill:  # after the hash: what a corrupted download looks like
            plain = plain.replace(b"`SUCCESS", b"`REFUNDCLOSE", 1) + b"\r\n"
        served = gzip.compress(plain) if query.get("tar_type") == "GZIP" else plain
        token = secrets.token_hex(8)
        self.bill_files[token] = served
        return 200, {"download_url": f"{self.url}/v3/billdownload/file?token={token}",
                     "hash_type": "SHA1", "hash_value": digest}

    def _refund(self, req: dict[str, Any], mchid: str) -> tuple[int, dict[str, Any]]:
        with self.lock:
            existing = self.refunds.get(req["out_refund_no"])
            if existing is not None:
                if existing["amount"]["refund"] != req["amount"]["refund"]:
                    return 400, {"code": "INVALID_REQUEST", "message": "参数与首次请求不一致"}
                return 200, self._public(existing)
            if self.errors:
                code = self.errors.pop(0)
                return ERROR_STATUS[code], {"code": code, "message": f"fake: {code}"}
            refund = {
                "refund_id": f"50300{len(self.refunds) + 1:027d}", "out_refund_no":
                req["out_refund_no"], "transaction_id": req["transaction_id"],
                "out_trade_no": "", "channel": "ORIGINAL", "user_received_account": "支付用户零钱",
                "create_time": "2026-11-30T10:00:00+08:00", "status": self.outcome,
                "amount": {"refund": req["amount"]["refund"], "total": req["amount"]["total"],
                           "currency": req["amount"]["currency"],
                           "payer_refund": req["amount"]["refund"]},
                "notify_url": req["notify_url"], "sub_mchid": req.get("sub_mchid"),
                "by_mchid": mchid, "bill_date": datetime.now(CHINA).date().isoformat(),
            }
            if self.outcome == "SUCCESS":
                refund["success_time"] = "2026-11-30T10:00:01+08:00"
            self.refunds[req["out_refund_no"]] = refund
            return 200, self._public(refund)

    @staticmethod
    def _public(refund: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in refund.items()
                if k not in ("notify_url", "sub_mchid", "by_mchid", "bill_date")}

    # -- scripting ---------------------------------------------------------------------

    def settle(self, out_refund_no: str, status: str) -> None:
        self.refunds[out_refund_no]["status"] = status

    def notification(self, out_refund_no: str, mchid: str, **sign_options: Any
                     ) -> tuple[str, bytes, dict[str, str]]:
        """(notify_url path, body, headers) of the refund-result notification."""
        refund = self.refunds[out_refund_no]
        plain = {"mchid": mchid, "out_trade_no": refund["out_trade_no"],
                 "transaction_id": refund["transaction_id"], "out_refund_no": out_refund_no,
                 "refund_id": refund["refund_id"], "refund_status": refund["status"],
                 "user_received_account": refund["user_received_account"],
                 "amount": {k: refund["amount"][k] for k in ("total", "refund")}}
        if refund.get("sub_mchid"):
            plain = {"sp_mchid": mchid, "sub_mchid": refund["sub_mchid"], **plain}
            plain.pop("mchid")
        nonce, aad = secrets.token_hex(6), "refund"
        sealed = AESGCM(self.merchants[mchid].api_v3_key.encode()).encrypt(
            nonce.encode(), json.dumps(plain).encode(), aad.encode())
        envelope = {
            "id": f"EV-{secrets.token_hex(8)}", "create_time": "2026-11-30T10:00:02+08:00",
            "resource_type": "encrypt-resource", "event_type": f"REFUND.{refund['status']}",
            "summary": "退款状态", "resource": {
                "original_type": "refund", "algorithm": "AEAD_AES_256_GCM",
                "ciphertext": base64.b64encode(sealed).decode(), "associated_data": aad,
                "nonce": nonce}}
        body = json.dumps(envelope, ensure_ascii=False).encode()
        return urlsplit(refund["notify_url"]).path, body, self.sign(body, **sign_options)

    # -- the server --------------------------------------------------------------------

    def start(self) -> None:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                if fake.replay_responses and fake.last_response is not None:
                    status, headers, raw = fake.last_response
                else:
                    status, answer = fake.handle(self.command, self.path, self.headers, body)
                    if isinstance(answer, bytes):  # a bill file: not signed, its hash proves it
                        self._send(status, {}, answer, "application/octet-stream")
                        return
                    raw = json.dumps(answer, ensure_ascii=False).encode() if answer else b""
                    headers = fake.sign(raw)
                    if fake.tamper_responses and raw:
                        raw = raw.replace(b'"SUCCESS"', b'"CLOSED"').replace(b'"PROCESSING"',
                                                                               b'"CLOSED"')
                    fake.last_response = (status, headers, raw)
                self._send(status, headers, raw, "application/json")

            def _send(self, status: int, headers: dict[str, str], raw: bytes,
                      content_type: str) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            do_GET = do_POST = _serve

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


def api_v3_key() -> str:
    return base64.b32encode(os.urandom(20)).decode()[:32]
