"""Alipay content encryption helpers (AES-CBC, zero IV, PKCS#7). The published known-answer
vectors (A1) are checked in tests/platforms/test_alipay.py."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bastion.crypto._alipay_aes import alipay_aes_decrypt, alipay_aes_encrypt


@settings(max_examples=100, deadline=None)
@given(st.sampled_from([16, 24, 32]), st.binary(max_size=100))
def test_round_trip_for_every_aes_key_size(size: int, plaintext: bytes) -> None:
    key = bytes(range(size))
    ciphertext = alipay_aes_encrypt(key, plaintext)
    assert len(ciphertext) == (len(plaintext) // 16 + 1) * 16
    assert alipay_aes_decrypt(key, ciphertext) == plaintext


def test_encryption_is_deterministic_with_the_fixed_iv() -> None:
    key = b"k" * 16
    assert alipay_aes_encrypt(key, b"same") == alipay_aes_encrypt(key, b"same")


@pytest.mark.parametrize("size", [0, 8, 15, 17, 64])
def test_bad_key_lengths_are_refused(size: int) -> None:
    with pytest.raises(ValueError, match="AES key must be"):
        alipay_aes_encrypt(b"k" * size, b"x")
    with pytest.raises(ValueError, match="AES key must be"):
        alipay_aes_decrypt(b"k" * size, b"x" * 16)


@pytest.mark.parametrize("ciphertext", [b"", b"x" * 15, b"x" * 17, b"\x00" * 32])
def test_every_data_fault_has_one_message(ciphertext: bytes) -> None:
    """ASVS V16.5.1: length and padding faults are indistinguishable."""
    with pytest.raises(ValueError) as caught:
        alipay_aes_decrypt(b"k" * 16, ciphertext)
    assert str(caught.value) == "decryption failed"


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=80))
def test_any_ciphertext_decrypts_or_fails_with_the_generic_error(ciphertext: bytes) -> None:
    try:
        alipay_aes_decrypt(b"k" * 16, ciphertext)
    except ValueError as exc:
        assert str(exc) == "decryption failed"
