"""Channel credentials: validated on save, sealed at rest, opened only to sign calls.

Every check names the API field it refused (``wechatPay.merchantPrivateKey``...), so
a merchant pasting the wrong file learns which one. Keys are parsed with
``cryptography``: a private key must be RSA of at least 2048 bits (both providers
sign with RSA-SHA256), the provider's key may be a PEM public key or an X.509
certificate (its public key and, for WeChat Pay, its serial number are taken).
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey

from qrefund.platform.channels.errors import ChannelError
from qrefund.platform.channels.models import LINK_SECRETS_PURPOSE, SECRETS_PURPOSE
from qrefund.platform.crypto import key_ring
from qrefund.platform.errors import CommonError, InvalidInput

MAX_PEM = 8192
_MCHID = re.compile(r"^[0-9]{6,32}$")
_APP_ID = re.compile(r"^[0-9]{8,32}$")
_SERIAL = re.compile(r"^[0-9A-Fa-f]{8,64}$")
_KEY_ID = re.compile(r"^[0-9A-Za-z_]{4,64}$")
_TOKEN = re.compile(r"^[0-9A-Za-z_.\-]{8,128}$")
_API_V3_KEY = re.compile(r"^[0-9A-Za-z]{32}$")


@dataclass(frozen=True)
class WeChatPaySecrets:
    api_v3_key: str
    merchant_private_key: str  # PEM


@dataclass(frozen=True)
class AlipaySecrets:
    app_private_key: str  # PEM
    app_auth_token: str | None = None


def _refuse(field: str, message: str, code: ChannelError | CommonError = ChannelError.
            INVALID_CREDENTIAL) -> InvalidInput:
    return InvalidInput(message, field=field.split("."), code=code)


def required(value: str | None, field: str, max_len: int = MAX_PEM) -> str:
    text = (value or "").strip()
    if not text:
        raise _refuse(field, f"{field} is required", CommonError.REQUIRED)
    if len(text) > max_len:
        raise _refuse(field, f"{field} is longer than {max_len} characters", CommonError.TOO_LONG)
    return text


def matching(value: str | None, field: str, pattern: re.Pattern[str], what: str) -> str:
    text = required(value, field, 128)
    if not pattern.match(text):
        raise _refuse(field, f"{field} is not {what}")
    return text


def mchid(value: str | None, field: str) -> str:
    return matching(value, field, _MCHID, "a WeChat Pay merchant id (6-32 digits)")


def app_id(value: str | None, field: str) -> str:
    return matching(value, field, _APP_ID, "an Alipay app id (digits)")


def serial(value: str | None, field: str) -> str:
    return matching(value, field, _SERIAL, "a certificate serial number (hex)").upper()


def key_id(value: str | None, field: str) -> str:
    return matching(value, field, _KEY_ID, "a public key id (e.g. PUB_KEY_ID_...)")


def api_v3_key(value: str | None, field: str) -> str:
    return matching(value, field, _API_V3_KEY, "an API v3 key (32 letters and digits)")


def app_auth_token(value: str | None, field: str) -> str:
    return matching(value, field, _TOKEN, "an app_auth_token")


def private_key(value: str | None, field: str) -> str:
    """A PEM RSA private key (PKCS#8 or PKCS#1, unencrypted), at least 2048 bits."""
    pem = required(value, field)
    try:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError):
        raise _refuse(field, f"{field} is not an unencrypted PEM private key") from None
    if not isinstance(key, RSAPrivateKey) or key.key_size < 2048:
        raise _refuse(field, f"{field} must be an RSA key of at least 2048 bits")
    return pem


def public_key(value: str | None, field: str) -> tuple[str, str | None]:
    """A PEM public key or certificate: (the public key as PEM, the certificate's serial
    in hex, or None for a bare key)."""
    pem = required(value, field)
    key: object
    try:
        if "BEGIN CERTIFICATE" in pem:
            cert = x509.load_pem_x509_certificate(pem.encode())
            key, found_serial = cert.public_key(), f"{cert.serial_number:X}"
        else:
            key, found_serial = serialization.load_pem_public_key(pem.encode()), None
    except (ValueError, TypeError):
        raise _refuse(field, f"{field} is not a PEM public key or certificate") from None
    if not isinstance(key, RSAPublicKey) or key.key_size < 2048:
        raise _refuse(field, f"{field} must hold an RSA key of at least 2048 bits")
    normal = key.public_bytes(serialization.Encoding.PEM,
                              serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return normal, found_serial


def load_private(pem: str) -> RSAPrivateKey:
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    assert isinstance(key, RSAPrivateKey)
    return key


def load_public(pem: str) -> RSAPublicKey:
    key = serialization.load_pem_public_key(pem.encode())
    assert isinstance(key, RSAPublicKey)
    return key


def seal(secrets: WeChatPaySecrets | AlipaySecrets) -> str:
    return key_ring().encrypt(json.dumps(asdict(secrets)), SECRETS_PURPOSE)


def open_wechatpay(sealed: str) -> WeChatPaySecrets:
    return WeChatPaySecrets(**json.loads(key_ring().decrypt(sealed, SECRETS_PURPOSE)))


def open_alipay(sealed: str) -> AlipaySecrets:
    return AlipaySecrets(**json.loads(key_ring().decrypt(sealed, SECRETS_PURPOSE)))


def seal_link(app_auth_token: str) -> str:
    """A merchant link's Alipay app_auth_token, sealed for its own column."""
    return key_ring().encrypt(json.dumps({"app_auth_token": app_auth_token}),
                              LINK_SECRETS_PURPOSE)


def open_link(sealed: str) -> str:
    return str(json.loads(key_ring().decrypt(sealed, LINK_SECRETS_PURPOSE))["app_auth_token"])
