"""Hazardous primitives, fenced in one module. Only this module imports ``cryptography.hazmat``.

Nonces and keys come from ``os.urandom`` here and are never injected; known-answer tests call
the underscore functions that take them explicitly.
"""

from __future__ import annotations

import os
from collections import deque

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

__all__ = [
    "AESGCM",
    "InvalidTag",
    "aesgcm",
    "aesgcm_open",
    "aesgcm_seal",
    "hkdf_sha256",
    "new_aes256_key",
    "pooled_nonce",
    "random_nonce",
]

NONCE_BYTES = 12
KEY_BYTES = 32


_POOL_NONCES = 256
# Random 96-bit nonces drawn from the CSPRNG in blocks: one ``os.urandom`` system call per
# 256 nonces instead of one per message (the call costs about half an AES-GCM of 1 KiB).
# ``deque.popleft`` is atomic, so two threads never take the same nonce; a forked child
# empties the pool before it runs, so parent and child never share one.
_nonces: deque[bytes] = deque()
os.register_at_fork(after_in_child=_nonces.clear)


def _refill() -> None:
    block = os.urandom(NONCE_BYTES * _POOL_NONCES)
    _nonces.extend([block[i : i + NONCE_BYTES] for i in range(0, len(block), NONCE_BYTES)])


# The pool's own ``popleft``, for the hottest paths: a nonce, or IndexError when the pool is
# empty (then call :func:`random_nonce`, which refills it).
pooled_nonce = _nonces.popleft


def random_nonce() -> bytes:
    """A fresh random 96-bit nonce from the operating system's CSPRNG (drawn in blocks)."""
    while True:
        try:
            return _nonces.popleft()
        except IndexError:
            _refill()


def new_aes256_key() -> bytes:
    """A fresh random 256-bit AES key from the operating system's CSPRNG."""
    return os.urandom(KEY_BYTES)


def aesgcm(key: bytes) -> AESGCM:
    """An AES-GCM cipher object for a 256-bit key (callers keep it to skip the key schedule)."""
    if len(key) != KEY_BYTES:
        raise ValueError("AES-256-GCM needs a 32-byte key")
    return AESGCM(key)


def hkdf_sha256(key: bytes, purpose: bytes, length: int = 32) -> bytes:
    """Derive a subkey for one purpose label (HKDF-SHA256, no salt, info=purpose)."""
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=purpose).derive(key)


def _aesgcm_seal_with_nonce(key: bytes, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
    return nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def aesgcm_seal(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """AES-256-GCM with a fresh random 96-bit nonce; returns ``nonce || ciphertext || tag``."""
    return _aesgcm_seal_with_nonce(key, os.urandom(NONCE_BYTES), plaintext, aad)


def aesgcm_open(key: bytes, sealed: bytes, aad: bytes) -> bytes:
    """Reverse :func:`aesgcm_seal`; raises ``InvalidTag`` on any tampering or wrong key/aad."""
    if len(sealed) < NONCE_BYTES + 16:
        raise InvalidTag
    return AESGCM(key).decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], aad)
