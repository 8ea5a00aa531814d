"""RSA key loading (PEM, PKCS#1, bare base64) and RSA2 sign/verify."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from bastion.crypto._rsa import (
    MIN_RSA_BITS,
    load_rsa_private_key,
    load_rsa_public_key,
    rsa2_sign,
    rsa2_verify,
)
from bastion.errors import ConfigError
from tests.vectors import load_vectors

_PEM = serialization.Encoding.PEM
_DER = serialization.Encoding.DER


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _private(key: rsa.RSAPrivateKey, encoding: Any, fmt: Any) -> bytes:
    return key.private_bytes(encoding, fmt, serialization.NoEncryption())


def _body(pem: bytes) -> str:
    """What Alipay's key tool shows: the base64 lines without the armour."""
    return "\n".join(line for line in pem.decode().splitlines() if not line.startswith("-----"))


@pytest.mark.parametrize(
    "form",
    ["pkcs8-pem", "pkcs1-pem", "pkcs8-bare", "pkcs1-bare", "pkcs8-one-line"],
)
def test_private_key_forms(key: rsa.RSAPrivateKey, form: str) -> None:
    pkcs8 = _private(key, _PEM, serialization.PrivateFormat.PKCS8)
    pkcs1 = _private(key, _PEM, serialization.PrivateFormat.TraditionalOpenSSL)
    text = {
        "pkcs8-pem": pkcs8.decode(),
        "pkcs1-pem": pkcs1.decode(),
        "pkcs8-bare": _body(pkcs8),
        "pkcs1-bare": _body(pkcs1),
        "pkcs8-one-line": base64.b64encode(
            _private(key, _DER, serialization.PrivateFormat.PKCS8)
        ).decode(),
    }[form]
    loaded = load_rsa_private_key("  " + text + "\n")
    assert loaded.private_numbers() == key.private_numbers()


@pytest.mark.parametrize("form", ["spki-pem", "pkcs1-pem", "spki-bare", "pkcs1-bare"])
def test_public_key_forms(key: rsa.RSAPrivateKey, form: str) -> None:
    public = key.public_key()
    spki = public.public_bytes(_PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    pkcs1 = public.public_bytes(_PEM, serialization.PublicFormat.PKCS1)
    text = {
        "spki-pem": spki.decode(),
        "pkcs1-pem": pkcs1.decode(),
        "spki-bare": _body(spki),
        "pkcs1-bare": _body(pkcs1),
    }[form]
    assert load_rsa_public_key(text).public_numbers() == public.public_numbers()


def test_the_published_alipay_keys_load_as_bare_base64() -> None:
    vectors = load_vectors("platforms/alipay.json")["vectors"]
    keys = {v["inputs"].get("alipay_public_key") or v["inputs"].get("public_key") for v in vectors}
    keys.discard(None)
    assert len(keys) == 4
    for text in keys:
        assert load_rsa_public_key(text).key_size == 2048


def test_short_keys_are_refused() -> None:
    """ASVS V11.2.3: RSA below 2048 bits is refused at configuration time."""
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 (the point)
    pem = _private(small, _PEM, serialization.PrivateFormat.PKCS8).decode()
    with pytest.raises(ConfigError, match=str(MIN_RSA_BITS)):
        load_rsa_private_key(pem, name="platforms.alipay.app_private_key")
    public = small.public_key().public_bytes(_PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    with pytest.raises(ConfigError, match="1024-bit"):
        load_rsa_public_key(public.decode())


def test_wrong_kinds_of_key_are_refused_without_echoing_them(key: rsa.RSAPrivateKey) -> None:
    """ASVS V16.2.5: the message names the setting, never the key text."""
    ec_key = ec.generate_private_key(ec.SECP256R1())
    ec_pem = _private(ec_key, _PEM, serialization.PrivateFormat.PKCS8).decode()
    encrypted = key.private_bytes(
        _PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"pw"),
    ).decode()
    spki = key.public_key().public_bytes(_PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    cases = [ec_pem, encrypted, "", "   ", "not a key", "QUJD", "x" * 20000, spki.decode()]
    for text in cases:
        with pytest.raises(ConfigError) as caught:
            load_rsa_private_key(text, name="the.setting")
        assert "the.setting" in str(caught.value)
        assert not text.strip() or text.strip()[:40] not in str(caught.value)
    ec_public = ec_key.public_key().public_bytes(
        _PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    pkcs8 = _private(key, _PEM, serialization.PrivateFormat.PKCS8).decode()
    for text in [ec_public.decode(), "", "not a key", pkcs8]:
        with pytest.raises(ConfigError):
            load_rsa_public_key(text)


def test_rsa2_round_trip_and_rejections(key: rsa.RSAPrivateKey) -> None:
    """ASVS V11.6.1: SHA256withRSA signatures verify only for the exact message and key."""
    public = key.public_key()
    signature = rsa2_sign(key, b"message")
    assert len(signature) == 256
    assert rsa2_verify(public, signature, b"message")
    assert not rsa2_verify(public, signature, b"messagE")
    assert not rsa2_verify(public, signature[:-1], b"message")
    assert not rsa2_verify(public, b"", b"message")
    flipped = bytes([signature[0] ^ 1]) + signature[1:]
    assert not rsa2_verify(public, flipped, b"message")
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert not rsa2_verify(other.public_key(), signature, b"message")
