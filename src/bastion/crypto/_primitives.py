"""Hazardous primitives, fenced in one module. Only this module imports ``cryptography.hazmat``.

Nonces and keys come from ``os.urandom`` here and are never injected; known-answer tests call
the underscore functions that take them explicitly.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

__all__ = ["InvalidTag", "aesgcm_open", "aesgcm_seal", "hkdf_sha256"]

NONCE_BYTES = 12


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
