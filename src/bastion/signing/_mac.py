"""The one HMAC-SHA256 the signer and the verifier share (over OpenSSL's SHA-256).

Full 32-byte tags only: a shorter (truncated) tag is refused, not compared as a prefix.

A key used again and again (a derivation base, a busy client's signing key) is a
:class:`MacKey`: keyed once (:class:`bastion.crypto.HmacKey`), so the key is not set up
again for every message.
"""

from __future__ import annotations

import hmac

from bastion.crypto import HmacKey
from bastion.errors import InvalidSignature

__all__ = ["MAC_BYTES", "MacKey", "hmac_sha256", "verify_mac"]

MAC_BYTES = 32


def hmac_sha256(key: bytes, data: bytes) -> bytes:
    return hmac.digest(key, data, "sha256")


class MacKey(HmacKey):
    """An HMAC-SHA256 key set up once; :meth:`mac` gives what :func:`hmac_sha256` gives."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "MacKey(...)"

    def verify(self, data: bytes, tag: bytes) -> None:
        """:func:`verify_mac` under this key."""
        if not self.matches(data, tag):
            raise InvalidSignature("bad_signature", "The signature does not verify.")


def verify_mac(key: bytes | MacKey, data: bytes, tag: bytes) -> None:
    """Raise :class:`InvalidSignature` (``bad_signature``) unless ``tag`` is the full
    HMAC-SHA256 of ``data`` under ``key``; the comparison is constant-time."""
    if isinstance(key, MacKey):
        key.verify(data, tag)
    elif len(tag) != MAC_BYTES or not hmac.compare_digest(hmac_sha256(key, data), tag):
        raise InvalidSignature("bad_signature", "The signature does not verify.")
