"""Known-answer and attack vectors through the primitives sealed payloads use (ASVS V11.2.1,
V11.3.2, V11.6.1): Wycheproof X25519 (through HPKE decapsulation and our open path), HKDF-SHA256
(the response-key derivation), AES-256-GCM (the response AEAD) and Ed25519 (the response
signature check); and an independent RFC 9180 key schedule written from the RFC's text, which
must interoperate with the HPKE we use in both directions (what a JavaScript client computes).
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand

from bastion.crypto._ed25519 import ed25519_verify
from bastion.crypto._sealed import REQUEST_INFO, open_request
from bastion.crypto._sealed_format import binding, frame, parse_request, request_header
from bastion.crypto._sealed_primitives import (
    InvalidTag,
    _aesgcm_encrypt_with_nonce,
    aesgcm_decrypt,
    hkdf_sha256_salted,
    hpke_seal,
    seal_key_from_seed,
)
from bastion.errors import SealedPayloadInvalid
from tests.vectors import load_vectors


def _cases(path: str, keep: Any = lambda group: True) -> list[Any]:
    document = load_vectors(path)
    return [
        pytest.param(group, test, id=f"tc{test['tcId']}-{test['result']}")
        for group in document["testGroups"]
        if keep(group)
        for test in group["tests"]
    ]


# -- an independent RFC 9180 base-mode key schedule (test side only) ---------------------------

KEM_SUITE = b"KEM" + (0x0020).to_bytes(2, "big")
HPKE_SUITE = b"HPKE" + b"".join(i.to_bytes(2, "big") for i in (0x0020, 0x0001, 0x0002))


def _extract(salt: bytes, label: bytes, ikm: bytes, suite: bytes) -> bytes:
    return hmac.new(salt, b"HPKE-v1" + suite + label + ikm, hashlib.sha256).digest()


def _expand(prk: bytes, label: bytes, info: bytes, length: int, suite: bytes) -> bytes:
    labeled = length.to_bytes(2, "big") + b"HPKE-v1" + suite + label + info
    return HKDFExpand(hashes.SHA256(), length, labeled).derive(prk)


def _key_and_nonce(dh: bytes, enc: bytes, pk_r: bytes, info: bytes) -> tuple[bytes, bytes]:
    prk = _extract(b"", b"eae_prk", dh, KEM_SUITE)
    shared = _expand(prk, b"shared_secret", enc + pk_r, 32, KEM_SUITE)
    context = (
        b"\x00"
        + _extract(b"", b"psk_id_hash", b"", HPKE_SUITE)
        + _extract(b"", b"info_hash", info, HPKE_SUITE)
    )
    secret = _extract(shared, b"secret", b"", HPKE_SUITE)
    return (
        _expand(secret, b"key", context, 32, HPKE_SUITE),
        _expand(secret, b"base_nonce", context, 12, HPKE_SUITE),
    )


def _envelope(kid: str, enc: bytes, ciphertext: bytes, created: int = 1_750_000_000) -> bytes:
    return request_header(kid, created) + enc + ciphertext


def _info(kid: str, method: str, target: str, created: int = 1_750_000_000) -> bytes:
    return REQUEST_INFO + request_header(kid, created) + binding(method, target)


PLAINTEXT = b"\x11" * 32 + frame("application/json", b'{"vector": true}')


@pytest.mark.parametrize(("group", "test"), _cases("wycheproof/x25519_test.json"))
def test_wycheproof_x25519_through_our_open_path(group: Any, test: dict[str, Any]) -> None:
    """The vector's private key is the server key, its public key the encapsulated key. With
    the DH output Wycheproof gives, an RFC 9180 sender builds a real envelope: it opens when
    the shared secret is usable, and an all-zero one (low-order points) is refused with our
    opaque error, never anything else."""
    server = seal_key_from_seed(bytes.fromhex(test["private"]))
    enc, dh = bytes.fromhex(test["public"]), bytes.fromhex(test["shared"])
    info = _info("seal1-vector", "POST", "/v")
    key, nonce = _key_and_nonce(dh, enc, server.public, info)
    ciphertext = AESGCM(key).encrypt(nonce, PLAINTEXT, b"")
    unverified = parse_request(_envelope("seal1-vector", enc, ciphertext))
    if dh == bytes(32):
        assert "ZeroSharedSecret" in test["flags"] or test["result"] != "valid"
        with pytest.raises(SealedPayloadInvalid):
            open_request(server, unverified, method="POST", target="/v")
        return
    opened = open_request(server, unverified, method="POST", target="/v")
    assert opened.body == b'{"vector": true}'
    with pytest.raises(SealedPayloadInvalid):  # the same envelope for another route
        open_request(server, unverified, method="POST", target="/w")


def test_our_hpke_seal_opens_with_the_independent_schedule() -> None:
    """The other direction: what our client seals, an RFC 9180 receiver written from the RFC
    opens (the labels, suite ids and info are exactly as documented)."""
    receiver = X25519PrivateKey.generate()
    pk_r = receiver.public_key().public_bytes_raw()
    info = _info("seal1-x", "PUT", "/a?b=c")
    sealed = hpke_seal(pk_r, PLAINTEXT, info)
    enc, ciphertext = sealed[:32], sealed[32:]
    dh = receiver.exchange(X25519PublicKey.from_public_bytes(enc))
    key, nonce = _key_and_nonce(dh, enc, pk_r, info)
    assert AESGCM(key).decrypt(nonce, ciphertext, b"") == PLAINTEXT


def test_low_order_server_key_is_refused_by_the_sender() -> None:
    for test in load_vectors("wycheproof/x25519_test.json")["testGroups"][0]["tests"]:
        if "LowOrderPublic" in test["flags"] and bytes.fromhex(test["shared"]) == bytes(32):
            with pytest.raises(ValueError):
                hpke_seal(bytes.fromhex(test["public"]), b"x", b"")


# -- HKDF-SHA256: the response-key derivation ---------------------------------------------------


@pytest.mark.parametrize(("group", "test"), _cases("wycheproof/hkdf_sha256_test.json"))
def test_wycheproof_hkdf_sha256(group: Any, test: dict[str, Any]) -> None:
    ikm, salt, info = (bytes.fromhex(test[k]) for k in ("ikm", "salt", "info"))
    if test["result"] == "invalid":
        with pytest.raises(ValueError):
            hkdf_sha256_salted(ikm, salt=salt, info=info, length=test["size"])
        return
    okm = hkdf_sha256_salted(ikm, salt=salt, info=info, length=test["size"])
    assert okm.hex() == test["okm"]


# -- AES-256-GCM with 96-bit nonces: the response AEAD -----------------------------------------


def _ours(group: dict[str, Any]) -> bool:
    return bool(group["keySize"] == 256 and group["ivSize"] == 96 and group["tagSize"] == 128)


@pytest.mark.parametrize(("group", "test"), _cases("wycheproof/aes_gcm_test.json", _ours))
def test_wycheproof_aes_256_gcm(group: Any, test: dict[str, Any]) -> None:
    key, iv, aad, msg = (bytes.fromhex(test[k]) for k in ("key", "iv", "aad", "msg"))
    sealed = bytes.fromhex(test["ct"] + test["tag"])
    if test["result"] == "invalid":
        with pytest.raises(InvalidTag):
            aesgcm_decrypt(key, iv, sealed, aad)
        return
    assert _aesgcm_encrypt_with_nonce(key, iv, msg, aad) == sealed
    assert aesgcm_decrypt(key, iv, sealed, aad) == msg


def test_aes_gcm_vectors_were_found() -> None:
    assert len(_cases("wycheproof/aes_gcm_test.json", _ours)) > 50


def test_other_nonce_sizes_are_refused() -> None:
    with pytest.raises(InvalidTag):
        aesgcm_decrypt(b"k" * 32, b"n" * 16, b"x" * 32, b"")


# -- Ed25519: the response-signature check ------------------------------------------------------


@pytest.mark.parametrize(("group", "test"), _cases("wycheproof/ed25519_test.json"))
def test_wycheproof_ed25519(group: Any, test: dict[str, Any]) -> None:
    public = bytes.fromhex(group["publicKey"]["pk"])
    ok = ed25519_verify(public, bytes.fromhex(test["sig"]), bytes.fromhex(test["msg"]))
    assert ok is (test["result"] == "valid")
