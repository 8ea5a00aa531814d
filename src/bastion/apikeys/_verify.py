"""The verification half of :class:`~bastion.apikeys.ApiKeys`: the hot path, the verified-key
cache, revocation messages and the last-used bookkeeping.

Every failure is the same opaque :class:`InvalidToken` after the same work: one HMAC-SHA256 of
the presented key (of the raw text when it is malformed, against a dummy hash when the id is
unknown) and one :func:`hmac.compare_digest`. The reason goes to the (sampled) audit log only.
"""

from __future__ import annotations

import hmac

import structlog

from bastion.apikeys._cache import MISSING, CachedKey, KeyCache
from bastion.apikeys._format import MAX_KEY_CHARS, parse_key
from bastion.apikeys._store import ApiKeyStore
from bastion.apikeys._types import ApiKeyPrincipal
from bastion.crypto import HmacKey, MasterKey
from bastion.errors import InvalidToken, StorageUnavailable
from bastion.infra import Clock, Database, HotState
from bastion.monitor import AuditLog

__all__ = ["KeyVerification"]

PEPPER_PURPOSE = "bastion/apikey-pepper/v1"
CHANNEL = "apikeys"
LAST_USED_FLUSH_SECONDS = 60.0
log = structlog.get_logger("bastion.apikeys")


class PepperMac:
    """HMAC-SHA256 under the pepper, keyed once (:class:`bastion.crypto.HmacKey`): the very
    MAC of ``hmac.digest(key, message, "sha256")`` without setting the key up on every call.
    Verification runs on every request; this halves its cost."""

    __slots__ = ("_key",)

    def __init__(self, key: bytes) -> None:
        self._key = HmacKey(key)

    def __repr__(self) -> str:
        return "PepperMac(...)"

    def digest(self, message: bytes) -> bytes:
        return self._key.mac(message)


class KeyVerification:
    """Construct with the database, hot state, clock, master key and audit log;
    ``cache_ttl=0`` turns the verified-key cache off."""

    def __init__(
        self,
        db: Database,
        hot: HotState,
        clock: Clock,
        master: MasterKey,
        audit: AuditLog,
        *,
        cache_ttl: float = 30.0,
    ) -> None:
        self._db = db
        self._hot = hot
        self._clock = clock
        self._audit = audit
        self._mac = PepperMac(master.derive(PEPPER_PURPOSE))
        self._dummy = self._hash("bst_dummy")
        self._store = ApiKeyStore(db)
        self.cache = KeyCache(clock, ttl=cache_ttl)
        self._used: dict[str, float] = {}
        self._flushed: dict[str, float] = {}
        self._watermark = clock.now()

    def _hash(self, body: str) -> bytes:
        return self._mac.digest(body.encode("utf-8", "replace"))

    async def start(self) -> None:
        """Listen for revocations and rotations published by every replica."""
        self._watermark = self._clock.now()
        await self._hot.subscribe(CHANNEL, self._on_message)

    async def _on_message(self, message: str) -> None:
        if message == "*resync":
            self.cache.clear()
        elif message:
            self.cache.evict(message)

    async def poll(self) -> None:
        """Evict keys revoked since the last poll (5 s of slack for clock skew). Run it every
        second: the safety net for a lost subscription or another process's revocation."""
        for key_id, revoked_at in await self._store.revoked_since(self._watermark - 5.0):
            self._watermark = max(self._watermark, revoked_at)
            self.cache.evict(key_id)

    async def _announce(self, key_id: str) -> None:
        """Evict here at once, then tell every other replica."""
        self.cache.evict(key_id)
        try:
            await self._hot.publish(CHANNEL, key_id)
        except StorageUnavailable:
            log.warning("apikeys.publish_failed", key=key_id)  # the row counts; others poll

    async def verify(self, full_key: str, *, ip: str | None) -> ApiKeyPrincipal:
        """The principal of a live key presented from ``ip`` (checked against its allow-list).

        Raises :class:`InvalidToken` (always the same public message) when the key is
        malformed, fails its checksum, names an unknown id, has a wrong secret, is revoked,
        expired or past its rotation overlap, or ``ip`` is not allowed; the failure is audited
        (sampled per reason and client network). Fails closed."""
        try:
            try:
                parsed = parse_key(full_key)
            except InvalidToken:
                hmac.compare_digest(self._hash(full_key[:MAX_KEY_CHARS]), self._dummy)
                raise
            # One HMAC and one comparison on every path; the store is read only on a miss.
            digest = self._hash(parsed.unverified_body)
            entry = self.cache.get(parsed.unverified_id)
            if entry is None:
                entry = await self._load(parsed.unverified_id)
            return self._live(self._checked(digest, entry), ip)
        except InvalidToken as exc:
            reason = exc.reason or "invalid"
            await self._audit.record_denied("apikey.rejected", reason=reason, ip=ip)
            raise

    def _live(self, entry: CachedKey, ip: str | None) -> ApiKeyPrincipal:
        now = self._clock.now()
        if entry.revoked:
            raise InvalidToken(reason="revoked")
        if entry.not_after is not None and now >= entry.not_after:
            raise InvalidToken(reason="rotated" if entry.rotated else "expired")
        if not entry.allows(ip):
            raise InvalidToken(reason="ip_not_allowed")
        self._used[entry.principal.key_id] = now
        return entry.principal

    async def verify_key_id(self, key_id: str, *, ip: str | None) -> ApiKeyPrincipal:
        """The principal of the live key ``key_id`` presented from ``ip``, for a caller that
        has already authenticated the key's holder another way (a request signed with the
        key's derived signing secret). Same state checks as :meth:`verify`: raises
        :class:`InvalidToken` for an unknown, revoked, expired or rotated-out key or a client
        outside its allow-list. Not audited here; the caller audits its own decision."""
        entry = self.cache.get(key_id)
        if entry is None:
            entry = await self._load(key_id)
        if not isinstance(entry, CachedKey):
            raise InvalidToken(reason="unknown_id")
        return self._live(entry, ip)

    async def _load(self, key_id: str) -> CachedKey | str:
        """The entry of ``key_id`` from the store (:data:`MISSING` when unknown), cached."""
        generation = self.cache.generation
        stored = await self._store.get(key_id)
        entry = MISSING if stored is None else CachedKey.of(stored)
        self.cache.put(key_id, entry, generation=generation)
        return entry

    def _checked(self, digest: bytes, entry: CachedKey | str) -> CachedKey:
        """``entry`` when ``digest`` matches its hash; compared against a dummy when the id is
        unknown, so both failures cost the same."""
        if not isinstance(entry, CachedKey):
            hmac.compare_digest(digest, self._dummy)
            raise InvalidToken(reason="unknown_id")
        if not hmac.compare_digest(digest, entry.key_hash):
            raise InvalidToken(reason="bad_secret")
        return entry

    async def flush_last_used(self) -> int:
        """Write the last-used times not written for a minute; returns how many were written.
        Run it periodically (every few seconds): verification itself never writes."""
        now = self._clock.now()
        due = {
            k: t
            for k, t in self._used.items()
            if now - self._flushed.get(k, float("-inf")) >= LAST_USED_FLUSH_SECONDS
        }
        if not due:
            return 0
        await self._store.write_last_used(due)
        for key_id in due:
            self._flushed[key_id] = now
            self._used.pop(key_id, None)
        return len(due)

    def _last_used(self, key_id: str, stored: float | None) -> float | None:
        pending = self._used.get(key_id)
        if pending is None:
            return stored
        return pending if stored is None else max(pending, stored)
