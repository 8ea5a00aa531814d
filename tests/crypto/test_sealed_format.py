"""The sealed envelope parser and encoders on arbitrary input: only the documented errors, and
exact round trips (hypothesis; ASVS V1.4.2, V11.3.3)."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bastion.crypto import MasterKey, SealedClient, Sealing
from bastion.crypto._sealed_format import (
    decode_transport,
    encode_response,
    encode_transport,
    frame,
    parse_request,
    parse_response,
    request_header,
    unframe,
)
from bastion.errors import SealedPayloadInvalid, SealedPayloadRequired
from bastion.infra import ManualClock, MemoryHotState
from tests.crypto.test_sealed import RecordingAudit

KIDS = st.from_regex(r"\A[A-Za-z0-9_-]{1,32}\Z")
MEDIA = st.from_regex(r"\A[\x21-\x7e][\x20-\x7e]{0,254}\Z")
CONTENT_TYPES = st.one_of(
    st.none(),
    st.text(max_size=80),
    st.sampled_from(
        [
            "application/bastion-sealed",
            "application/bastion-sealed; encoding=base64url",
            "Application/Bastion-Sealed ; Encoding=Base64url",
            "application/bastion-sealed; encoding=base64url; x=1",
        ]
    ),
)


@given(st.binary(max_size=300))
def test_parse_request_raises_only_documented_errors(data: bytes) -> None:
    try:
        parsed = parse_request(data)
    except SealedPayloadInvalid:
        return
    assert parsed.header + parsed.enc + parsed.ciphertext == data


@given(st.binary(max_size=120))
def test_parse_response_raises_only_documented_errors(data: bytes) -> None:
    try:
        parsed = parse_response(data)
    except SealedPayloadInvalid:
        return
    assert parsed.header + parsed.ciphertext == data and len(parsed.nonce) == 12


@given(st.binary(max_size=300))
def test_unframe_raises_only_documented_errors(data: bytes) -> None:
    try:
        media, body = unframe(data)
    except SealedPayloadInvalid:
        return
    assert frame(media, body) == data


@given(st.binary(max_size=200), CONTENT_TYPES)
def test_transport_raises_only_documented_errors(body: bytes, content_type: str | None) -> None:
    try:
        envelope, text = decode_transport(body, content_type)
    except (SealedPayloadInvalid, SealedPayloadRequired):
        return
    assert encode_transport(envelope, text)[0] == (body.strip() if text else body)


@given(KIDS, st.integers(0, 2**64 - 1), st.binary(min_size=32, max_size=32), st.binary(min_size=49))
def test_request_round_trip(kid: str, created: int, enc: bytes, ciphertext: bytes) -> None:
    parsed = parse_request(request_header(kid, created) + enc + ciphertext)
    assert (parsed.kid, parsed.created, parsed.enc, parsed.ciphertext) == (
        kid,
        created,
        enc,
        ciphertext,
    )


@given(st.binary(min_size=12, max_size=12), st.binary(min_size=17, max_size=64))
def test_response_round_trip(nonce: bytes, ciphertext: bytes) -> None:
    parsed = parse_response(encode_response(nonce, ciphertext))
    assert (parsed.nonce, parsed.ciphertext) == (nonce, ciphertext)


@given(MEDIA, st.binary(max_size=64), st.booleans())
def test_frame_and_transport_round_trip(media: str, body: bytes, text: bool) -> None:
    assert unframe(frame(media, body)) == (media, body)
    payload, content_type = encode_transport(body, text)
    assert decode_transport(payload, content_type) == (body, text)


@pytest.mark.parametrize("media", ["", "x" * 256, "caf\u00e9/x", "a\nb", " leading"])
def test_frame_refuses_bad_media_types(media: str) -> None:
    with pytest.raises(ValueError):
        frame(media, b"")


@pytest.mark.parametrize("kid", ["", "k" * 33, "a b", "k\u00e9"])
def test_request_header_refuses_bad_kids(kid: str) -> None:
    with pytest.raises(ValueError):
        request_header(kid, 0)


_CLOCK = ManualClock()
_SEALING = Sealing(MasterKey(b"\x07" * 32), _CLOCK, MemoryHotState(_CLOCK), RecordingAudit())
_GENUINE = SealedClient(_SEALING.document(), clock=_CLOCK).seal("POST", "/p", b"{}").body


def _mutations() -> st.SearchStrategy[bytes]:
    """Arbitrary bytes, and the genuine envelope with random bytes replaced, cut or added."""
    edits = st.lists(st.tuples(st.integers(0, len(_GENUINE) - 1), st.integers(0, 255)), max_size=4)
    edited = edits.map(lambda changes: _apply(changes))
    return st.one_of(st.binary(max_size=200), edited, st.integers(0, len(_GENUINE)).map(_cut))


def _apply(changes: list[tuple[int, int]]) -> bytes:
    data = bytearray(_GENUINE)
    for position, value in changes:
        data[position] = value
    return bytes(data)


def _cut(length: int) -> bytes:
    return _GENUINE[:length]


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(_mutations(), CONTENT_TYPES)
def test_open_request_raises_only_documented_errors(body: bytes, content_type: str | None) -> None:
    """Whatever arrives, the server answers a documented 4xx error or opens a genuine body."""

    async def attempt() -> None:
        await _SEALING.open_request(body, content_type=content_type, method="POST", target="/p")

    try:
        asyncio.run(attempt())
    except (SealedPayloadInvalid, SealedPayloadRequired) as exc:
        assert 400 <= exc.status < 500
    else:
        assert body == _GENUINE  # only the untouched envelope opens (once)
