"""The ciphertext parser and the associated-data encoders: property tests over arbitrary
bytes (only the documented errors, never anything else) and the byte layout."""

from __future__ import annotations

import contextlib
import os
import random
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from bastion.crypto._dekcache import CachedDek, DekCache
from bastion.crypto._envelope import (
    DOMAIN,
    OVERHEAD,
    context_part,
    header,
    parse_unverified,
    purpose_of,
    subject_part,
)
from bastion.crypto._primitives import aesgcm
from bastion.errors import DecryptionFailed, InvalidInput, MalformedCiphertext

DEK_ID = bytes(range(16))


def _cache() -> tuple[DekCache, CachedDek]:
    cache = DekCache(lambda: 0.0, size=4, ttl=60)
    dek = CachedDek(
        DEK_ID,
        "u1",
        subject_part("u1"),
        "k" * 32,
        "t.v",
        aesgcm(os.urandom(32)),
        header(1, DEK_ID),
        0.0,
        0.0,
        0,
        1000,
    )
    cache.put(dek, active=True)
    return cache, dek


def test_layout_is_version_kek_dek_nonce_body() -> None:
    cache, _ = _cache()
    blob = cache.encrypt(b"hello", "u1", "t.v:1")
    assert blob is not None and len(blob) == 5 + OVERHEAD
    parsed = parse_unverified(blob)
    assert blob[0] == 1 and blob[1:5] == b"\x00\x00\x00\x01" and blob[5:21] == DEK_ID
    assert (parsed.kek_version, parsed.dek_id, parsed.nonce) == (1, DEK_ID, blob[21:33])
    assert parsed.body == blob[33:] and len(parsed.body) == 5 + 16


@given(st.binary(max_size=200))
def test_parser_raises_only_malformed(data: bytes) -> None:
    try:
        parsed = parse_unverified(data)
    except MalformedCiphertext:
        assert len(data) < OVERHEAD or data[0] != 1
        return
    assert parsed.header + parsed.nonce + parsed.body == data


@given(st.binary(max_size=200), st.text(max_size=30), st.text(max_size=60))
def test_cached_decrypt_never_returns_garbage(data: bytes, subject: str, context: str) -> None:
    cache, _ = _cache()
    with contextlib.suppress(DecryptionFailed):
        assert cache.decrypt(data, subject, context) is None  # only "not cached" passes


@given(st.integers(min_value=0, max_value=200), st.binary(min_size=1, max_size=64))
def test_any_splice_into_a_real_envelope_fails(position: int, junk: bytes) -> None:
    cache, _ = _cache()
    blob = cache.encrypt(b"a real value", "u1", "t.v:1")
    assert blob is not None
    spliced = blob[:position] + junk + blob[position + len(junk) :]
    if spliced == blob:
        return
    try:
        result = cache.decrypt(spliced, "u1", "t.v:1")
    except DecryptionFailed:
        return
    assert result is None  # another DEK id: the slow path decides (and fails: unknown key)


async def test_the_public_api_raises_only_documented_errors(guard: Any) -> None:
    """Fuzz the full path (cache, key store lookup, unwrap): random bytes, and real headers
    with random bodies, only ever raise DecryptionFailed (or its MalformedCiphertext)."""
    crypto = guard.crypto
    real = await crypto.encrypt(b"value", subject="u1", context="t.v:1")
    rng = random.Random(1234)
    samples = [rng.randbytes(rng.randrange(0, 120)) for _ in range(150)]
    samples += [real[:33] + rng.randbytes(rng.randrange(0, 60)) for _ in range(150)]
    samples += [real[:5] + rng.randbytes(rng.randrange(16, 90)) for _ in range(150)]
    for cold in (False, True):
        for data in samples:
            if cold:
                crypto.cache.clear()
            try:
                await crypto.decrypt(data, subject="u1", context="t.v:1")
            except DecryptionFailed:
                continue
            raise AssertionError("random bytes decrypted")


@given(st.text(min_size=1, max_size=40), st.text(min_size=1, max_size=40))
def test_length_prefixes_make_the_aad_unambiguous(a: str, b: str) -> None:
    try:
        one = subject_part("s") + context_part(a + ":" + b)
        two = subject_part("s") + context_part(a + b + ":")
    except InvalidInput:
        return
    assert (one == two) == (a + ":" + b == a + b + ":")
    assert DOMAIN.endswith(b"\x00")


def test_purposes() -> None:
    assert purpose_of("vault:phone:abc") == "vault"
    assert purpose_of("users.phone:42") == "users.phone"
    assert purpose_of("plain") == "plain"
