"""Password hashing: Argon2id, imported hashes, upgrade on login, equal work, load shedding."""

from __future__ import annotations

import asyncio
import base64
import hashlib
from collections.abc import Iterator

import argon2
import bcrypt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from structlog.testing import capture_logs

from bastion.config import PasswordSettings
from bastion.errors import Overloaded
from bastion.identity._hashers import (
    Argon2idHasher,
    BcryptHasher,
    DjangoPbkdf2Hasher,
    PasswordHashing,
    VerifyResult,
    normalise_password,
)

PASSWORD = "violet kettle marching on ice"
_ARGON2 = Argon2idHasher(memory_cost=19456, time_cost=2, parallelism=1)
CORRUPT = ["garbage", "$argon2id$v=19$m=bad", "", "$2b$04$short", "pbkdf2_sha256$1$s$"]
CORRUPT_IDS = ["garbage", "bad-m", "empty", "bcrypt-short", "pbkdf2-short"]


@pytest.fixture
def hashing() -> Iterator[PasswordHashing]:
    service = PasswordHashing(PasswordSettings())
    yield service
    service.close()


def _django_pbkdf2(password: str, salt: str, iterations: int) -> str:
    dk = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), iterations)
    return f"pbkdf2_sha256${iterations}${salt}${base64.b64encode(dk).decode('ascii')}"


async def test_argon2id_round_trip_uses_current_parameters(hashing: PasswordHashing) -> None:
    """ASVS V11.4.2: new hashes are Argon2id PHC strings at m=19456 KiB, t=2, p=1 or more."""
    stored = await hashing.hash(PASSWORD)
    params = argon2.extract_parameters(stored)
    assert stored.startswith("$argon2id$v=19$")
    assert (params.memory_cost, params.time_cost, params.parallelism) == (19456, 2, 1)
    assert PASSWORD not in stored
    assert await hashing.verify(PASSWORD, stored) == VerifyResult(ok=True, needs_rehash=False)


async def test_wrong_password_is_false_not_an_error(hashing: PasswordHashing) -> None:
    """ASVS V6.2.8: a case change or a trailing space fails verification."""
    stored = await hashing.hash(PASSWORD)
    assert await hashing.verify(PASSWORD.upper(), stored) == VerifyResult(False, False)
    assert await hashing.verify(PASSWORD + " ", stored) == VerifyResult(False, False)


async def test_rehash_flagged_when_parameters_change(hashing: PasswordHashing) -> None:
    """ASVS V11.2.2: a correct password on a hash with old parameters asks for an upgrade."""
    stored = await hashing.hash(PASSWORD)
    stronger = PasswordHashing(PasswordSettings(argon2_time_cost=3))
    try:
        assert await stronger.verify(PASSWORD, stored) == VerifyResult(ok=True, needs_rehash=True)
        assert await stronger.verify("wrong password", stored) == VerifyResult(False, False)
    finally:
        stronger.close()
    current = Argon2idHasher(memory_cost=19456, time_cost=2, parallelism=1)
    newer = Argon2idHasher(memory_cost=19456, time_cost=3, parallelism=1)
    assert current.must_update(stored) is False
    assert newer.must_update(stored) is True


async def test_argon2i_hash_verifies_and_is_upgraded(hashing: PasswordHashing) -> None:
    """ASVS V11.2.2: argon2i (not the id variant) is accepted once and flagged for rehash."""
    legacy = argon2.PasswordHasher(type=argon2.Type.I, memory_cost=19456, time_cost=2)
    stored = legacy.hash(PASSWORD)
    assert await hashing.verify(PASSWORD, stored) == VerifyResult(ok=True, needs_rehash=True)


@pytest.mark.parametrize("prefix", [b"2a", b"2b"])
async def test_imported_bcrypt_verifies_and_is_upgraded(
    hashing: PasswordHashing, prefix: bytes
) -> None:
    """ASVS V11.2.2: imported bcrypt hashes verify once and are always rehashed."""
    stored = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4, prefix=prefix)).decode()
    assert await hashing.verify(PASSWORD, stored) == VerifyResult(ok=True, needs_rehash=True)
    assert await hashing.verify("wrong", stored) == VerifyResult(ok=False, needs_rehash=False)


async def test_imported_bcrypt_2y_prefix_verifies(hashing: PasswordHashing) -> None:
    """ASVS V11.2.2: PHP's $2y$ hashes (same algorithm as $2b$) are accepted for migration."""
    stored = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    stored = "$2y$" + stored[4:]
    assert await hashing.verify(PASSWORD, stored) == VerifyResult(ok=True, needs_rehash=True)


def test_bcrypt_refuses_passwords_over_72_bytes_instead_of_truncating() -> None:
    """ASVS V6.2.8: bcrypt would ignore byte 73 onwards; such a password never verifies."""
    long_password = "a" * 72 + "b"
    stored = bcrypt.hashpw(b"a" * 72, bcrypt.gensalt(rounds=4)).decode()
    hasher = BcryptHasher()
    assert hasher.verify("a" * 72, stored) is True
    assert hasher.verify(long_password, stored) is False
    stored_multibyte = bcrypt.hashpw(("é" * 36).encode(), bcrypt.gensalt(rounds=4)).decode()
    assert hasher.verify("é" * 36, stored_multibyte) is True  # 72 bytes
    assert hasher.verify("é" * 37, stored_multibyte) is False  # 74 bytes


async def test_imported_django_pbkdf2_verifies_and_is_upgraded(hashing: PasswordHashing) -> None:
    """ASVS V11.2.2: Django pbkdf2_sha256 hashes verify and are always rehashed."""
    stored = _django_pbkdf2(PASSWORD, "pepperandsalt", 1000)
    assert await hashing.verify(PASSWORD, stored) == VerifyResult(ok=True, needs_rehash=True)
    assert await hashing.verify(PASSWORD + "x", stored) == VerifyResult(False, False)


def test_django_known_hash_string() -> None:
    """A hash made by Django 4.1's make_password("lètmein", "seasalt") verifies."""
    known = "pbkdf2_sha256$390000$seasalt$8xBlGd3jVgvJ+92hWPxi5ww0uuAuAnKgC45eudxro7c="
    hasher = DjangoPbkdf2Hasher()
    assert hasher.identify(known)
    assert hasher.verify("lètmein", known) is True
    assert _django_pbkdf2("lètmein", "seasalt", 390000) == known
    assert hasher.verify("lètmeinz", _django_pbkdf2("lètmein", "seasalt", 1)) is False


def test_django_pbkdf2_refuses_huge_iteration_counts() -> None:
    """A planted hash with 10^7+ iterations is refused before any work (denial of service)."""
    digest = base64.b64encode(b"\0" * 32).decode()
    hasher = DjangoPbkdf2Hasher()
    assert hasher.check("x", f"pbkdf2_sha256$10000001$salt${digest}") is None
    assert hasher.verify("x", f"pbkdf2_sha256$99999999999$salt${digest}") is False


async def test_imported_hash_tries_nfkc_then_raw_form(hashing: PasswordHashing) -> None:
    """A legacy system that hashed the raw (non-NFKC) form still verifies."""
    raw = "ﬁsh and chips"  # U+FB01 LATIN SMALL LIGATURE FI
    stored_raw = bcrypt.hashpw(raw.encode(), bcrypt.gensalt(rounds=4)).decode()
    stored_nfkc = bcrypt.hashpw(b"fish and chips", bcrypt.gensalt(rounds=4)).decode()
    assert (await hashing.verify(raw, stored_raw)).ok
    assert (await hashing.verify(raw, stored_nfkc)).ok
    assert not (await hashing.verify("fish and chips", stored_raw)).ok


async def test_nfkc_ligature_and_plain_letters_verify_the_same(hashing: PasswordHashing) -> None:
    """ASVS V6.2.8: NFKC is applied identically when setting and when verifying."""
    stored = await hashing.hash("ﬁne print matters most")
    assert (await hashing.verify("fine print matters most", stored)).ok
    assert normalise_password("ﬁ") == "fi"


@pytest.mark.parametrize("stored", CORRUPT, ids=CORRUPT_IDS)
async def test_corrupt_hash_fails_closed_and_logs_without_secrets(
    hashing: PasswordHashing, stored: str
) -> None:
    """A corrupt stored hash denies, costs one Argon2 verify, and logs no hash or password."""
    with capture_logs() as logs:
        result = await hashing.verify(PASSWORD, stored)
    assert result == VerifyResult(ok=False, needs_rehash=False)
    assert hashing.calls == 1
    assert [e["event"] for e in logs] == ["auth.password.corrupt_hash"]
    assert logs[0]["log_level"] == "warning"
    text = repr(logs)
    assert PASSWORD not in text
    assert not stored or stored not in text


async def test_null_stored_hash_fails_closed(hashing: PasswordHashing) -> None:
    """A NULL password column (platform-only account) is denied, not a 500."""
    assert await hashing.verify(PASSWORD, None) == VerifyResult(False, False)  # type: ignore[arg-type]


async def test_lone_surrogate_password_does_not_raise(hashing: PasswordHashing) -> None:
    """A lone surrogate from a JSON body is hashed and verified, never a 500."""
    stored = await hashing.hash("abc\ud800def")
    assert (await hashing.verify("abc\ud800def", stored)).ok
    assert not (await hashing.verify("abcdef", stored)).ok


async def test_unknown_user_and_wrong_password_cost_the_same(hashing: PasswordHashing) -> None:
    """ASVS V6.3.8 (equal work): a decoy verify costs exactly one Argon2 verify, like a real one."""
    stored = await hashing.hash(PASSWORD)
    before = hashing.calls
    await hashing.verify("wrong password", stored)
    real = hashing.calls - before
    before = hashing.calls
    await hashing.verify_decoy("wrong password")
    decoy = hashing.calls - before
    assert real == decoy == 1


async def test_overloaded_when_in_flight_exceeds_workers_plus_queue() -> None:
    """Load shedding: beyond hash_workers + hash_queue jobs, Overloaded(503) at once.

    (hash_queue must be >= 1 in the settings model, so the bound here is 1 + 1 = 2.)
    """
    service = PasswordHashing(PasswordSettings(hash_workers=1, hash_queue=1))
    try:
        results = await asyncio.gather(
            *(service.hash(f"{PASSWORD} {i}") for i in range(5)), return_exceptions=True
        )
        shed = [r for r in results if isinstance(r, Overloaded)]
        hashed = [r for r in results if isinstance(r, str)]
        assert len(hashed) == 2
        assert len(shed) == 3
        assert shed[0].retry_after == 1
        assert shed[0].headers() == {"Retry-After": "1"}
        assert service.in_flight == 0
    finally:
        service.close()


@settings(max_examples=200, deadline=None)
@given(stored=st.text(max_size=120), password=st.text(max_size=40))
def test_hashers_never_raise_on_arbitrary_stored_text(stored: str, password: str) -> None:
    """Parsers of stored hashes fail closed on any text: False, never an exception."""
    for hasher in (_ARGON2, BcryptHasher(), DjangoPbkdf2Hasher()):
        assert hasher.verify(password, stored) is False
        assert isinstance(hasher.must_update(stored), bool)


async def test_unusable_password_fails_quietly_with_the_same_work() -> None:
    """An account without a password ('!' marker, platform-only users) never matches, costs
    one Argon2id verify like any failure (no oracle), and logs no corrupt-hash warning."""
    from structlog.testing import capture_logs

    service = PasswordHashing(PasswordSettings(hash_workers=1))
    try:
        before = service.calls
        with capture_logs() as logs:
            result = await service.verify("!abc", "!abc")
        assert result.ok is False and service.calls == before + 1
        assert not [e for e in logs if e.get("event") == "auth.password.corrupt_hash"]
    finally:
        service.close()
