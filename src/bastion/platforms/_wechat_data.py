"""WeChat (and Douyin) open data: encryptedData decryption, rawData and login-state signatures.

Offline, pure functions over the values a mini program sends and the ``session_key`` that
code2Session returned (platforms notes 1.3-1.5; Douyin in section 4 uses the same algorithms).

Decrypted data is returned as a plain ``dict`` (the JSON object as WeChat encrypted it, with
its ``watermark``); no wrapper class, so callers pick the fields they need. CBC has no MAC:
the data is confidential from the network but **not** proof of origin (vector W1-d2), so
identity always comes from code2Session, never from ``openId`` inside the data.

Every failure raises :class:`PlatformDataInvalid` whose ``reason`` is one error kind of the
shared platform vectors and whose message is the fixed public text. No message, ``repr`` or
exception chain holds the session key, the plaintext or the signed text: failures are
raised outside the ``except`` blocks that caught the library error, so ``__context__`` is empty.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from typing import Any

from bastion.crypto.platform import aes_cbc_decrypt, pkcs7_unpad
from bastion.platforms._errors import PlatformDataInvalid

__all__ = [
    "CLOCK_SKEW_SECONDS",
    "MAX_ENCRYPTED_CHARS",
    "decrypt_douyin_data",
    "decrypt_wechat_data",
    "login_state_signature",
    "verify_login_state_signature",
    "verify_raw_data_signature",
]

MAX_ENCRYPTED_CHARS = 16 * 1024  # base64 text of encryptedData / rawData; larger is refused
MAX_KEY_CHARS = 64  # a 16- or 24-byte key or a 16-byte IV is 24 or 32 characters
CLOCK_SKEW_SECONDS = 300  # how far in the future a watermark may be (platform clock skew)
SESSION_KEY_BYTES = 16
IV_BYTES = 16


def data_error(reason: str) -> PlatformDataInvalid:
    """The one error type of this module; the reason is the vectors' error kind."""
    return PlatformDataInvalid(reason)


def strict_b64decode(text: object) -> bytes | None:
    """Decode canonical standard base64 (``+/``, ``=`` padding, no whitespace); else None."""
    if not isinstance(text, str) or not text.isascii():
        return None
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw if base64.b64encode(raw).decode("ascii") == text else None


def _field(text: object, limit: int, oversize_reason: str) -> bytes:
    if isinstance(text, str) and len(text) > limit:
        raise data_error(oversize_reason)
    raw = strict_b64decode(text)
    if raw is None:
        raise data_error("base64_invalid")
    return raw


def decode_cbc_inputs(
    session_key_b64: str, iv_b64: str, encrypted_b64: str, *, key_bytes: int
) -> tuple[bytes, bytes, bytes]:
    """Bound, decode and length-check the three base64 inputs of a CBC open-data payload.

    Order: each field (key, iv, data) is size-bounded then strictly decoded
    (``invalid_key`` / ``decrypt_failed`` / ``decrypt_failed`` when oversized,
    ``base64_invalid`` when not canonical base64); then the key must be ``key_bytes`` long
    (``invalid_key``), the IV 16 bytes and the ciphertext a non-empty multiple of 16 bytes
    (both ``decrypt_failed``).
    """
    key = _field(session_key_b64, MAX_KEY_CHARS, "invalid_key")
    iv = _field(iv_b64, MAX_KEY_CHARS, "decrypt_failed")
    data = _field(encrypted_b64, MAX_ENCRYPTED_CHARS, "decrypt_failed")
    if len(key) != key_bytes:
        raise data_error("invalid_key")
    if len(iv) != IV_BYTES or not data or len(data) % 16:
        raise data_error("decrypt_failed")
    return key, iv, data


def cbc_open(key: bytes, iv: bytes, data: bytes, *, block: int) -> bytes | None:
    """AES-CBC decrypt and strip PKCS#7 padding of ``block`` bytes; None on any failure."""
    try:
        return pkcs7_unpad(aes_cbc_decrypt(key, iv, data), block)
    except ValueError:
        return None


def _unique_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for name, value in pairs:
        if name in result:
            raise ValueError("duplicate member")
        result[name] = value
    return result


def _no_constant(_name: str) -> Any:
    raise ValueError("non-finite number")


def parse_json_object(raw: bytes) -> dict[str, Any] | None:
    """Strict UTF-8 JSON object (no duplicate members, no NaN/Infinity); None otherwise."""
    try:
        value = json.loads(
            raw.decode("utf-8"), object_pairs_hook=_unique_object, parse_constant=_no_constant
        )
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError included
        return None
    return value if isinstance(value, dict) else None


def same_text(a: str, b: str) -> bool:
    """Constant-time equality of two strings (lone surrogates allowed, compared as code units)."""
    return hmac.compare_digest(
        a.encode("utf-8", "surrogatepass"), b.encode("utf-8", "surrogatepass")
    )


def _check_watermark(data: dict[str, Any], app_id: str, now: float, max_age: int) -> None:
    watermark = data.get("watermark")
    if not isinstance(watermark, dict):
        raise data_error("appid_mismatch")
    appid = watermark.get("appid")
    if not isinstance(appid, str) or not same_text(appid, app_id):
        raise data_error("appid_mismatch")
    stamp = watermark.get("timestamp")
    if isinstance(stamp, bool) or not isinstance(stamp, int):
        raise data_error("stale")
    if now - stamp > max_age or stamp - now > CLOCK_SKEW_SECONDS:
        raise data_error("stale")


def _check_openid(data: dict[str, Any], expected_openid: str | None) -> None:
    if expected_openid is None:
        return
    for name in ("openId", "openid"):
        if name in data:
            found = data[name]
            if not isinstance(found, str) or not same_text(found, expected_openid):
                raise data_error("openid_mismatch")


def decrypt_wechat_data(
    *,
    session_key_b64: str,
    iv_b64: str,
    encrypted_b64: str,
    app_id: str,
    now: float,
    max_age_seconds: int,
    expected_openid: str | None = None,
) -> dict[str, Any]:
    """Decrypt WeChat ``encryptedData`` (AES-128-CBC, PKCS#7) and check its watermark.

    Checks, in order, each raising :class:`PlatformDataInvalid` with that ``reason``:
    base64/size/lengths as :func:`decode_cbc_inputs` (``base64_invalid``, ``invalid_key``,
    ``decrypt_failed``); decryption, padding, UTF-8 and JSON-object parsing, all one generic
    ``decrypt_failed`` (no padding oracle); ``watermark.appid`` equals ``app_id``
    (``appid_mismatch``, also when absent); ``watermark.timestamp`` is an integer no older
    than ``max_age_seconds`` and at most :data:`CLOCK_SKEW_SECONDS` in the future at ``now``
    (``stale``); if ``expected_openid`` (the code2Session openid) is given and the data
    carries ``openId``/``openid``, they are equal (``openid_mismatch``).

    Returns the decrypted JSON object. It is not authenticated (CBC is malleable): never
    take identity from it. Raises ``ValueError`` for an empty ``app_id`` or a negative
    ``max_age_seconds`` (caller bugs, not data faults).
    """
    if not app_id or max_age_seconds < 0:
        raise ValueError("app_id must be set and max_age_seconds >= 0")
    key, iv, data = decode_cbc_inputs(
        session_key_b64, iv_b64, encrypted_b64, key_bytes=SESSION_KEY_BYTES
    )
    plaintext = cbc_open(key, iv, data, block=16)
    document = None if plaintext is None else parse_json_object(plaintext)
    if document is None:
        raise data_error("decrypt_failed")
    _check_watermark(document, app_id, now, max_age_seconds)
    _check_openid(document, expected_openid)
    return document


def decrypt_douyin_data(
    *,
    session_key_b64: str,
    iv_b64: str,
    encrypted_b64: str,
    app_id: str,
    now: float,
    max_age_seconds: int,
    expected_openid: str | None = None,
) -> dict[str, Any]:
    """Decrypt Douyin/ByteDance ``encryptedData``: the WeChat algorithm, unchanged.

    Douyin documents AES-128-CBC with key = base64-decode(session_key), IV =
    base64-decode(iv), PKCS#7, and phone plaintext with ``watermark{appid, timestamp}``, so
    every check and error reason is that of :func:`decrypt_wechat_data`; ``app_id`` is the
    Douyin AppID. Douyin rawData is verified with :func:`verify_raw_data_signature`.
    """
    return decrypt_wechat_data(
        session_key_b64=session_key_b64,
        iv_b64=iv_b64,
        encrypted_b64=encrypted_b64,
        app_id=app_id,
        now=now,
        max_age_seconds=max_age_seconds,
        expected_openid=expected_openid,
    )


def _session_key_text(session_key_b64: str) -> bytes:
    """The session key's base64 text as bytes, after checking it encodes 16 bytes.

    An empty or malformed key would make SHA-1/HMAC signatures forgeable, so it fails closed
    (``base64_invalid`` / ``invalid_key``) instead of signing with it.
    """
    key = _field(session_key_b64, MAX_KEY_CHARS, "invalid_key")
    if len(key) != SESSION_KEY_BYTES:
        raise data_error("invalid_key")
    return session_key_b64.encode("ascii")


def _utf8(text: object) -> bytes | None:
    if not isinstance(text, str):
        return None
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return None


def verify_raw_data_signature(raw_data: str, signature: str, session_key_b64: str) -> None:
    """Check ``signature == hex(sha1(rawData + session_key))`` (WeChat 1.4; Douyin the same).

    ``raw_data`` is hashed exactly as received (never re-serialise the JSON) followed by the
    session key's base64 *text*. The comparison is constant time; the signature must be the
    lowercase hex WeChat sends. Only ``rawData`` is covered, not ``encryptedData``.

    Raises :class:`PlatformDataInvalid`: ``base64_invalid`` / ``invalid_key`` for a session
    key that is not base64 of 16 bytes; ``signature_invalid`` for a mismatch, a ``raw_data``
    over :data:`MAX_ENCRYPTED_CHARS` characters, or text that is not valid UTF-8.
    """
    key_text = _session_key_text(session_key_b64)
    message = _utf8(raw_data)
    given = _utf8(signature)
    if message is None or given is None or len(raw_data) > MAX_ENCRYPTED_CHARS:
        raise data_error("signature_invalid")
    # SHA-1 is the platform's mandated legacy format, not a choice made here.
    digest = hashlib.sha1(message + key_text, usedforsecurity=False).hexdigest()
    if not hmac.compare_digest(digest.encode("ascii"), given):
        raise data_error("signature_invalid")


def login_state_signature(session_key_b64: str, payload: str) -> str:
    """WeChat user login-state signature (1.3): hex HMAC-SHA256 of ``payload``.

    The HMAC key is the session key's base64 *text* (its ASCII bytes), not the decoded 16
    bytes (vector W4-n1). ``payload`` is the POST body, or ``""`` for GET and for
    checkSessionKey/ResetUserSessionKey. Raises :class:`PlatformDataInvalid`
    (``base64_invalid`` / ``invalid_key``) for a malformed session key.
    """
    key_text = _session_key_text(session_key_b64)
    return hmac.new(key_text, payload.encode("utf-8"), hashlib.sha256).hexdigest()


def verify_login_state_signature(*, session_key_b64: str, payload: str, signature: str) -> None:
    """Check a login-state signature in constant time; keyword-only so the texts cannot swap.

    Raises :class:`PlatformDataInvalid`: ``base64_invalid`` / ``invalid_key`` for a
    malformed session key, ``signature_invalid`` for a mismatch or non-UTF-8 text.
    """
    key_text = _session_key_text(session_key_b64)
    message = _utf8(payload)
    given = _utf8(signature)
    if message is None or given is None:
        raise data_error("signature_invalid")
    expected = hmac.new(key_text, message, hashlib.sha256).hexdigest().encode("ascii")
    if not hmac.compare_digest(expected, given):
        raise data_error("signature_invalid")
