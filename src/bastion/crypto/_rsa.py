"""RSA keys and RSA2 signatures (SHA256withRSA, PKCS#1 v1.5) for platform integrations.

Alipay signs its responses and notifications, and checks our requests, with "RSA2": RSASSA
PKCS#1 v1.5 over SHA-256. Keys arrive from configuration in the forms Alipay's tools emit:
PEM (PKCS#8 ``PRIVATE KEY``, PKCS#1 ``RSA PRIVATE KEY``, SPKI ``PUBLIC KEY``, PKCS#1
``RSA PUBLIC KEY``) or the bare base64 body of the DER without the armour lines.

Everything is composed from ``cryptography``; nothing here implements RSA. Key loading fails
closed with :class:`~bastion.errors.ConfigError` whose message names the setting but never
contains key material. Keys shorter than 2048 bits are refused (ASVS V11.2.3).
"""

from __future__ import annotations

import base64
import binascii
import re

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from bastion.errors import ConfigError

__all__ = [
    "MIN_RSA_BITS",
    "RsaPrivateKey",
    "RsaPublicKey",
    "load_rsa_private_key",
    "load_rsa_public_key",
    "rsa2_sign",
    "rsa2_verify",
]

MIN_RSA_BITS = 2048
MAX_KEY_TEXT = 16 * 1024
"""Longest key text accepted (an 8192-bit PKCS#8 PEM is about 6.3 KB)."""

RsaPrivateKey = rsa.RSAPrivateKey
RsaPublicKey = rsa.RSAPublicKey

_WHITESPACE = re.compile(r"\s+")


def _der_from_bare_base64(text: str, name: str) -> bytes:
    try:
        der = base64.b64decode(_WHITESPACE.sub("", text), validate=True)
    except (binascii.Error, ValueError):
        raise ConfigError(f"{name} is neither PEM nor base64 DER") from None
    if not der:
        raise ConfigError(f"{name} is empty")
    return der


def _check_text(text: str, name: str) -> str:
    stripped = text.strip()
    if not stripped:
        raise ConfigError(f"{name} is empty")
    if len(stripped) > MAX_KEY_TEXT:
        raise ConfigError(f"{name} is longer than {MAX_KEY_TEXT} characters")
    return stripped


def _check_size(key_size: int, name: str) -> None:
    if key_size < MIN_RSA_BITS:
        raise ConfigError(f"{name} is a {key_size}-bit RSA key; at least {MIN_RSA_BITS} required")


def load_rsa_private_key(text: str, *, name: str = "RSA private key") -> RsaPrivateKey:
    """Load an unencrypted RSA private key from PEM (PKCS#8 or PKCS#1) or bare base64 DER.

    Guarantees the result is an RSA key of at least 2048 bits. Raises ``ConfigError`` naming
    ``name`` (never the key) for unparsable text, an encrypted PEM, a non-RSA key or a short key.
    """
    stripped = _check_text(text, name)
    try:
        if stripped.startswith("-----BEGIN"):
            key = serialization.load_pem_private_key(stripped.encode("ascii"), password=None)
        else:
            der = _der_from_bare_base64(stripped, name)
            key = serialization.load_der_private_key(der, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise ConfigError(f"{name} is not a readable unencrypted private key") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ConfigError(f"{name} is not an RSA key")
    _check_size(key.key_size, name)
    return key


def load_rsa_public_key(text: str, *, name: str = "RSA public key") -> RsaPublicKey:
    """Load an RSA public key from PEM (SPKI or PKCS#1) or bare base64 DER (as Alipay shows it).

    Guarantees the result is an RSA key of at least 2048 bits. Certificates are not accepted.
    Raises ``ConfigError`` naming ``name`` for unparsable text, a non-RSA key or a short key.
    """
    stripped = _check_text(text, name)
    try:
        if stripped.startswith("-----BEGIN"):
            key = serialization.load_pem_public_key(stripped.encode("ascii"))
        else:
            key = serialization.load_der_public_key(_der_from_bare_base64(stripped, name))
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise ConfigError(f"{name} is not a readable public key") from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise ConfigError(f"{name} is not an RSA key")
    _check_size(key.key_size, name)
    return key


def rsa2_sign(private_key: RsaPrivateKey, message: bytes) -> bytes:
    """RSA2 signature: RSASSA-PKCS1-v1_5 with SHA-256 over ``message`` (deterministic)."""
    return private_key.sign(message, padding.PKCS1v15(), hashes.SHA256())


def rsa2_verify(public_key: RsaPublicKey, signature: bytes, message: bytes) -> bool:
    """True only if ``signature`` is a valid RSA2 signature of ``message`` under ``public_key``.

    Fails closed: a wrong length, a wrong key or any altered byte gives ``False``; it never
    raises for bad signature bytes.
    """
    try:
        public_key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError):
        return False
    return True
