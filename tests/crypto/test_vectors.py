"""Wycheproof vectors through the code paths data protection uses: AES-256-GCM with 96-bit
nonces (data keys: ``aesgcm``; KEK wrapping: ``SoftwareKek.unwrap``) and HKDF-SHA256 without
salt (the master-key subkey behind subject keys) (ASVS V11.2.1, V11.3.2, V11.3.3)."""

from __future__ import annotations

from typing import Any

import pytest

from bastion.crypto._keks import SoftwareKek
from bastion.crypto._primitives import InvalidTag, aesgcm, hkdf_sha256
from bastion.errors import ConfigError, DecryptionFailed
from tests.vectors import load_vectors


def _cases(path: str, keep: Any) -> list[Any]:
    doc = load_vectors(path)
    return [
        pytest.param(group, test, id=f"tc{test['tcId']}-{test['result']}")
        for group in doc["testGroups"]
        for test in group["tests"]
        if keep(group, test)
    ]


def _ours(group: dict[str, Any], _: object) -> bool:
    return group["keySize"] == 256 and group["ivSize"] == 96 and group["tagSize"] == 128


def _not_ours(group: dict[str, Any], _: object) -> bool:
    return not _ours(group, _)


@pytest.mark.parametrize(("group", "case"), _cases("wycheproof/aes_gcm_test.json", _ours))
def test_aes_256_gcm(group: dict[str, Any], case: dict[str, Any]) -> None:
    key, iv = bytes.fromhex(case["key"]), bytes.fromhex(case["iv"])
    aad, msg = bytes.fromhex(case["aad"]), bytes.fromhex(case["msg"])
    sealed = bytes.fromhex(case["ct"] + case["tag"])
    kek = SoftwareKek(1, key)
    if case["result"] == "invalid":
        with pytest.raises(InvalidTag):
            aesgcm(key).decrypt(iv, sealed, aad)
        with pytest.raises(DecryptionFailed):
            kek.unwrap(iv + sealed, aad)
        return
    assert aesgcm(key).encrypt(iv, msg, aad) == sealed
    assert aesgcm(key).decrypt(iv, sealed, aad) == msg
    assert kek.unwrap(iv + sealed, aad) == msg


@pytest.mark.parametrize(("group", "case"), _cases("wycheproof/aes_gcm_test.json", _not_ours)[:40])
def test_other_key_and_nonce_sizes_are_not_accepted(group: dict[str, Any], case: Any) -> None:
    """V11.3.2: only AES-256 with 96-bit nonces: other key sizes are refused outright, and the
    envelope has no way to carry another nonce length."""
    key = bytes.fromhex(case["key"])
    if len(key) != 32:
        with pytest.raises(ValueError):
            aesgcm(key)
        with pytest.raises(ConfigError):
            SoftwareKek(1, key)
    else:
        iv = bytes.fromhex(case["iv"])
        assert len(iv) != 12
        wrapped = iv + bytes.fromhex(case["ct"] + case["tag"])
        with pytest.raises(DecryptionFailed):  # read as 12-byte nonce: never the message
            SoftwareKek(1, key).unwrap(wrapped, bytes.fromhex(case["aad"]))


def _no_salt(_: object, test: dict[str, Any]) -> bool:
    return test["salt"] == ""


@pytest.mark.parametrize(("group", "case"), _cases("wycheproof/hkdf_sha256_test.json", _no_salt))
def test_hkdf_sha256_without_salt(group: dict[str, Any], case: dict[str, Any]) -> None:
    ikm, info, size = bytes.fromhex(case["ikm"]), bytes.fromhex(case["info"]), case["size"]
    if case["result"] == "invalid":
        with pytest.raises(ValueError):
            hkdf_sha256(ikm, info, size)
        return
    assert hkdf_sha256(ikm, info, size) == bytes.fromhex(case["okm"])
