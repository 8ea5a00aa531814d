"""guard.crypto: envelope encryption bound to subject and context, tamper and move attacks,
the per-key message cap, the key cache (ASVS V11.3.2, V11.3.3, V11.5.1, V14.2.4)."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import func, select

from bastion import Bastion
from bastion.crypto._envelope import OVERHEAD
from bastion.crypto._keystore_schema import deks
from bastion.errors import DecryptionFailed, InvalidInput, MalformedCiphertext, ShreddedSubject
from bastion.infra import ManualClock

WHERE = "users.phone:42"


async def test_round_trip_with_fresh_nonces(crypto_guard: Bastion) -> None:
    """ASVS V11.3.2: AES-256-GCM, a random 96-bit nonce per value."""
    crypto = crypto_guard.crypto
    first = await crypto.encrypt(b"+86 138 0000 0000", subject="u42", context=WHERE)
    second = await crypto.encrypt(b"+86 138 0000 0000", subject="u42", context=WHERE)
    assert first != second and first[21:33] != second[21:33]
    assert len(first) == len(b"+86 138 0000 0000") + OVERHEAD
    assert b"138 0000" not in first
    for blob in (first, second):
        assert await crypto.decrypt(blob, subject="u42", context=WHERE) == b"+86 138 0000 0000"
    crypto.cache.clear()  # the slow path (key store lookup and unwrap) gives the same answer
    assert await crypto.decrypt(first, subject="u42", context=WHERE) == b"+86 138 0000 0000"
    assert await crypto.encrypt(b"", subject="u42", context=WHERE) != b""


async def test_sync_fast_path_matches_the_async_api(guard: Bastion) -> None:
    crypto = guard.crypto
    assert crypto.encrypt_cached(b"x", subject="u1", context=WHERE) is None  # nothing cached
    blob = await crypto.encrypt(b"x", subject="u1", context=WHERE)
    fast = crypto.encrypt_cached(b"y", subject="u1", context=WHERE)
    assert fast is not None and fast[5:21] == blob[5:21]  # the same data key
    assert crypto.decrypt_cached(fast, subject="u1", context=WHERE) == b"y"
    assert await crypto.decrypt(fast, subject="u1", context=WHERE) == b"y"


@pytest.mark.parametrize(
    ("subject", "context"),
    [("u42", "users.phone:43"), ("u42", "users.email:42"), ("u43", WHERE), ("u42", "vault:42")],
    ids=["other-record", "other-field", "other-subject", "other-purpose"],
)
async def test_a_moved_ciphertext_does_not_decrypt(
    crypto_guard: Bastion, subject: str, context: str
) -> None:
    """ASVS V11.3.3: the AAD binds subject, table/field and record id."""
    crypto = crypto_guard.crypto
    blob = await crypto.encrypt(b"secret", subject="u42", context=WHERE)
    await crypto.encrypt(b"other", subject="u43", context=WHERE)  # u43 has keys too
    for cold in (False, True):
        if cold:
            crypto.cache.clear()
        with pytest.raises(DecryptionFailed):
            await crypto.decrypt(blob, subject=subject, context=context)


async def test_every_flipped_byte_fails(guard: Bastion) -> None:
    """ASVS V11.3.3: any changed byte of header, nonce, ciphertext or tag is refused, on the
    cached and on the cold path, and never yields garbage."""
    crypto = guard.crypto
    blob = await crypto.encrypt(b"a value worth protecting", subject="u1", context=WHERE)
    for cold in (False, True):
        for i in range(len(blob)):
            if cold:
                crypto.cache.clear()
            tampered = blob[:i] + bytes([blob[i] ^ 0x01]) + blob[i + 1 :]
            with pytest.raises(DecryptionFailed):
                await crypto.decrypt(tampered, subject="u1", context=WHERE)
    assert await crypto.decrypt(blob, subject="u1", context=WHERE) == b"a value worth protecting"


async def test_truncated_and_unknown_versions_are_malformed(guard: Bastion) -> None:
    crypto = guard.crypto
    blob = await crypto.encrypt(b"v", subject="u1", context=WHERE)
    for bad in (b"", blob[: OVERHEAD - 1], b"\x02" + blob[1:], b"\x00" * 60, bytearray(10)):
        with pytest.raises(MalformedCiphertext):
            await crypto.decrypt(bad, subject="u1", context=WHERE)
    with pytest.raises(MalformedCiphertext):
        await crypto.decrypt("not bytes", subject="u1", context=WHERE)  # type: ignore[arg-type]
    assert await crypto.decrypt(bytearray(blob), subject="u1", context=WHERE) == b"v"


async def test_failures_are_audited_without_the_value(guard: Bastion) -> None:
    """ASVS V16 / house rule 14: the reason goes to the audit log, the error stays opaque."""
    blob = await guard.crypto.encrypt(b"v", subject="u1", context=WHERE)
    with pytest.raises(DecryptionFailed) as caught:
        await guard.crypto.decrypt(blob, subject="u1", context="users.phone:9")
    assert "phone" not in str(caught.value) and caught.value.problem()["status"] == 500
    from bastion.infra.schema import audit_events

    async with guard.db.connect() as conn:
        rows = (await conn.execute(select(audit_events.c.action, audit_events.c.reason))).all()
    assert ("crypto.decrypt", "tag") in [tuple(r) for r in rows]


@pytest.mark.parametrize(
    ("subject", "context"),
    [
        ("", WHERE),
        ("a" * 65, WHERE),
        ("me@example.com", WHERE),
        ("u1", ""),
        ("u1", "x" * 513),
        ("u1", ":42"),
    ],
)
async def test_bad_subjects_and_contexts_are_refused(
    guard: Bastion, subject: str, context: str
) -> None:
    with pytest.raises(InvalidInput):
        await guard.crypto.encrypt(b"v", subject=subject, context=context)


async def test_plaintext_must_be_bytes(guard: Bastion) -> None:
    with pytest.raises(TypeError):
        await guard.crypto.encrypt("text", subject="u1", context=WHERE)  # type: ignore[arg-type]


async def _dek_count(guard: Bastion) -> int:
    async with guard.crypto.store.begin() as conn:
        return int((await conn.execute(select(func.count()).select_from(deks))).scalar() or 0)


async def test_keys_roll_over_before_the_message_cap(tmp_path: object) -> None:
    """ASVS V11.3.4 (nonce budget): no data key encrypts more than messages_per_dek values,
    counted across processes through block reservations."""
    from tests.crypto.conftest import crypto_settings

    settings, _ = await crypto_settings(
        "sqlite",
        tmp_path,
        messages_per_dek=16,
        reserve_block=5,  # type: ignore[arg-type]
    )
    guard = await Bastion.open(settings, clock=ManualClock())
    other = await Bastion.open(settings, clock=ManualClock())  # a second process
    try:
        blobs = []
        for i in range(30):
            for g in (guard, other):
                blobs.append(await g.crypto.encrypt(b"%d" % i, subject="u1", context=WHERE))
        async with guard.crypto.store.begin() as conn:
            rows = (await conn.execute(select(deks.c.id, deks.c.reserved))).all()
        used: dict[bytes, int] = {}
        for blob in blobs:
            used[blob[5:21]] = used.get(blob[5:21], 0) + 1
        assert len(rows) >= 4 and all(r.reserved <= 16 for r in rows)
        assert max(used.values()) <= 16
        for i, blob in enumerate(blobs):
            assert await other.crypto.decrypt(blob, subject="u1", context=WHERE) == b"%d" % (i // 2)
    finally:
        await guard.close()
        await other.close()


async def test_cached_keys_expire_on_the_clock(guard: Bastion, clock: ManualClock) -> None:
    crypto = guard.crypto
    blob = await crypto.encrypt(b"v", subject="u1", context=WHERE)
    assert crypto.decrypt_cached(blob, subject="u1", context=WHERE) == b"v"
    clock.advance(guard.settings.crypto.dek_cache_ttl_seconds + 1)
    assert crypto.decrypt_cached(blob, subject="u1", context=WHERE) is None
    assert crypto.encrypt_cached(b"v", subject="u1", context=WHERE) is None
    assert await crypto.decrypt(blob, subject="u1", context=WHERE) == b"v"


async def test_cache_is_bounded(tmp_path: object) -> None:
    from tests.crypto.conftest import crypto_settings

    settings, _ = await crypto_settings("sqlite", tmp_path, dek_cache_size=3)  # type: ignore[arg-type]
    guard = await Bastion.open(settings, clock=ManualClock())
    try:
        for n in range(10):
            await guard.crypto.encrypt(b"v", subject=f"u{n}", context=WHERE)
        assert len(guard.crypto.cache) <= 3
        assert await _dek_count(guard) == 10
    finally:
        await guard.close()


async def test_no_key_material_in_reprs(guard: Bastion) -> None:
    await guard.crypto.encrypt(b"v", subject="u1", context=WHERE)
    dek = guard.crypto.cache.active("u1", "users.phone")
    assert dek is not None and "aead" not in repr(dek)
    assert "version" in repr(guard.crypto.keyring.current)


async def test_shredded_subjects_cannot_encrypt_or_decrypt(crypto_guard: Bastion) -> None:
    crypto = crypto_guard.crypto
    mine = await crypto.encrypt(b"mine", subject="u1", context=WHERE)
    theirs = await crypto.encrypt(b"theirs", subject="u2", context=WHERE)
    assert await crypto.shred("u1", actor="admin") == 1
    assert await crypto.shred("u1") == 0  # idempotent
    for cold in (False, True):
        if cold:
            crypto.cache.clear()
        with pytest.raises(ShreddedSubject):
            await crypto.decrypt(mine, subject="u1", context=WHERE)
        with pytest.raises(ShreddedSubject):
            await crypto.encrypt(b"new", subject="u1", context=WHERE)
        assert await crypto.decrypt(theirs, subject="u2", context=WHERE) == b"theirs"
    assert crypto.is_shredded("u1") and not crypto.is_shredded("u2")
    assert ShreddedSubject().problem()["status"] == 410


def test_random_material_comes_from_the_os() -> None:
    """ASVS V11.5.1: keys and nonces are os.urandom (never injected)."""
    from bastion.crypto import _primitives

    assert len({_primitives.new_aes256_key() for _ in range(100)}) == 100
    assert os.urandom.__module__ in ("posix", "nt")
