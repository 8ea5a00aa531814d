"""The in-process verified-key cache that makes ``verify`` a dictionary lookup plus one HMAC.

An entry holds a key's stored hash and what a verification needs (state, expiry, allow-list,
principal); unknown ids are cached too (as :data:`MISSING`) so a flood of made-up keys does not
become a flood of queries. Entries live ``ttl`` seconds at most (monotonic clock). A revocation or
rotation evicts the entry on every replica through the hot-state channel ``apikeys``; a read that
raced with an eviction is not stored (the generation counter moved meanwhile).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

from bastion.apikeys._store import StoredKey
from bastion.apikeys._types import ApiKeyPrincipal
from bastion.infra import Clock

__all__ = ["MISSING", "CachedKey", "KeyCache"]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


@lru_cache(maxsize=4096)
def _address(ip: str) -> Address | None:
    """The parsed client address (memoised: parsing costs more than the rest of a verify)."""
    try:
        return ipaddress.ip_address(ip)
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class CachedKey:
    key_hash: bytes
    revoked: bool
    not_after: float | None  # the earlier of expiry and the end of a rotation overlap
    rotated: bool  # not_after comes from a rotation overlap
    networks: tuple[Network, ...]
    principal: ApiKeyPrincipal

    @classmethod
    def of(cls, stored: StoredKey) -> CachedKey:
        info = stored.info
        ends = [t for t in (info.expires_at, info.overlap_until) if t is not None]
        not_after = min(ends) if ends else None
        principal = ApiKeyPrincipal(
            key_id=info.id,
            env=info.env,
            name=info.name,
            scopes=frozenset(info.scopes),
            owner_user_id=info.owner_user_id,
            owner_service=info.owner_service,
            rate=info.rate,
        )
        return cls(
            key_hash=bytes.fromhex(stored.key_hash),
            revoked=info.revoked_at is not None,
            not_after=not_after,
            rotated=info.overlap_until is not None and not_after == info.overlap_until,
            networks=tuple(ipaddress.ip_network(n, strict=False) for n in info.ip_allow),
            principal=principal,
        )

    def allows(self, ip: str | None) -> bool:
        """True without an allow-list; else only for a parsable ``ip`` inside one network."""
        if not self.networks:
            return True
        addr = _address(ip) if ip else None
        return addr is not None and any(addr in net for net in self.networks)


MISSING: Final = "missing"


class KeyCache:
    def __init__(self, clock: Clock, *, ttl: float, max_entries: int = 100_000) -> None:
        self._clock = clock
        self._ttl = ttl
        self._max = max_entries
        self._entries: dict[str, tuple[float, CachedKey | str]] = {}
        self.generation = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key_id: str) -> CachedKey | str | None:
        """The entry (or :data:`MISSING`), or None when absent or older than the TTL."""
        found = self._entries.get(key_id)
        if found is None:
            return None
        if found[0] < self._clock.monotonic():
            self._entries.pop(key_id, None)
            return None
        return found[1]

    def put(self, key_id: str, entry: CachedKey | str, *, generation: int) -> None:
        """Store unless an eviction happened since ``generation`` was read."""
        if generation != self.generation or self._ttl <= 0:
            return
        if len(self._entries) >= self._max:
            self._entries.clear()
        self._entries[key_id] = (self._clock.monotonic() + self._ttl, entry)

    def evict(self, key_id: str) -> None:
        self.generation += 1
        self._entries.pop(key_id, None)

    def clear(self) -> None:
        self.generation += 1
        self._entries.clear()
