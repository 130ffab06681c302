"""Authenticated encryption of personal data at rest (AES-256-GCM).

Ciphertexts are ``v1.<key id>.<base64url(nonce || ciphertext+tag)>``: the key id
is stored with every value so keys can be rotated (the first key in
``QREFUND_ENCRYPTION_KEY`` encrypts, every listed key decrypts). The associated
data binds a value to its purpose (e.g. ``transaction.payer_account``) so a
ciphertext cannot be copied into another column and decrypted there.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from qrefund.platform.config import ConfigurationError, Settings, get_settings


def _b64d(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def _b64e(value: bytes) -> str:
    return base64.urlsafe_b64encode(value).rstrip(b"=").decode()


@dataclass(frozen=True)
class KeyRing:
    keys: dict[str, bytes]
    primary: str

    @classmethod
    def parse(cls, spec: str) -> KeyRing:
        keys: dict[str, bytes] = {}
        order: list[str] = []
        for index, part in enumerate(p.strip() for p in spec.split(",") if p.strip()):
            kid, _, material = part.rpartition(":")
            kid = kid or f"k{index}"
            try:
                raw = _b64d(material)
            except (binascii.Error, ValueError):
                raise ConfigurationError("QREFUND_ENCRYPTION_KEY: key is not base64") from None
            if len(raw) != 32:
                raise ConfigurationError("QREFUND_ENCRYPTION_KEY: each key must be 32 bytes")
            keys[kid] = raw
            order.append(kid)
        if not order:
            raise ConfigurationError("QREFUND_ENCRYPTION_KEY: no key given")
        return cls(keys, order[0])

    def encrypt(self, plaintext: str, purpose: str) -> str:
        nonce = os.urandom(12)
        sealed = AESGCM(self.keys[self.primary]).encrypt(
            nonce, plaintext.encode(), purpose.encode()
        )
        return f"v1.{self.primary}.{_b64e(nonce + sealed)}"

    def decrypt(self, token: str, purpose: str) -> str:
        version, kid, body = token.split(".", 2)
        if version != "v1" or kid not in self.keys:
            raise ValueError("unknown ciphertext version or key id")
        raw = _b64d(body)
        return AESGCM(self.keys[kid]).decrypt(raw[:12], raw[12:], purpose.encode()).decode()

    def blind_index(self, value: str, purpose: str) -> str:
        """A keyed hash for equality look-ups on encrypted values."""
        mac = hmac.new(self.keys[self.primary], f"{purpose}:{value}".encode(), hashlib.sha256)
        return mac.hexdigest()


def generate_key() -> str:
    return _b64e(secrets.token_bytes(32))


def load_key_ring(settings: Settings) -> KeyRing:
    if settings.encryption_key:
        return KeyRing.parse(settings.encryption_key)
    if settings.environment == "production":
        raise ConfigurationError("QREFUND_ENCRYPTION_KEY: required in production")
    path: Path = settings.encryption_key_file
    if not path.exists():
        # Development only: a key generated once and kept beside the SQLite file.
        path.write_text(f"dev:{generate_key()}\n")
        path.chmod(0o600)
    return KeyRing.parse(path.read_text().strip())


@lru_cache(maxsize=1)
def key_ring() -> KeyRing:
    return load_key_ring(get_settings())
