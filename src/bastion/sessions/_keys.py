"""The signing keyring: access-token signing keys, their rotation and the public JWKS.

Keys live in ``signing_keys``, private keys only sealed with the master key and bound to their
``kid`` (RFC 7638 thumbprint, re-checked on load). The newest key signs; an older key verifies
until ``grace = access_ttl + leeway + key_refresh`` s after its successor was created (its
tokens' longest life, plus the time a replica may need to notice the successor). Then it leaves
the JWKS, stops verifying at once (checked on every call) and is retired on the next load.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import Iterable, Sequence
from itertools import pairwise
from typing import TYPE_CHECKING, Any, NamedTuple

import structlog
from sqlalchemy import func, insert, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from bastion.config import TokenSettings
from bastion.crypto import (
    MasterKey,
    SigningPrivateKey,
    SigningPublicKey,
    algorithm_of,
    generate_signing_key,
    open_signing_key,
    public_jwk,
    seal_signing_key,
    stored_public_key,
)
from bastion.errors import ConfigError, InvalidInput, StorageUnavailable
from bastion.infra import Clock, Database
from bastion.infra.schema import signing_keys

if TYPE_CHECKING:
    from bastion.monitor import AuditLog

__all__ = ["SigningKey", "SigningKeyring", "trust_windows"]

MAX_KID_LENGTH = 64
UNKNOWN_KID_RELOAD_SECONDS = 1.0
log = structlog.get_logger("bastion.sessions.keys")

_ROW = [signing_keys.c[n] for n in ("kid", "alg", "private_sealed", "public_jwk", "created_at")]
_ACTIVE = signing_keys.c.retired_at.is_(None)


class SigningKey(NamedTuple):
    kid: str
    alg: str
    private_key: SigningPrivateKey


class _Trusted(NamedTuple):
    alg: str
    public_key: SigningPublicKey
    jwk: dict[str, str]
    until: float


def trust_windows(created: Sequence[tuple[str, float]], grace: float) -> dict[str, float]:
    """``kid -> time until which it verifies`` for keys ordered oldest first: the newest key
    forever, every other key until ``grace`` seconds after the next newer key was created."""
    windows = {kid: newer + grace for (kid, _), (_, newer) in pairwise(created)}
    windows.update((kid, math.inf) for kid, _ in created[-1:])
    return windows


async def _lock_keys(conn: AsyncConnection) -> None:
    """Serialise key creation across processes until the transaction ends: a table lock that
    conflicts with itself in PostgreSQL; in SQLite a first (no-op) write takes the write lock."""
    if conn.dialect.name == "postgresql":
        await conn.execute(text("LOCK TABLE signing_keys IN SHARE ROW EXCLUSIVE MODE"))
    else:
        no_op = update(signing_keys).where(signing_keys.c.kid == "").values(alg=signing_keys.c.alg)
        await conn.execute(no_op)


async def _active_rows(conn: AsyncConnection) -> list[Any]:
    query = select(*_ROW).where(_ACTIVE).order_by(signing_keys.c.created_at, signing_keys.c.kid)
    return list((await conn.execute(query)).all())


def _jwks_entry(kid: str, alg: str, key: SigningPublicKey) -> dict[str, str]:
    return {**public_jwk(key), "kid": kid, "alg": alg, "use": "sig"}


def _pinned(kid: str, alg: str, key: SigningPublicKey) -> _Trusted:
    """A verification key trusted with no end; ``alg`` must be the one pinned to its type."""
    if not isinstance(kid, str) or not 0 < len(kid) <= MAX_KID_LENGTH:
        raise ConfigError("each verification key needs a kid of 1-64 characters")
    try:
        pinned = algorithm_of(key)
    except InvalidInput:
        pinned = "an Ed25519 or P-256 public key"
    if alg != pinned:
        raise ConfigError(f"key {kid!r}: alg must be {pinned}")
    return _Trusted(alg, key, _jwks_entry(kid, alg, key), math.inf)


class SigningKeyring:
    """Ordered signing keys with a ``kid``: the newest signs, every trusted key verifies.

    Guarantees: no private key in the clear at rest; concurrent first starts create one key; a
    superseded key stops verifying ``grace`` s after its successor (checked on every call).
    Raises :class:`ConfigError` when a stored key fails its integrity check or cannot be opened
    with the master key; :class:`~bastion.errors.StorageUnavailable` when the database is down.
    """

    def __init__(
        self,
        db: Database,
        master: MasterKey,
        clock: Clock,
        settings: TokenSettings,
        audit: AuditLog | None = None,
    ) -> None:
        self._setup(db, master, clock, settings, audit)

    def _setup(
        self,
        db: Database | None,
        master: MasterKey | None,
        clock: Clock,
        settings: TokenSettings,
        audit: AuditLog | None,
    ) -> None:
        self._db, self._master, self._clock, self._audit = db, master, clock, audit
        t = settings
        self._alg, self._refresh = t.algorithm, float(t.key_refresh_seconds)
        self.grace = float(t.access_ttl_seconds + t.leeway_seconds + t.key_refresh_seconds)
        self._trusted: dict[str, _Trusted] = {}
        self._signing: SigningKey | None = None
        self._loaded_at = self._unknown_reload_at = -math.inf
        self._lock = asyncio.Lock()

    @classmethod
    def for_verification_only(
        cls,
        keys: Iterable[tuple[str, str, SigningPublicKey]],
        clock: Clock,
        settings: TokenSettings,
    ) -> SigningKeyring:
        """A keyring that trusts exactly ``keys`` (``(kid, alg, public_key)``) and never signs,
        e.g. to verify another Bastion's tokens (import its JWKS with ``public_key_from_jwk``).
        No database: ``load``/``reload_*`` do nothing, ``signing_key``/``rotate`` raise.
        Raises :class:`ConfigError` for an empty, duplicate or over-long kid, or an ``alg``
        other than the one pinned to the key's type (EdDSA: Ed25519, ES256: P-256)."""
        ring = cls.__new__(cls)
        ring._setup(None, None, clock, settings, None)
        for kid, alg, key in keys:
            if kid in ring._trusted:
                raise ConfigError("each verification key needs a unique kid")
            ring._trusted[kid] = _pinned(kid, alg, key)
        return ring

    def signing_key(self) -> SigningKey:
        """The newest key. Raises :class:`ConfigError` before :meth:`load` or when verify-only."""
        if self._signing is None:
            raise ConfigError("the signing keyring is not loaded (or only verifies)")
        return self._signing

    def verification_key(self, kid: str) -> tuple[str, SigningPublicKey] | None:
        """``(pinned alg, public key)`` for a kid trusted right now, else ``None``."""
        entry = self._trusted.get(kid)
        return (entry.alg, entry.public_key) if entry and self._clock.now() <= entry.until else None

    def trusts(self, kid: str, now: float) -> bool:
        """Whether ``kid`` verifies at ``now`` (cheap: one dict lookup, for cache hits)."""
        entry = self._trusted.get(kid)
        return entry is not None and now <= entry.until

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        """``{"keys": [...]}``: public JWKs (kid, alg, use=sig) of trusted keys, newest first."""
        now = self._clock.now()
        keys = [e.jwk for e in reversed(self._trusted.values()) if now <= e.until]
        return {"keys": keys}

    async def load(self) -> None:
        """Read the active keys; on an empty table create the first key (exactly once across
        processes). Marks keys past their trust window as retired."""
        async with self._lock:
            await self._load_locked()

    async def reload_if_stale(self) -> None:
        """Reload when the last load is ``key_refresh_seconds`` old (monotonic clock). With the
        database down, keep verifying with the keys in memory and retry after the interval."""
        if self._db is None or not self._stale():
            return
        async with self._lock:
            if self._stale():
                try:
                    await self._load_locked()
                except StorageUnavailable:
                    self._loaded_at = self._clock.monotonic()
                    log.warning("keys.reload_failed")

    async def reload_for_unknown_kid(self) -> bool:
        """Reload at most once a second, so a key rotated by another replica is picked up
        without letting unknown kids drive database reads. Returns whether it reloaded."""
        now = self._clock.monotonic()
        if self._db is None or now - self._unknown_reload_at < UNKNOWN_KID_RELOAD_SECONDS:
            return False
        self._unknown_reload_at = now
        await self.load()
        return True

    def _stale(self) -> bool:
        return self._clock.monotonic() - self._loaded_at >= self._refresh

    async def _load_locked(self) -> None:
        db = self._db
        if db is None:
            return
        async with db.connect() as conn:
            rows = await _active_rows(conn)
        if not rows:
            with contextlib.suppress(IntegrityError):  # lost a race on the same kid: reload
                await self._add_key(db, "keys.create_signing", "first_start", only_if_empty=True)
            async with db.connect() as conn:
                rows = await _active_rows(conn)
        if not rows:
            raise ConfigError("no signing key could be created")
        expired = self._install(rows)
        if expired:
            async with db.begin() as conn:
                retire = update(signing_keys).where(signing_keys.c.kid.in_(expired), _ACTIVE)
                await conn.execute(retire.values(retired_at=self._clock.now()))
            log.info("keys.retire_signing", kids=expired)
        self._loaded_at = self._clock.monotonic()

    def _install(self, rows: list[Any]) -> list[str]:
        """Build the trusted set from rows (oldest first); returns the kids past their window."""
        now = self._clock.now()
        windows = trust_windows([(r.kid, r.created_at) for r in rows], self.grace)
        trusted = {
            r.kid: self._trusted_row(r, windows[r.kid]) for r in rows if now <= windows[r.kid]
        }
        newest = rows[-1]
        if self._signing is None or self._signing.kid != newest.kid:
            self._signing = SigningKey(newest.kid, newest.alg, self._open_private(newest))
        self._trusted = trusted
        return [r.kid for r in rows if r.kid not in trusted]

    def _trusted_row(self, row: Any, until: float) -> _Trusted:
        try:
            key = stored_public_key(row.public_jwk, row.kid, row.alg)
        except InvalidInput:
            raise ConfigError(f"signing key {row.kid!r} failed its integrity check") from None
        return _Trusted(row.alg, key, _jwks_entry(row.kid, row.alg, key), until)

    def _open_private(self, row: Any) -> SigningPrivateKey:
        assert self._master is not None
        try:
            return open_signing_key(self._master, row.private_sealed, row.kid, row.alg)
        except InvalidInput:
            msg = f"signing key {row.kid!r} cannot be opened: wrong master key or tampered row"
            raise ConfigError(msg) from None

    async def rotate(self, *, reason: str = "operator") -> str:
        """Add a key of the configured algorithm that signs from now on (no downtime: the
        previous key keeps verifying for ``grace`` seconds), reload, audit
        ``keys.rotate_signing``; returns the new kid. :class:`ConfigError` if verify-only."""
        if self._db is None:
            raise ConfigError("this keyring only verifies; it cannot create keys")
        kid = await self._add_key(self._db, "keys.rotate_signing", reason, only_if_empty=False)
        assert kid is not None
        await self.load()
        return kid

    async def _add_key(
        self, db: Database, action: str, reason: str, *, only_if_empty: bool
    ) -> str | None:
        """Insert a key under the cross-process lock; with ``only_if_empty`` only if no active
        key exists by the time the lock is held (another process may have created one)."""
        assert self._master is not None
        async with db.begin() as conn:
            await _lock_keys(conn)
            newest = (
                await conn.execute(select(func.max(signing_keys.c.created_at)).where(_ACTIVE))
            ).scalar()
            if only_if_empty and newest is not None:
                return None
            # created_at strictly increases: "newest" is never ambiguous, even if clocks step back.
            created = max(self._clock.now(), (newest or 0.0) + 0.001)
            kid, sealed, jwk = seal_signing_key(self._master, generate_signing_key(self._alg))
            row = {"kid": kid, "alg": self._alg, "private_sealed": sealed, "public_jwk": jwk}
            await conn.execute(insert(signing_keys).values(**row, created_at=created))
            if self._audit is not None:
                info = {"kid": kid, "alg": self._alg}
                await self._audit.record(action, "success", reason=reason, details=info, conn=conn)
        log.info(action, kid=kid, alg=self._alg)
        return kid
