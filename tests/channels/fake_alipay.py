"""A protocol-faithful fake of the Alipay OpenAPI gateway (refund and refund query), on
127.0.0.1, written from the published rules and sharing no code with the adapter.

It checks each request's RSA2 signature (sorted ``k=v`` pairs without ``sign``, by the
app's public key), the app id, the ``app_auth_token`` of a service provider's app, a
timestamp within ten minutes (Beijing time) and ``sign_type`` RSA2; it signs each
answer's ``<method>_response`` text with its own Alipay key, and keeps refunds by
(trade_no, out_request_no) so a repeat never refunds twice.

``pending``: new refunds are accepted without moving money yet (``fund_change`` ``N``)
until ``settle``; ``notification`` builds the asynchronous notification Alipay posts
to the refund's ``notify_url`` (form-encoded, RSA2 over the sorted parameters
without ``sign``/``sign_type``, by the Alipay key).
"""

from __future__ import annotations

import base64
import io
import json
import secrets
import threading
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tests.channels.keys import KeyPair, pair

CHINA = timezone(timedelta(hours=8))
CODES = {"ACQ.SYSTEM_ERROR": "20000"}
FULL_WIDTH = str.maketrans({":": "\uff1a", ",": "\uff0c"})
BILL_METHOD = "alipay.data.dataservice.bill.downloadurl.query"
# The trade bill's detail columns, as Alipay documents them (业务明细, full-width parens).
BILL_HEADER = ("支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,门店编号,门店名称,"
               "操作员,终端号,对方账户,订单金额\uff08元\uff09,商家实收\uff08元\uff09,"
               "退款批次号/请求号,服务费\uff08元\uff09,备注")


@dataclass
class App:
    public_key: rsa.RSAPublicKey
    app_auth_token: str | None


@dataclass
class FakeAlipay:
    alipay: KeyPair = field(default_factory=lambda: pair("alipay-platform"))
    apps: dict[str, App] = field(default_factory=dict)
    refunds: dict[tuple[str, str], str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    tamper_responses: bool = False
    pending: bool = False
    unsettled: set[tuple[str, str]] = field(default_factory=set)
    notify_urls: dict[tuple[str, str], str] = field(default_factory=dict)
    refused: list[str] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    refund_days: dict[tuple[str, str], str] = field(default_factory=dict)  # China date
    bill_ready: bool = True
    bill_files: dict[str, bytes] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    def add_app(self, app_id: str, keys: KeyPair, app_auth_token: str | None = None) -> None:
        public = serialization.load_pem_public_key(keys.public_pem.encode())
        assert isinstance(public, rsa.RSAPublicKey)
        self.apps[app_id] = App(public, app_auth_token)

    def reset(self) -> None:
        with self.lock:
            self.apps.clear()
            self.refunds.clear()
            self.errors.clear()
            self.refused.clear()
            self.calls.clear()
            self.unsettled.clear()
            self.notify_urls.clear()
            self.tamper_responses = self.pending = False
            self.refund_days.clear()
            self.bill_files.clear()
            self.bill_ready = True

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/gateway.do"

    def check(self, params: dict[str, str]) -> str | None:
        app = self.apps.get(params.get("app_id", ""))
        if app is None:
            return "unknown app_id"
        if params.get("sign_type") != "RSA2":
            return "sign_type is not RSA2"
        try:
            sent = datetime.strptime(params.get("timestamp", ""), "%Y-%m-%d %H:%M:%S")
        except ValueError:
            return "bad timestamp"
        if abs(datetime.now(CHINA) - sent.replace(tzinfo=CHINA)) > timedelta(minutes=10):
            return "stale timestamp"
        if app.app_auth_token and params.get("app_auth_token") != app.app_auth_token:
            return "wrong app_auth_token"
        text = "&".join(f"{k}={params[k]}" for k in sorted(params) if k != "sign" and params[k])
        try:
            app.public_key.verify(base64.b64decode(params.get("sign", "")), text.encode(),
                                  padding.PKCS1v15(), hashes.SHA256())
        except (InvalidSignature, ValueError):
            return "bad signature"
        return None

    def answer(self, params: dict[str, str]) -> dict[str, Any]:
        method = params.get("method", "")
        self.calls.append(method)
        problem = self.check(params)
        if problem is not None:
            self.refused.append(problem)
            return {"code": "40002", "msg": "Invalid Arguments",
                    "sub_code": "isv.invalid-signature", "sub_msg": problem}
        biz = json.loads(params["biz_content"])
        if method == BILL_METHOD:
            return self._bill(biz)
        key = (biz.get("trade_no") or biz.get("out_trade_no", ""), biz["out_request_no"])
        if method == "alipay.trade.refund":
            with self.lock:
                if key in self.refunds:
                    if self.refunds[key] != biz["refund_amount"]:
                        return self._error("ACQ.DISCORDANT_REPEAT_REQUEST")
                    return {"code": "10000", "msg": "Success", "fund_change": "N",
                            "refund_fee": biz["refund_amount"], "trade_no": key[0]}
                if self.errors:
                    return self._error(self.errors.pop(0))
                self.refunds[key] = biz["refund_amount"]
                self.refund_days[key] = datetime.now(CHINA).date().isoformat()
                if params.get("notify_url"):
                    self.notify_urls[key] = params["notify_url"]
                if self.pending:
                    self.unsettled.add(key)
                    return {"code": "10000", "msg": "Success", "fund_change": "N",
                            "refund_fee": "0.00", "trade_no": key[0]}
            return {"code": "10000", "msg": "Success", "fund_change": "Y",
                    "refund_fee": biz["refund_amount"], "trade_no": key[0],
                    "buyer_logon_id": "159****5620"}
        if method == "alipay.trade.fastpay.refund.query":
            if key not in self.refunds or key in self.unsettled:
                return {"code": "10000", "msg": "Success", "out_request_no": key[1]}
            return {"code": "10000", "msg": "Success", "trade_no": key[0],
                    "out_request_no": key[1], "refund_amount": self.refunds[key],
                    "refund_status": "REFUND_SUCCESS"}
        return {"code": "40004", "msg": "Business Failed", "sub_code": "ACQ.INVALID_PARAMETER"}

    def bill_zip(self, day: str) -> bytes:
        """The day's trade bill: a zip of GBK CSVs, the detail one with ``#`` titles and
        totals around the header and rows (values padded with a tab), and its summary."""
        refunds = [(k, v) for k, v in self.refunds.items()
                   if self.refund_days.get(k) == day and k not in self.unsettled]
        lines = ["#支付宝业务明细查询", "#账号:[20881021778000000156]",
                 f"#起始日期:[{day} 00:00:00]   终止日期:[{day} 23:59:59]",
                 "#-----------------------------------------业务明细列表----------------",
                 BILL_HEADER]
        for (trade_no, out_request_no), amount in refunds:
            values = [trade_no, f"M{trade_no[-12:]}", "退款", "退款 测试", f"{day} 10:00:00",
                      f"{day} 10:00:01", "", "", "", "", "159****5620", f"-{amount}",
                      f"-{amount}", out_request_no, "0.00", ""]
            lines.append(",".join(v + "\t" for v in values))
        total = sum(Decimal(v) for _k, v in refunds)
        lines += ["#-----------------------------------------业务明细列表结束------------",
                  "#交易合计:0笔,商家实收:0.00元",
                  f"#退款合计:{len(refunds)}笔,商家实收:-{total:.2f}元"]
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
            name = f"20881021778000000156_{day.replace('-', '')}"
            # Alipay writes its titles with full-width colons and commas.
            text = "\r\n".join(line.translate(FULL_WIDTH) if line.startswith("#") else line
                               for line in lines)
            archive.writestr(f"{name}_业务明细.csv", text.encode("gbk"))
            archive.writestr(f"{name}_业务明细(汇总).csv", "#汇总\r\n".encode("gbk"))
        return out.getvalue()

    def _bill(self, biz: dict[str, Any]) -> dict[str, Any]:
        if biz.get("bill_type") != "trade" or not biz.get("bill_date"):
            return self._error("isv.invalid-parameter")
        if not self.bill_ready:
            return self._error("isp.bill_not_exist")
        token = secrets.token_hex(8)
        self.bill_files[token] = self.bill_zip(biz["bill_date"])
        base = self.url.removesuffix("/gateway.do")
        return {"code": "10000", "msg": "Success",
                "bill_download_url": f"{base}/downloadBillFile.resource?fileId={token}"}

    def key_of(self, out_request_no: str) -> tuple[str, str]:
        return next(k for k in self.refunds if k[1] == out_request_no)

    def settle(self, out_request_no: str) -> None:
        self.unsettled.discard(self.key_of(out_request_no))

    def notification(self, out_request_no: str, *, app_id: str, full: bool = True,
                     key: rsa.RSAPrivateKey | None = None, **override: str
                     ) -> tuple[str, bytes]:
        """(notify_url path, form body) of the trade_status_sync notification Alipay
        sends after a refund: a full refund closes the trade (TRADE_CLOSED), a partial
        one leaves it TRADE_SUCCESS; ``refund_fee`` is the trade's refunded total."""
        trade_no, out_biz_no = self.key_of(out_request_no)
        now = datetime.now(CHINA).strftime("%Y-%m-%d %H:%M:%S")
        refunded = sum(Decimal(v) for k, v in self.refunds.items() if k[0] == trade_no)
        params = {
            "notify_time": now, "notify_type": "trade_status_sync",
            "notify_id": secrets.token_hex(16), "charset": "utf-8", "version": "1.0",
            "sign_type": "RSA2", "app_id": app_id, "trade_no": trade_no,
            "out_trade_no": f"M{trade_no[-12:]}", "out_biz_no": out_biz_no,
            "buyer_id": "2088102177846880", "seller_id": "2088102177800000",
            "trade_status": "TRADE_CLOSED" if full else "TRADE_SUCCESS",
            "refund_fee": f"{refunded:.2f}", "gmt_payment": now, "gmt_refund": now + ".123",
            "subject": "退款 测试&订单=1",
        }
        if full:
            params["gmt_close"] = now
        params.update(override)
        text = "&".join(f"{k}={params[k]}" for k in sorted(params)
                        if k not in ("sign", "sign_type") and params[k])
        params["sign"] = base64.b64encode((key or self.alipay.private).sign(
            text.encode(), padding.PKCS1v15(), hashes.SHA256())).decode()
        url = self.notify_urls[(trade_no, out_biz_no)]
        return urlsplit(url).path, urlencode(params).encode()

    @staticmethod
    def _error(sub_code: str) -> dict[str, Any]:
        return {"code": CODES.get(sub_code, "40004"), "msg": "Business Failed",
                "sub_code": sub_code, "sub_msg": f"fake: {sub_code}"}

    def render(self, method: str, answer: dict[str, Any]) -> bytes:
        inner = json.dumps(answer, ensure_ascii=False, separators=(",", ":"))
        signature = base64.b64encode(self.alipay.private.sign(
            inner.encode(), padding.PKCS1v15(), hashes.SHA256())).decode()
        if self.tamper_responses:
            inner = inner.replace('"fund_change":"Y"', '"fund_change":"N"').replace(
                '"10000"', '"40004"')
        key = method.replace(".", "_") + "_response"
        return f'{{"{key}":{inner},"sign":"{signature}"}}'.encode()

    def start(self) -> None:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                params = dict(parse_qsl(self.rfile.read(length).decode(),
                                        keep_blank_values=True))
                raw = fake.render(params.get("method", "error"), fake.answer(params))
                self.send_response(200)
                self.send_header("Content-Type", "application/json;charset=utf-8")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def do_GET(self) -> None:  # a bill download: the URL is the credential
                query = dict(parse_qsl(urlsplit(self.path).query))
                raw = fake.bill_files.get(query.get("fileId", ""))
                self.send_response(200 if raw is not None else 404)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(raw or b"")))
                self.end_headers()
                self.wfile.write(raw or b"")

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
