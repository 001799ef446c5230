"""Encryption at rest and keyed hashes for personal data (ID numbers, phone numbers).

Values are sealed with AES-256-GCM under a key derived from settings.DATA_KEY; the stored text is
"v1:" + base64(nonce + ciphertext). Equality look-ups (uniqueness, search by exact ID number) use
an HMAC-SHA256 keyed hash, so the database never holds a value that can be reversed or guessed by
hashing candidate numbers without the key.
"""

import base64
import hashlib
import hmac
import os
from functools import lru_cache

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings

VERSION = "v1"

# Other apps' sealed columns, re-encrypted by `dangjian rotate-data-key` after members and
# accounts: (model label, [(encrypted field, keyed-hash field or None), ...]). Apps add theirs in
# AppConfig.ready().
SEALED: list[tuple[str, list[tuple[str, str | None]]]] = []


@lru_cache(maxsize=4)
def _keys(data_key: str) -> tuple[AESGCM, bytes]:
    root = hashlib.sha256(data_key.encode()).digest()
    enc = hmac.new(root, b"dangjian-encrypt", hashlib.sha256).digest()
    mac = hmac.new(root, b"dangjian-lookup", hashlib.sha256).digest()
    return AESGCM(enc), mac


def encrypt(plain: str) -> str:
    aead, _mac = _keys(settings.DATA_KEY)
    nonce = os.urandom(12)
    sealed = aead.encrypt(nonce, plain.encode(), None)
    return f"{VERSION}:" + base64.b64encode(nonce + sealed).decode()


def decrypt(token: str) -> str:
    version, _, body = token.partition(":")
    if version != VERSION:
        raise ValueError(f"unknown encryption version {version!r}")
    raw = base64.b64decode(body)
    aead, _mac = _keys(settings.DATA_KEY)
    return aead.decrypt(raw[:12], raw[12:], None).decode()


def keyed_hash(value: str) -> str:
    _aead, mac = _keys(settings.DATA_KEY)
    return hmac.new(mac, value.encode(), hashlib.sha256).hexdigest()


def mask_id_number(value: str) -> str:
    """110105194912310021 -> 110105********0021 (region and last four kept)."""
    if len(value) <= 10:
        return "*" * len(value)
    return value[:6] + "*" * (len(value) - 10) + value[-4:]


def mask_phone(value: str) -> str:
    """13812345678 -> 138****5678."""
    if len(value) < 7:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]


def mask_email(value: str) -> str:
    """zhang.san@example.org -> z***@example.org; not an address -> empty."""
    local, at, domain = value.partition("@")
    if not at or not domain:
        return ""
    return f"{local[:1]}***@{domain}"
