"""Baidu smart program (swan) open data decryption (platforms notes section 4, vector B1).

Baidu differs from WeChat in three ways: AES-**192**-CBC (the session key decodes to 24
bytes), PKCS#7 padding over a **32-byte** block (pad values 1..32), and a framed plaintext::

    16 random bytes | N (4-byte big-endian unsigned) | N bytes of JSON | App Key

The trailing App Key replaces WeChat's watermark and must equal the configured one. There is
no timestamp, so no freshness check is possible. As with WeChat, CBC has no MAC: the data is
confidential but not authenticated, and identity comes from ``jscode2sessionkey`` only.
"""

from __future__ import annotations

import hmac
from typing import Any

from bastion.platforms._wechat_data import (
    cbc_open,
    data_error,
    decode_cbc_inputs,
    parse_json_object,
    same_text,
)

__all__ = ["decrypt_baidu_data"]

SESSION_KEY_BYTES = 24  # AES-192
PAD_BLOCK = 32  # Baidu pads to 32-byte blocks, not the AES block size
RANDOM_PREFIX_BYTES = 16
LENGTH_BYTES = 4


def _unframe(plaintext: bytes) -> tuple[bytes, bytes] | None:
    """Split ``random | N | content | app_key`` into (content, app_key); None if N overruns."""
    header = RANDOM_PREFIX_BYTES + LENGTH_BYTES
    if len(plaintext) < header:
        return None
    length = int.from_bytes(plaintext[RANDOM_PREFIX_BYTES:header], "big")
    if length > len(plaintext) - header:
        return None
    return plaintext[header : header + length], plaintext[header + length :]


def decrypt_baidu_data(
    *,
    session_key_b64: str,
    iv_b64: str,
    encrypted_b64: str,
    app_key: str,
    expected_openid: str | None = None,
) -> dict[str, Any]:
    """Decrypt Baidu open data and check its trailing App Key.

    Checks, in order, each raising :class:`PlatformDataInvalid` with that ``reason``:
    size and strict base64 of the three inputs (``invalid_key`` / ``decrypt_failed`` when
    oversized, ``base64_invalid``); session key of 24 bytes (``invalid_key``); IV of 16 bytes,
    ciphertext of whole blocks, AES-192-CBC, 32-byte-block PKCS#7 and the length framing, all
    one generic ``decrypt_failed`` (no padding oracle); trailing App Key equal to ``app_key``,
    compared in constant time (``app_key_mismatch``); the content is a strict UTF-8 JSON
    object (``decrypt_failed``); if ``expected_openid`` (the jscode2sessionkey openid) is
    given and the data carries ``openid``, they are equal (``openid_mismatch``).

    Returns the decrypted JSON object (not authenticated: never take identity from it).
    Raises ``ValueError`` for an empty ``app_key`` (a caller bug: the check would be void).
    """
    if not app_key:
        raise ValueError("app_key must be set")
    key, iv, data = decode_cbc_inputs(
        session_key_b64, iv_b64, encrypted_b64, key_bytes=SESSION_KEY_BYTES
    )
    plaintext = cbc_open(key, iv, data, block=PAD_BLOCK)
    framed = None if plaintext is None else _unframe(plaintext)
    if framed is None:
        raise data_error("decrypt_failed")
    content, trailer = framed
    if not hmac.compare_digest(trailer, app_key.encode("utf-8")):
        raise data_error("app_key_mismatch")
    document = parse_json_object(content)
    if document is None:
        raise data_error("decrypt_failed")
    if expected_openid is not None and "openid" in document:
        found = document["openid"]
        if not isinstance(found, str) or not same_text(found, expected_openid):
            raise data_error("openid_mismatch")
    return document
