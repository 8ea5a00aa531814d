"""Hazmat: Alipay content encryption, AES-CBC with a fixed all-zero IV and PKCS#7 padding.

This is the platform's format ("接口内容加密", getPhoneNumber), not a recipe: a fixed IV makes
equal plaintexts give equal ciphertexts and CBC carries no MAC, so callers must authenticate
the ciphertext first (Alipay signs it with RSA2), turn every failure into one generic error,
and never use this for Bastion's own data (that is AES-GCM in :mod:`bastion.crypto._primitives`).

Composed from ``cryptography`` (its unpadder checks the last block in constant time). Errors are
``ValueError`` with fixed messages that never hold key or data bytes.
"""

from __future__ import annotations

from bastion.crypto._cbc import (
    AES_KEY_SIZES,
    aes_cbc_decrypt,
    aes_cbc_encrypt,
    pkcs7_pad,
    pkcs7_unpad,
)

__all__ = ["ALIPAY_AES_KEY_SIZES", "alipay_aes_decrypt", "alipay_aes_encrypt"]

ALIPAY_AES_KEY_SIZES = AES_KEY_SIZES
"""The console issues 128-bit keys; the official SDKs accept any AES key length."""

_BLOCK = 16
_ZERO_IV = bytes(_BLOCK)


def _check_key(key: bytes) -> None:
    if len(key) not in ALIPAY_AES_KEY_SIZES:
        raise ValueError("AES key must be 16, 24 or 32 bytes")


def alipay_aes_encrypt(key: bytes, plaintext: bytes) -> bytes:
    """AES-CBC, IV = 16 zero bytes, PKCS#7: deterministic (for tests and synthetic vectors).

    Raises ``ValueError`` for a key that is not 16/24/32 bytes.
    """
    _check_key(key)
    return aes_cbc_encrypt(key, _ZERO_IV, pkcs7_pad(plaintext, _BLOCK))


def alipay_aes_decrypt(key: bytes, ciphertext: bytes) -> bytes:
    """Reverse :func:`alipay_aes_encrypt`. Proves nothing about integrity.

    Raises ``ValueError("AES key must be 16, 24 or 32 bytes")`` for a bad key, and
    ``ValueError("decryption failed")`` for every data fault (empty, not whole blocks, bad
    padding), one message for all so no padding detail leaks.
    """
    _check_key(key)
    if not ciphertext or len(ciphertext) % _BLOCK:
        raise ValueError("decryption failed")
    try:
        return pkcs7_unpad(aes_cbc_decrypt(key, _ZERO_IV, ciphertext), _BLOCK)
    except ValueError:
        pass
    raise ValueError("decryption failed")
