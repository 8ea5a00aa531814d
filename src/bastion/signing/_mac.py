"""The one HMAC-SHA256 the signer and the verifier share (``hmac`` over OpenSSL's SHA-256).

Full 32-byte tags only: a shorter (truncated) tag is refused, not compared as a prefix.
"""

from __future__ import annotations

import hmac

from bastion.errors import InvalidSignature

__all__ = ["MAC_BYTES", "hmac_sha256", "verify_mac"]

MAC_BYTES = 32


def hmac_sha256(key: bytes, data: bytes) -> bytes:
    return hmac.digest(key, data, "sha256")


def verify_mac(key: bytes, data: bytes, tag: bytes) -> None:
    """Raise :class:`InvalidSignature` (``bad_signature``) unless ``tag`` is the full
    HMAC-SHA256 of ``data`` under ``key``; the comparison is constant-time."""
    expected = hmac_sha256(key, data)
    if len(tag) != MAC_BYTES or not hmac.compare_digest(expected, tag):
        raise InvalidSignature("bad_signature", "The signature does not verify.")
