"""Alipay open-platform checks: RSA2 request signing, response and notification verification,
and AES content decryption (platforms.md section 3).

Pure functions over text; no I/O and no clock. Keys may be passed as text (PEM or bare base64,
loaded on each call) or as key objects already loaded with :mod:`bastion.crypto._rsa`.

Error reasons (``PlatformError.reason``): ``oversized`` (input over the documented limit,
rejected before any crypto), ``malformed`` (not the documented shape), ``signature_missing``,
``signature_invalid``, ``decrypt_failed`` (one generic kind for every decryption fault), and
``alipay:<sub_code or code>`` for a refusal reported inside signed data.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bastion.crypto.platform import (
    ALIPAY_AES_KEY_SIZES,
    RsaPrivateKey,
    RsaPublicKey,
    alipay_aes_decrypt,
    load_rsa_private_key,
    load_rsa_public_key,
    rsa2_sign,
    rsa2_verify,
)
from bastion.errors import ConfigError
from bastion.platforms._alipay_json import raw_members, strict_loads
from bastion.platforms._errors import PlatformBadResponse, PlatformDataInvalid

__all__ = [
    "ERROR_RESPONSE_KEY",
    "MAX_CONTENT_CHARS",
    "MAX_RESPONSE_CHARS",
    "UnverifiedResponse",
    "decrypt_content",
    "refusal_reason",
    "response_key",
    "sign_request",
    "signing_string",
    "unverified_response",
    "verify_notification",
    "verify_phone_response",
    "verify_response",
    "verify_signed_response",
]

MAX_RESPONSE_CHARS = 64 * 1024
"""Longest OpenAPI response body or notification (sum of keys and values) accepted."""
MAX_CONTENT_CHARS = 16 * 1024
"""Longest encrypted content or getPhoneNumber ``response`` JSON accepted."""
ERROR_RESPONSE_KEY = "error_response"
_MAX_PARAMS = 256
_REASON_SAFE = re.compile(r"[A-Za-z0-9._-]{1,64}")


def signing_string(params: Mapping[str, str], *, exclude_sign_type: bool = False) -> str:
    """The RSA2 content of a parameter set (3.2, 3.4): every pair except ``sign`` (and
    ``sign_type`` when ``exclude_sign_type``), empty keys or values dropped, sorted by key,
    joined as raw ``key=value`` with ``&`` (no URL encoding)."""
    skip = {"sign", "sign_type"} if exclude_sign_type else {"sign"}
    pairs = sorted((k, v) for k, v in params.items() if k and v and k not in skip)
    return "&".join(f"{k}={v}" for k, v in pairs)


def _private(key: str | RsaPrivateKey) -> RsaPrivateKey:
    if isinstance(key, str):
        return load_rsa_private_key(key, name="Alipay app private key")
    return key


def _public(key: str | RsaPublicKey) -> RsaPublicKey:
    if isinstance(key, str):
        return load_rsa_public_key(key, name="Alipay public key")
    return key


def sign_request(params: Mapping[str, str], private_key: str | RsaPrivateKey) -> str:
    """The base64 ``sign`` of a request (3.2): RSA2 over :func:`signing_string` in UTF-8.

    Raises ``ConfigError`` if a key given as text is unusable (never echoing it).
    """
    content = signing_string(params).encode("utf-8")
    return base64.b64encode(rsa2_sign(_private(private_key), content)).decode("ascii")


def _signature_ok(key: RsaPublicKey, sign_b64: str, content: str) -> bool:
    try:
        signature = base64.b64decode(sign_b64, validate=True)
        message = content.encode("utf-8")
    except (binascii.Error, ValueError):  # UnicodeEncodeError (lone surrogate) included
        return False
    return rsa2_verify(key, signature, message)


def response_key(method: str) -> str:
    """The node that carries an API's answer: ``alipay.system.oauth.token`` ->
    ``alipay_system_oauth_token_response``."""
    return method.replace(".", "_") + "_response"


@dataclass(frozen=True, slots=True)
class UnverifiedResponse:
    """An OpenAPI response split into its parts; nothing in it is authenticated yet."""

    node_key: str
    """``<method>_response`` or ``error_response``."""
    signed_text: str
    """The exact text of the node's value as it appears in the body: what ``sign`` covers."""
    node: dict[str, Any]
    sign: str | None

    @property
    def is_error(self) -> bool:
        return self.node_key == ERROR_RESPONSE_KEY


def unverified_response(body_text: str, method: str) -> UnverifiedResponse:
    """Split a response body (3.3) without checking the signature.

    Raises ``PlatformBadResponse``: ``oversized`` over :data:`MAX_RESPONSE_CHARS`; ``malformed``
    unless the body is one strict JSON object holding exactly one of the method's node or
    ``error_response`` (an object) and, if present, a string ``sign``.
    """
    if len(body_text) > MAX_RESPONSE_CHARS:
        raise PlatformBadResponse("oversized")
    try:
        members = raw_members(body_text)
    except ValueError:
        raise PlatformBadResponse("malformed") from None
    found = [k for k in (response_key(method), ERROR_RESPONSE_KEY) if k in members]
    sign = members.get("sign", ("", None))[1]
    if len(found) != 1 or not isinstance(members[found[0]][1], dict):
        raise PlatformBadResponse("malformed")
    if sign is not None and not isinstance(sign, str):
        raise PlatformBadResponse("malformed")
    raw, node = members[found[0]]
    return UnverifiedResponse(node_key=found[0], signed_text=raw, node=node, sign=sign)


def verify_signed_response(response: UnverifiedResponse, public_key: str | RsaPublicKey) -> None:
    """Check ``sign`` over the node's exact text with Alipay's key.

    Raises ``PlatformBadResponse("signature_missing")`` / ``("signature_invalid")``.
    """
    if not response.sign:
        raise PlatformBadResponse("signature_missing")
    if not _signature_ok(_public(public_key), response.sign, response.signed_text):
        raise PlatformBadResponse("signature_invalid")


def verify_response(
    body_text: str, method: str, alipay_public_key: str | RsaPublicKey
) -> dict[str, Any]:
    """Verify an OpenAPI response (3.3) and return its parsed node (success or error node).

    The signed content is the literal substring of the body, never a re-serialisation, and
    the returned dict is parsed from that same substring. Raises ``PlatformBadResponse`` as
    :func:`unverified_response` and :func:`verify_signed_response` do.
    """
    response = unverified_response(body_text, method)
    verify_signed_response(response, alipay_public_key)
    return response.node


def verify_notification(
    params: Mapping[str, str],
    alipay_public_key: str | RsaPublicKey,
    *,
    include_sign_type: bool = False,
) -> None:
    """Verify an async notification's RSA2 signature (3.4) over its decoded form fields.

    ``include_sign_type=False`` is rsaCheckV1 (payment notifications such as
    ``trade_status_sync``); ``True`` is rsaCheckV2 (open-platform notifications). The caller
    picks the rule per notification type; nothing is tried twice. Content is signed as UTF-8.
    Business checks (app_id, notify_id replay, amounts) remain the caller's job.
    Raises ``PlatformDataInvalid``: ``oversized``, ``signature_missing``, ``signature_invalid``
    (also for a ``sign_type`` other than RSA2).
    """
    if len(params) > _MAX_PARAMS or sum(len(k) + len(v) for k, v in params.items()) > (
        MAX_RESPONSE_CHARS
    ):
        raise PlatformDataInvalid("oversized")
    sign = params.get("sign", "")
    if not sign:
        raise PlatformDataInvalid("signature_missing")
    if params.get("sign_type", "RSA2") != "RSA2":
        raise PlatformDataInvalid("signature_invalid")
    content = signing_string(params, exclude_sign_type=not include_sign_type)
    if not _signature_ok(_public(alipay_public_key), sign, content):
        raise PlatformDataInvalid("signature_invalid")


def _aes_key(aes_key_b64: str) -> bytes:
    try:
        key = base64.b64decode(aes_key_b64.strip(), validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) not in ALIPAY_AES_KEY_SIZES:
        raise ConfigError("Alipay aes_key must be base64 of a 16-, 24- or 32-byte AES key")
    return key


def decrypt_content(encrypted_b64: str, aes_key_b64: str) -> dict[str, Any]:
    """Decrypt Alipay content encryption (3.5: AES-CBC, zero IV, PKCS#7) to a JSON object.

    Does not authenticate: verify the RSA2 signature first (:func:`verify_phone_response`
    does both in order). Every data fault (size over :data:`MAX_CONTENT_CHARS`, base64,
    length, padding, UTF-8, JSON, not an object) raises the same
    ``PlatformDataInvalid("decrypt_failed")``, so there is no padding oracle. A configured
    key that is not base64 of 16/24/32 bytes raises ``ConfigError``.
    """
    key = _aes_key(aes_key_b64)
    try:
        if len(encrypted_b64) > MAX_CONTENT_CHARS:
            raise ValueError("oversized")
        plaintext = alipay_aes_decrypt(key, base64.b64decode(encrypted_b64, validate=True))
        content = strict_loads(plaintext.decode("utf-8"))
    except (ValueError, binascii.Error):  # UnicodeDecodeError and JSONDecodeError included
        content = None
    if not isinstance(content, dict):
        raise PlatformDataInvalid("decrypt_failed")
    return content


def refusal_reason(node: Mapping[str, Any]) -> str:
    """The audit reason of a refusal node: ``alipay:<sub_code>`` (else ``alipay:<code>``) when
    that is a short plain token, otherwise ``alipay:unknown``; remote text never passes as is."""
    for field in ("sub_code", "code"):
        value = node.get(field)
        if isinstance(value, str) and _REASON_SAFE.fullmatch(value):
            return f"alipay:{value}"
    return "alipay:unknown"


def _phone_parts(response_text: str) -> tuple[str, str]:
    if len(response_text) > MAX_CONTENT_CHARS:
        raise PlatformDataInvalid("oversized")
    try:
        outer = strict_loads(response_text)
    except ValueError:
        raise PlatformDataInvalid("malformed") from None
    if not isinstance(outer, dict) or not isinstance(outer.get("response"), str):
        raise PlatformDataInvalid("malformed")
    sign = outer.get("sign")
    if not isinstance(sign, str) or not sign:
        raise PlatformDataInvalid("signature_missing")
    if outer.get("sign_type", "RSA2") != "RSA2":
        raise PlatformDataInvalid("signature_invalid")
    return outer["response"], sign


def verify_phone_response(
    response_text: str, alipay_public_key: str | RsaPublicKey, aes_key_b64: str
) -> dict[str, Any]:
    """Verify, then decrypt, the ``response`` JSON from ``my.getPhoneNumber`` (3.5).

    An encrypted ``response`` (not starting with ``{``) is signed as the JSON string token
    ``"`` + response + ``"``; a plain one as itself. The signature is checked before any
    decryption. Returns the content (``mobile`` and friends) only if its ``code`` is
    ``10000``. Raises ``PlatformDataInvalid``: ``oversized``, ``malformed``,
    ``signature_missing``, ``signature_invalid``, ``decrypt_failed`` or ``alipay:<sub_code>``;
    ``ConfigError`` for a bad configured key.
    """
    content, sign = _phone_parts(response_text)
    encrypted = not content.startswith("{")
    signed = f'"{content}"' if encrypted else content
    if not _signature_ok(_public(alipay_public_key), sign, signed):
        raise PlatformDataInvalid("signature_invalid")
    if encrypted:
        data = decrypt_content(content, aes_key_b64)
    else:
        try:
            data = strict_loads(content)
        except ValueError:
            data = None
    if not isinstance(data, dict):
        raise PlatformDataInvalid("malformed")
    if data.get("code") != "10000":
        raise PlatformDataInvalid(refusal_reason(data))
    return data
