"""Hazardous primitives for sealed payloads and signed responses, fenced in one module.

* HPKE (RFC 9180) base mode, single shot, with the suite DHKEM(X25519, HKDF-SHA256),
  HKDF-SHA256, AES-256-GCM (suite ids 0x0020, 0x0001, 0x0002), from ``cryptography``;
* X25519 and Ed25519 key pairs from a 32-byte seed (the seed comes from the master key);
* HKDF-SHA256 with a salt, AES-256-GCM with a 96-bit nonce, Ed25519 signing.

Every failure to open is ``InvalidTag``. AEAD nonces come from ``os.urandom`` here; the
known-answer tests call the underscore functions that take them.
"""

from __future__ import annotations

import os
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, hpke
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

__all__ = [
    "ENC_BYTES",
    "NONCE_BYTES",
    "TAG_BYTES",
    "InvalidTag",
    "SealPrivateKey",
    "SignPrivateKey",
    "aesgcm_decrypt",
    "aesgcm_encrypt",
    "hkdf_sha256_salted",
    "hpke_open",
    "hpke_seal",
    "seal_key_from_seed",
    "sign_key_from_seed",
]

ENC_BYTES: Final = 32
NONCE_BYTES: Final = 12
TAG_BYTES: Final = 16
_SUITE: Final = hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)
_RAW: Final = (Encoding.Raw, PublicFormat.Raw)


class SealPrivateKey:
    """An X25519 private key for HPKE; ``repr`` never shows it."""

    __slots__ = ("_key", "public")

    def __init__(self, key: X25519PrivateKey) -> None:
        self._key = key
        self.public: bytes = key.public_key().public_bytes(*_RAW)

    def __repr__(self) -> str:
        return "SealPrivateKey(...)"


class SignPrivateKey:
    """An Ed25519 private key; ``repr`` never shows it."""

    __slots__ = ("_key", "public")

    def __init__(self, key: Ed25519PrivateKey) -> None:
        self._key = key
        self.public: bytes = key.public_key().public_bytes(*_RAW)

    def __repr__(self) -> str:
        return "SignPrivateKey(...)"

    def sign(self, message: bytes) -> bytes:
        """A 64-byte Ed25519 (RFC 8032, pure) signature of ``message``."""
        return self._key.sign(message)


def seal_key_from_seed(seed: bytes) -> SealPrivateKey:
    """The X25519 key whose private scalar is ``seed`` (clamped as RFC 7748 says)."""
    return SealPrivateKey(X25519PrivateKey.from_private_bytes(seed))


def sign_key_from_seed(seed: bytes) -> SignPrivateKey:
    """The Ed25519 key with the 32-byte private ``seed``."""
    return SignPrivateKey(Ed25519PrivateKey.from_private_bytes(seed))


def hpke_seal(public_key: bytes, plaintext: bytes, info: bytes) -> bytes:
    """HPKE base-mode single-shot seal to a raw X25519 public key: ``enc || ciphertext``.

    Raises ``ValueError`` for a public key that is not 32 bytes or gives an all-zero shared
    secret (a low-order point)."""
    peer = X25519PublicKey.from_public_bytes(public_key)
    return _SUITE.encrypt(plaintext, peer, info=info)


def hpke_open(private_key: SealPrivateKey, sealed: bytes, info: bytes) -> bytes:
    """Reverse :func:`hpke_seal`. Any wrong byte, key or ``info`` raises ``InvalidTag``."""
    if len(sealed) < ENC_BYTES + TAG_BYTES:
        raise InvalidTag
    try:
        return _SUITE.decrypt(sealed, private_key._key, info=info)
    except ValueError:  # a malformed encapsulated key: same answer as any other forgery
        raise InvalidTag from None


def hkdf_sha256_salted(ikm: bytes, *, salt: bytes, info: bytes, length: int = 32) -> bytes:
    """HKDF-SHA256 (RFC 5869) extract-and-expand. ``ValueError`` past 255 * 32 bytes."""
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(ikm)


def _aesgcm_encrypt_with_nonce(key: bytes, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
    return AESGCM(key).encrypt(nonce, plaintext, aad)


def aesgcm_encrypt(key: bytes, plaintext: bytes, aad: bytes) -> tuple[bytes, bytes]:
    """AES-256-GCM under a fresh random 96-bit nonce: ``(nonce, ciphertext || tag)``."""
    nonce = os.urandom(NONCE_BYTES)
    return nonce, _aesgcm_encrypt_with_nonce(key, nonce, plaintext, aad)


def aesgcm_decrypt(key: bytes, nonce: bytes, sealed: bytes, aad: bytes) -> bytes:
    """Open ``ciphertext || tag``; any mismatch (or a nonce not 96 bits) raises ``InvalidTag``."""
    if len(nonce) != NONCE_BYTES or len(sealed) < TAG_BYTES:
        raise InvalidTag
    return AESGCM(key).decrypt(nonce, sealed, aad)
