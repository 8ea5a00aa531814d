"""Known answers: the shared signing vectors (also run by the JavaScript signer) and the
Wycheproof HMAC-SHA256 vectors through the MAC the signer and verifier use (ASVS V11.2.1:
HMAC from the standard library over OpenSSL; V11.4.3: truncated tags are refused)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bastion.errors import InvalidSignature
from bastion.signing import (
    SignedRequest,
    combine_headers,
    decode_secret,
    parse_signature,
    sign_request,
    signature_base,
)
from bastion.signing._mac import MacKey, hmac_sha256, verify_mac
from tests.vectors import load_vectors

ROOT = Path(__file__).resolve().parents[2]
VECTORS = json.loads((ROOT / "clients" / "js" / "test" / "vectors.json").read_text("utf-8"))
WYCHEPROOF = load_vectors("wycheproof/hmac_sha256_test.json")


@pytest.mark.parametrize("v", VECTORS["signing"], ids=lambda v: v["name"])
def test_signing_vector(v: dict[str, Any]) -> None:
    headers = sign_request(
        key_id=v["key_id"],
        secret=decode_secret(v["secret"]),
        method=v["method"],
        path=v["path"],
        query=v["query"],
        headers=v["headers"],
        body=v["body"].encode("utf-8"),
        created=v["created"],
        nonce=v["nonce"],
        label=v["label"],
        extra=v["extra"],
    )
    expected = v["expected"]
    assert headers == {
        "Content-Digest": expected["content_digest"],
        "Signature-Input": expected["signature_input"],
        "Signature": expected["signature"],
    }
    fields = combine_headers([*v["headers"].items(), *headers.items()])
    sig = parse_signature(fields, max_header_bytes=4096)
    request = SignedRequest(v["method"], v["path"], v["query"], fields)
    base = signature_base(request, sig.components, sig.params)
    assert base.decode("ascii") == expected["signature_base"]
    verify_mac(decode_secret(v["secret"]), base, sig.mac)
    verify_mac(MacKey(decode_secret(v["secret"])), base, sig.mac)


def _cases() -> list[tuple[int, dict[str, Any]]]:
    return [(g["tagSize"], t) for g in WYCHEPROOF["testGroups"] for t in g["tests"]]


@pytest.mark.parametrize(
    ("tag_bits", "case"), _cases(), ids=lambda x: str(x["tcId"]) if isinstance(x, dict) else str(x)
)
def test_wycheproof_hmac_sha256(tag_bits: int, case: dict[str, Any]) -> None:
    key, msg, tag = (bytes.fromhex(case[f]) for f in ("key", "msg", "tag"))
    full = hmac_sha256(key, msg)
    assert MacKey(key).mac(msg) == full  # the set-up-once key gives the same MAC
    assert (full[: tag_bits // 8] == tag) == (case["result"] == "valid")
    for as_given in (key, MacKey(key)):
        if case["result"] == "valid" and tag_bits == 256:
            verify_mac(as_given, msg, tag)
        else:  # a wrong tag, and a truncated tag even where it is a correct prefix
            with pytest.raises(InvalidSignature):
                verify_mac(as_given, msg, tag)


@given(st.binary(max_size=200), st.binary(max_size=300))
def test_a_set_up_key_gives_the_standard_hmac(key: bytes, msg: bytes) -> None:
    prepared = MacKey(key)
    assert prepared.mac(msg) == hmac_sha256(key, msg) == prepared.mac(msg)
    assert repr(prepared) == "MacKey(...)"


def test_the_worked_example_in_the_docs_is_the_first_vector() -> None:
    page = (ROOT / "docs" / "signing.md").read_text("utf-8")
    first = VECTORS["signing"][0]
    expected = first["expected"]
    assert "```text\n" + expected["signature_base"] + "\n```" in page
    for value in (
        expected["signature"],
        expected["signature_input"],
        expected["content_digest"],
        first["secret"],
        first["nonce"],
    ):
        assert value in page
