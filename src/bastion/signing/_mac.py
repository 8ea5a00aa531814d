"""The one HMAC-SHA256 the signer and the verifier share (over OpenSSL's SHA-256).

Full 32-byte tags only: a shorter (truncated) tag is refused, not compared as a prefix.

A key used again and again (a derivation base, a busy client's signing key) is a
:class:`MacKey`: its padded inner and outer SHA-256 states are computed once (RFC 2104), so a
MAC costs two state copies. A one-shot ``hmac.digest`` sets the key up again on every call,
and through OpenSSL 3 that is most of its cost for a short message.
"""

from __future__ import annotations

import hashlib
import hmac

from bastion.errors import InvalidSignature

__all__ = ["MAC_BYTES", "MacKey", "hmac_sha256", "verify_mac"]

MAC_BYTES = 32
_BLOCK = 64  # SHA-256 block size
_IPAD = bytes(b ^ 0x36 for b in range(256))
_OPAD = bytes(b ^ 0x5C for b in range(256))


def hmac_sha256(key: bytes, data: bytes) -> bytes:
    return hmac.digest(key, data, "sha256")


class MacKey:
    """An HMAC-SHA256 key set up once; :meth:`mac` gives what :func:`hmac_sha256` gives."""

    __slots__ = ("_inner", "_outer")

    def __init__(self, key: bytes) -> None:
        if len(key) > _BLOCK:
            key = hashlib.sha256(key).digest()
        key = key.ljust(_BLOCK, b"\x00")
        self._inner = hashlib.sha256(key.translate(_IPAD))
        self._outer = hashlib.sha256(key.translate(_OPAD))

    def __repr__(self) -> str:
        return "MacKey(...)"

    def mac(self, data: bytes) -> bytes:
        inner = self._inner.copy()
        inner.update(data)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()

    def verify(self, data: bytes, tag: bytes) -> None:
        """:func:`verify_mac` under this key."""
        outer = self._outer.copy()
        inner = self._inner.copy()
        inner.update(data)
        outer.update(inner.digest())
        if len(tag) != MAC_BYTES or not hmac.compare_digest(outer.digest(), tag):
            raise InvalidSignature("bad_signature", "The signature does not verify.")


def verify_mac(key: bytes | MacKey, data: bytes, tag: bytes) -> None:
    """Raise :class:`InvalidSignature` (``bad_signature``) unless ``tag`` is the full
    HMAC-SHA256 of ``data`` under ``key``; the comparison is constant-time."""
    if isinstance(key, MacKey):
        key.verify(data, tag)
    elif len(tag) != MAC_BYTES or not hmac.compare_digest(hmac_sha256(key, data), tag):
        raise InvalidSignature("bad_signature", "The signature does not verify.")
