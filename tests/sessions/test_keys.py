"""The signing keyring over SQLite and PostgreSQL: first start, reuse, rotation windows,
sealed storage, replicas picking up rotations, and verification-only keyrings."""

from __future__ import annotations

import asyncio
import json

import jwt
import pytest
from sqlalchemy import func, select, update

from bastion.config import TokenSettings
from bastion.crypto import MasterKey
from bastion.crypto._signing_keys import generate_signing_key, jwk_thumbprint, public_jwk
from bastion.errors import ConfigError, InvalidToken, StorageUnavailable
from bastion.infra import Database, ManualClock
from bastion.infra.schema import signing_keys
from bastion.monitor import AuditLog
from bastion.sessions._keys import SigningKeyring, trust_windows
from bastion.sessions._tokens import TokenService

SETTINGS = TokenSettings()
GRACE = SETTINGS.access_ttl_seconds + SETTINGS.leeway_seconds + SETTINGS.key_refresh_seconds


def _ring(db: Database, master: MasterKey, clock: ManualClock) -> SigningKeyring:
    return SigningKeyring(db, master, clock, SETTINGS)


async def _rows(db: Database) -> list[dict[str, object]]:
    async with db.connect() as conn:
        result = await conn.execute(select(signing_keys).order_by(signing_keys.c.created_at))
        return [dict(r) for r in result.mappings()]


def _kids(ring: SigningKeyring) -> list[str]:
    return [k["kid"] for k in ring.jwks()["keys"]]


def _long_lived(ring: SigningKeyring, clock: ManualClock, days: int = 30) -> str:
    """A correctly signed token that outlives its key's window (as only a key holder can make)."""
    key = ring.signing_key()
    now = int(clock.now())
    claims = {
        "iss": "bastion",
        "aud": "bastion",
        "sub": "u1",
        "sid": "s1",
        "iat": now,
        "nbf": now,
        "exp": now + days * 86400,
        "jti": "j1",
        "scope": "",
        "amr": ["pwd"],
    }
    return jwt.encode(
        claims, key.private_key, algorithm=key.alg, headers={"kid": key.kid, "typ": "at+jwt"}
    )


async def test_first_load_generates_one_key(
    any_db: Database, master_key: MasterKey, clock: ManualClock
) -> None:
    ring = _ring(any_db, master_key, clock)
    await ring.load()
    key = ring.signing_key()
    rows = await _rows(any_db)
    assert [r["kid"] for r in rows] == [key.kid]
    assert key.alg == rows[0]["alg"] == "EdDSA"
    [jwk] = ring.jwks()["keys"]
    assert jwk["kid"] == key.kid and jwk["alg"] == "EdDSA" and jwk["use"] == "sig"
    assert jwk["kty"] == "OKP" and jwk["crv"] == "Ed25519" and "d" not in jwk
    assert jwk_thumbprint(jwk) == key.kid  # RFC 7638 kid


async def test_second_load_reuses_the_key(
    any_db: Database, master_key: MasterKey, clock: ManualClock
) -> None:
    first = _ring(any_db, master_key, clock)
    await first.load()
    second = _ring(any_db, master_key, clock)
    await second.load()
    assert second.signing_key().kid == first.signing_key().kid
    assert len(await _rows(any_db)) == 1


async def test_concurrent_first_start_creates_exactly_one_key(
    any_db: Database, master_key: MasterKey, clock: ManualClock
) -> None:
    """ASVS V11.1.1: two processes (two engines) starting on an empty table agree on one key."""
    other_db = Database(any_db.url, pool_size=2)
    try:
        rings = [
            _ring(any_db, master_key, clock),
            _ring(other_db, master_key, clock),
            _ring(any_db, master_key, clock),
        ]
        await asyncio.gather(*(r.load() for r in rings))
    finally:
        await other_db.close()
    assert len({r.signing_key().kid for r in rings}) == 1
    assert len(await _rows(any_db)) == 1


async def test_private_key_is_sealed_at_rest(
    any_db: Database, master_key: MasterKey, clock: ManualClock
) -> None:
    """ASVS V13.3.1 / V11.1.1: the private key is stored only sealed with the master key."""
    ring = _ring(any_db, master_key, clock)
    await ring.load()
    [row] = await _rows(any_db)
    sealed = row["private_sealed"]
    assert isinstance(sealed, bytes)
    assert b"PRIVATE KEY" not in sealed and b"-----BEGIN" not in sealed
    pem = master_key.open(sealed, purpose="bastion/signing-key/v1", context=ring.signing_key().kid)
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----")
    assert "d" not in json.loads(str(row["public_jwk"]))
    with pytest.raises(ConfigError):  # another master key cannot open it: start-up stops
        await _ring(any_db, MasterKey(b"\x08" * 32), clock).load()


async def test_a_swapped_public_key_stops_start_up(
    any_db: Database, master_key: MasterKey, clock: ManualClock
) -> None:
    ring = _ring(any_db, master_key, clock)
    await ring.load()
    other = generate_signing_key("EdDSA").public_key()
    async with any_db.begin() as conn:
        await conn.execute(update(signing_keys).values(public_jwk=json.dumps(public_jwk(other))))
    with pytest.raises(ConfigError, match="integrity"):
        await _ring(any_db, master_key, clock).load()


async def test_rotation_keeps_the_old_key_until_its_tokens_expired(
    any_db: Database, master_key: MasterKey, clock: ManualClock
) -> None:
    """ASVS V9.1.3: only keys from our keyring verify; a superseded key verifies for
    access_ttl + leeway (+ key refresh) after rotation, then leaves the JWKS and fails."""
    ring = _ring(any_db, master_key, clock)
    await ring.load()
    tokens = TokenService(ring, clock, SETTINGS)
    old = ring.signing_key().kid
    forged_by_old_key = _long_lived(ring, clock)
    clock.advance(100)
    new = await ring.rotate()
    assert new != old and ring.signing_key().kid == new
    assert _kids(ring) == [new, old]
    assert (await tokens.verify(forged_by_old_key)).subject == "u1"
    token, _ = tokens.issue(subject="u2", session_id="s2", scopes=["a"], amr=["pwd"])
    assert token.split(".")[0] != forged_by_old_key.split(".")[0]  # header names the new kid
    clock.advance(GRACE)  # exactly at the end of the window: still trusted
    assert ring.verification_key(old) is not None
    clock.advance(1)
    assert ring.verification_key(old) is None
    assert _kids(ring) == [new]
    assert tokens.verify_cached(forged_by_old_key) is None  # the warm cache entry is dropped
    assert [r["retired_at"] for r in await _rows(any_db)] == [None, None]
    with pytest.raises(InvalidToken) as info:
        await tokens.verify(forged_by_old_key)  # unknown kid: reloads, which retires the key
    assert info.value.reason == "unknown_kid"
    assert [r["retired_at"] is not None for r in await _rows(any_db)] == [True, False]


async def test_token_from_a_replica_that_missed_the_rotation_verifies_until_it_expires(
    any_db: Database, master_key: MasterKey, clock: ManualClock
) -> None:
    """A replica signs with the old key until its next refresh; those tokens stay valid."""
    rotating, lagging = _ring(any_db, master_key, clock), _ring(any_db, master_key, clock)
    await rotating.load()
    await lagging.load()
    await rotating.rotate()
    clock.advance(SETTINGS.key_refresh_seconds - 1)  # the lagging replica has not reloaded yet
    late, claims = TokenService(lagging, clock, SETTINGS).issue(
        subject="u", session_id="s", scopes=[], amr=["pwd"]
    )
    verifier = TokenService(rotating, clock, SETTINGS)
    clock.set(claims.expires_at + SETTINGS.leeway_seconds - 1)
    assert (await verifier.verify(late)).subject == "u"
    clock.advance(1)
    with pytest.raises(InvalidToken):
        await verifier.verify(late)


async def test_rotate_retires_keys_past_their_window(
    any_db: Database, master_key: MasterKey, clock: ManualClock
) -> None:
    ring = _ring(any_db, master_key, clock)
    await ring.load()
    first = ring.signing_key().kid
    second = await ring.rotate()
    clock.advance(GRACE + 1)
    third = await ring.rotate()
    retired = {r["kid"]: r["retired_at"] for r in await _rows(any_db)}
    assert retired[first] is not None and retired[second] is None and retired[third] is None
    assert _kids(ring) == [third, second]


async def test_rotations_at_the_same_instant_have_a_clear_newest(
    any_db: Database, master_key: MasterKey, clock: ManualClock
) -> None:
    ring = _ring(any_db, master_key, clock)
    await ring.load()
    kids = [await ring.rotate() for _ in range(3)]
    assert ring.signing_key().kid == kids[-1]
    assert _kids(ring)[0] == kids[-1]


async def test_es256_keys(any_db: Database, master_key: MasterKey, clock: ManualClock) -> None:
    """ASVS V11.2.2: the algorithm is a setting (ES256 instead of EdDSA) and round-trips."""
    settings = TokenSettings(algorithm="ES256")
    ring = SigningKeyring(any_db, master_key, clock, settings)
    await ring.load()
    [jwk] = ring.jwks()["keys"]
    assert (jwk["kty"], jwk["crv"], jwk["alg"]) == ("EC", "P-256", "ES256")
    tokens = TokenService(ring, clock, settings)
    token, claims = tokens.issue(subject="u", session_id="s", scopes=["x"], amr=["pwd"])
    assert jwt.get_unverified_header(token)["alg"] == "ES256"
    assert await tokens.verify(token) == claims
    await SigningKeyring(any_db, master_key, clock, settings).load()  # reload reads it back


async def test_reload_if_stale_picks_up_another_replicas_rotation(
    any_db: Database, master_key: MasterKey, clock: ManualClock
) -> None:
    mine, theirs = _ring(any_db, master_key, clock), _ring(any_db, master_key, clock)
    await mine.load()
    await theirs.load()
    new = await theirs.rotate()
    clock.advance(SETTINGS.key_refresh_seconds - 1)
    await mine.reload_if_stale()
    assert mine.signing_key().kid != new
    clock.advance(1)
    await mine.reload_if_stale()
    assert mine.signing_key().kid == new


async def test_unknown_kid_reload_is_rate_limited(
    any_db: Database, master_key: MasterKey, clock: ManualClock
) -> None:
    """An unknown kid reloads the keyring at most once a second (no DB amplification)."""
    mine, theirs = _ring(any_db, master_key, clock), _ring(any_db, master_key, clock)
    await mine.load()
    await theirs.load()
    await theirs.rotate()
    token, _ = TokenService(theirs, clock, SETTINGS).issue(
        subject="u", session_id="s", scopes=[], amr=[]
    )
    assert (await TokenService(mine, clock, SETTINGS).verify(token)).subject == "u"
    assert await mine.reload_for_unknown_kid() is False
    clock.advance(0.5)
    assert await mine.reload_for_unknown_kid() is False
    clock.advance(0.5)
    assert await mine.reload_for_unknown_kid() is True


async def test_creation_and_rotation_are_audited(
    any_db: Database, master_key: MasterKey, clock: ManualClock
) -> None:
    """ASVS V16.3.3 / V11.1.1: key lifecycle events land in the audit chain."""
    audit = AuditLog(any_db, master_key, clock)
    ring = SigningKeyring(any_db, master_key, clock, SETTINGS, audit=audit)
    await ring.load()
    first = ring.signing_key().kid
    new = await ring.rotate(reason="scheduled")
    events = await audit.tail(10)
    assert [(e.action, e.outcome, e.reason) for e in events] == [
        ("keys.create_signing", "success", "first_start"),
        ("keys.rotate_signing", "success", "scheduled"),
    ]
    assert events[0].details == {"kid": first, "alg": "EdDSA"}
    assert events[1].details == {"kid": new, "alg": "EdDSA"}
    assert (await audit.verify()).ok


def test_trust_windows() -> None:
    assert trust_windows([], 10) == {}
    assert trust_windows([("a", 5.0)], 10) == {"a": float("inf")}
    assert trust_windows([("a", 5.0), ("b", 7.0), ("c", 100.0)], 10) == {
        "a": 17.0,
        "b": 110.0,
        "c": float("inf"),
    }


def test_verification_only_keyring(clock: ManualClock) -> None:
    key = generate_signing_key("ES256").public_key()
    ring = SigningKeyring.for_verification_only([("k1", "ES256", key)], clock, SETTINGS)
    assert ring.verification_key("k1") == ("ES256", key)
    assert ring.verification_key("k2") is None
    assert _kids(ring) == ["k1"]
    with pytest.raises(ConfigError):
        ring.signing_key()
    with pytest.raises(ConfigError):
        asyncio.run(ring.rotate())


@pytest.mark.parametrize(
    "keys",
    [
        [("k1", "EdDSA", "P256")],  # alg not pinned to the key type
        [("k1", "ES256", "P256"), ("k1", "ES256", "P256")],  # duplicate kid
        [("", "ES256", "P256")],
        [("k" * 65, "ES256", "P256")],
    ],
    ids=["alg-mismatch", "duplicate-kid", "empty-kid", "long-kid"],
)
def test_verification_only_keyring_rejects_bad_keys(
    clock: ManualClock, keys: list[tuple[str, str, str]]
) -> None:
    public = generate_signing_key("ES256").public_key()
    with pytest.raises(ConfigError):
        SigningKeyring.for_verification_only([(k, a, public) for k, a, _ in keys], clock, SETTINGS)


async def test_only_one_row_per_start_even_after_many_loads(
    db: Database, master_key: MasterKey, clock: ManualClock
) -> None:
    ring = _ring(db, master_key, clock)
    for _ in range(3):
        await ring.load()
        clock.advance(SETTINGS.key_refresh_seconds)
        await ring.reload_if_stale()
    async with db.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(signing_keys))).scalar() == 1


async def test_stale_reload_with_the_database_down_keeps_the_loaded_keys(
    db: Database, master_key: MasterKey, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ASVS V16.3.4: token checks survive a database outage with the keys already loaded (the
    failure is logged) and the reload is retried once per interval, not on every request."""
    ring = _ring(db, master_key, clock)
    await ring.load()
    tokens = TokenService(ring, clock, SETTINGS)
    token, claims = tokens.issue(subject="u", session_id="s", scopes=[], amr=[])
    attempts: list[int] = []

    def down() -> object:
        attempts.append(1)
        raise StorageUnavailable

    monkeypatch.setattr(db, "connect", down)
    clock.advance(SETTINGS.key_refresh_seconds)
    assert await tokens.verify(token) == claims  # stale: one reload attempt, which fails
    await ring.reload_if_stale()  # not retried before the next interval
    assert len(attempts) == 1
    clock.advance(SETTINGS.key_refresh_seconds)
    await ring.reload_if_stale()
    assert len(attempts) == 2
