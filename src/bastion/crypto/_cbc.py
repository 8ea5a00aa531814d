"""Hazmat: raw AES-CBC and PKCS#7, only for the platforms' legacy open-data formats.

WeChat, Douyin, QQ and Kuaishou encrypt user data with AES-128-CBC + PKCS#7 and Baidu with
AES-192-CBC + PKCS#7 over 32-byte blocks, all **without a MAC**. CBC without a MAC is malleable
and its padding check is an oracle, so these functions are not a recipe: callers must turn
every failure into one generic error and must never treat the plaintext as authenticated.
Bastion's own encryption uses AES-GCM (:mod:`bastion.crypto._primitives`).

Everything is composed from ``cryptography`` (the padding check runs in its constant-time
Rust code); nothing here implements a cipher. Errors are ``ValueError`` with a fixed message
that never holds key or data bytes.
"""

from __future__ import annotations

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

__all__ = ["aes_cbc_decrypt", "aes_cbc_encrypt", "pkcs7_pad", "pkcs7_unpad"]

AES_KEY_SIZES = frozenset({16, 24, 32})
AES_BLOCK = 16


def _cipher(key: bytes, iv: bytes, data: bytes) -> Cipher[modes.CBC]:
    if len(key) not in AES_KEY_SIZES:
        raise ValueError("AES key must be 16, 24 or 32 bytes")
    if len(iv) != AES_BLOCK:
        raise ValueError("CBC IV must be 16 bytes")
    if len(data) % AES_BLOCK:
        raise ValueError("CBC data must be a whole number of 16-byte blocks")
    return Cipher(algorithms.AES(key), modes.CBC(iv))


def aes_cbc_decrypt(key: bytes, iv: bytes, data: bytes) -> bytes:
    """Raw AES-CBC decryption (AES-128/192/256 by key length); padding is left in place.

    Guarantees nothing about integrity: any ciphertext of whole blocks "decrypts".
    Raises ``ValueError`` for a key that is not 16/24/32 bytes, an IV that is not 16 bytes,
    or data that is not a multiple of 16 bytes.
    """
    decryptor = _cipher(key, iv, data).decryptor()
    return decryptor.update(data) + decryptor.finalize()


def aes_cbc_encrypt(key: bytes, iv: bytes, data: bytes) -> bytes:
    """Raw AES-CBC encryption of whole blocks (pad first with :func:`pkcs7_pad`).

    For tests and synthetic vectors only; Bastion never produces CBC ciphertext for storage.
    Raises ``ValueError`` like :func:`aes_cbc_decrypt`.
    """
    encryptor = _cipher(key, iv, data).encryptor()
    return encryptor.update(data) + encryptor.finalize()


def _check_block(block: int) -> None:
    if not 1 <= block <= 255:
        raise ValueError("PKCS#7 block size must be 1..255 bytes")


def pkcs7_pad(data: bytes, block: int) -> bytes:
    """Append PKCS#7 padding (1..block bytes of value n) up to a multiple of ``block``."""
    _check_block(block)
    padder = padding.PKCS7(block * 8).padder()
    return padder.update(data) + padder.finalize()


def pkcs7_unpad(data: bytes, block: int) -> bytes:
    """Remove PKCS#7 padding for a ``block``-byte block size (16 for AES, 32 for Baidu).

    Checks that ``data`` is a non-empty multiple of ``block``, that the pad value n is in
    1..block, and that all n pad bytes equal n; the check of the last block runs in constant
    time (``cryptography``'s unpadder). Raises ``ValueError("invalid padding")`` on any fault,
    the same message for every cause.
    """
    _check_block(block)
    unpadder = padding.PKCS7(block * 8).unpadder()
    try:
        return unpadder.update(data) + unpadder.finalize()
    except ValueError:
        pass
    raise ValueError("invalid padding")
