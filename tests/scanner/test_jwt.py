"""Hand-made attack tokens: base64url, HMAC signing and cracking, and the byte forms of a
public key (checked against pyca/cryptography's own encodings)."""

from __future__ import annotations

import base64
import hashlib
import hmac

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from hypothesis import given
from hypothesis import strategies as st

from bastion.scanner._jwt import b64d, b64e, crack_hmac, encode, key_forms, parse, sign_hmac


@given(st.binary(max_size=300))
def test_base64url_round_trips_without_padding(data: bytes) -> None:
    text = b64e(data)
    assert "=" not in text and "+" not in text and "/" not in text
    assert b64d(text) == data


@given(st.text(max_size=60))
def test_parse_never_raises_on_garbage(text: str) -> None:
    parse(text)


def test_sign_hmac_matches_pyjwt() -> None:
    secret = b"k" * 32
    token = sign_hmac({"alg": "HS256", "typ": "JWT"}, {"sub": "a"}, secret)
    assert jwt.decode(token, secret, algorithms=["HS256"]) == {"sub": "a"}


def test_encode_keeps_the_given_signature() -> None:
    parsed = parse(encode({"alg": "none"}, {"sub": "x"}, b"sig"))
    assert parsed is not None and parsed.signature == b"sig" and parsed.header["alg"] == "none"


def test_crack_hmac_finds_the_listed_secret_and_only_for_hmac() -> None:
    token = parse(jwt.encode({"sub": "a"}, "s3cr3t-but-listed-in-a-wordlist!", algorithm="HS256"))
    assert token is not None
    assert crack_hmac(token, ["nope", "s3cr3t-but-listed-in-a-wordlist!"]) is not None
    assert crack_hmac(token, ["nope", "also-not"]) is None
    eddsa = parse(encode({"alg": "EdDSA"}, {"sub": "a"}, b"x"))
    assert eddsa is not None and crack_hmac(eddsa, ["x"]) is None


def _spki_pem(public: object) -> bytes:
    return public.public_bytes(  # type: ignore[attr-defined, no-any-return]
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@pytest.mark.parametrize(
    "private",
    [
        ed25519.Ed25519PrivateKey.generate(),
        ec.generate_private_key(ec.SECP256R1()),
        ec.generate_private_key(ec.SECP384R1()),
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
    ],
    ids=["Ed25519", "P-256", "P-384", "RSA-2048"],
)
def test_key_forms_start_with_the_exact_pem_a_server_would_use(private: object) -> None:
    public = private.public_key()  # type: ignore[attr-defined]
    jwk = jwt.algorithms.get_default_algorithms()[_alg(private)].to_jwk(public, as_dict=True)
    forms = list(key_forms(jwk))
    pem = _spki_pem(public)
    assert forms[0] == pem and forms[1] == pem.rstrip(b"\n")
    der = public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert der in forms
    if isinstance(private, rsa.RSAPrivateKey):
        pkcs1 = public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.PKCS1)
        assert pkcs1 in forms


def _alg(private: object) -> str:
    if isinstance(private, ed25519.Ed25519PrivateKey):
        return "EdDSA"
    return "ES256" if isinstance(private, ec.EllipticCurvePrivateKey) else "RS256"


def test_alg_confusion_token_verifies_with_the_pem_as_hmac_key() -> None:
    public = ed25519.Ed25519PrivateKey.generate().public_key()
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    jwk = {"kty": "OKP", "crv": "Ed25519", "x": base64.urlsafe_b64encode(raw).decode().rstrip("=")}
    token = sign_hmac({"alg": "HS256"}, {"sub": "x"}, next(key_forms(jwk)))
    head, body, sig = token.split(".")
    mac = hmac.digest(_spki_pem(public), f"{head}.{body}".encode(), hashlib.sha256)
    assert b64d(sig) == mac
