"""Content-Digest (RFC 9530): value, check, tamper and malformed fields."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bastion.errors import InvalidSignature
from bastion.signing import content_digest, verify_content_digest
from bastion.signing._digest import _SHA256_ONLY, _general_sha256_member, _sha256_member


def test_rfc_9530_example() -> None:
    assert content_digest(b'{"hello": "world"}') == (
        "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:"
    )


def test_matching_body_passes_and_changed_body_fails() -> None:
    headers = {"content-digest": content_digest(b"body")}
    verify_content_digest(headers, b"body")
    with pytest.raises(InvalidSignature) as caught:
        verify_content_digest(headers, b"Body")
    assert caught.value.reason == "digest_mismatch"
    assert headers["content-digest"] not in str(caught.value.problem())


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (None, "digest_mismatch"),
        ("sha-512=:" + "A" * 86 + "==:", "malformed"),
        (content_digest(b"x") + ", sha-512=:AA==:", "malformed"),
        ("sha-256=:AAAA:", "malformed"),  # short
        ("sha-256=" + "1", "malformed"),
        ("sha-256=:" + "A" * 300 + ":", "malformed"),  # oversize
        ("sha-256", "malformed"),
    ],
)
def test_malformed_fields(value: str | None, reason: str) -> None:
    headers = {} if value is None else {"content-digest": value}
    with pytest.raises(InvalidSignature) as caught:
        verify_content_digest(headers, b"x")
    assert caught.value.reason == reason


@given(st.binary(min_size=31, max_size=33), st.sampled_from(["", " ", "=", ";a", ", b=1"]))
def test_the_usual_field_reads_as_the_general_reading(digest: bytes, tail: str) -> None:
    value = "sha-256=:" + base64.b64encode(digest).decode() + ":" + tail
    try:
        general: bytes | None = _general_sha256_member(value)
    except InvalidSignature:
        general = None
    if _SHA256_ONLY.fullmatch(value):
        assert _sha256_member(value) == general == digest
