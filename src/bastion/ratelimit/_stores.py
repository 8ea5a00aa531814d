"""Where GCRA state lives: a :class:`RateLimitStore` protocol, a bounded in-process store and a
Redis store whose whole decision is one atomic Lua call (one round trip).

Both take ``now`` from the caller rather than reading a clock: the :class:`Limiter` reads its
injected clock once per decision, so tests move time with a ``ManualClock`` and every backend
sees the same instant. Redis ``TIME`` is deliberately not used: it would make the Redis store
the only one tests cannot drive, and replicas already share NTP-synchronised wall clocks;
a skew of ``s`` between replicas can at worst shift a key's budget by ``s * rate`` units.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Sequence
from importlib import resources
from typing import Any, Protocol

from bastion.errors import ConfigError, StorageUnavailable
from bastion.ratelimit._gcra import Verdict, gcra, gcra_all
from bastion.ratelimit._rate import Rate

__all__ = ["MemoryRateLimitStore", "RateLimitStore", "RedisRateLimitStore"]


class RateLimitStore(Protocol):
    """Spend ``cost`` units of every rate under ``key`` at ``now`` (µs), atomically."""

    async def acquire(
        self, key: str, rates: Sequence[Rate], cost: int, now: int
    ) -> tuple[bool, tuple[Verdict, ...]]:
        """Return ``(allowed, verdicts)``, one verdict per rate in order; state changes only
        when every rate admits the cost. Raises :class:`StorageUnavailable` on backend faults."""
        ...

    async def check(self) -> None:
        """Health probe for ``/readyz``; raises :class:`StorageUnavailable` when unusable."""
        ...


class MemoryRateLimitStore:
    """GCRA state in this process: exact for one process, bounded to ``max_keys`` entries.

    Entries whose TAT has passed carry no information (they equal a fresh key): each time a
    new key is stored, the least recently used entry is dropped if it has expired; when the
    store is full of live keys the least recently used one is evicted, which at worst forgets
    one idle client's spent budget. Safe within one event loop (no await inside a decision).
    """

    def __init__(self, *, max_keys: int = 100_000) -> None:
        if max_keys < 1:
            raise ConfigError("ratelimit memory store max_keys must be at least 1")
        self._max_keys = max_keys
        self._tats: OrderedDict[str, int] = OrderedDict()

    def __len__(self) -> int:
        return len(self._tats)

    async def acquire(
        self, key: str, rates: Sequence[Rate], cost: int, now: int
    ) -> tuple[bool, tuple[Verdict, ...]]:
        tats = self._tats
        if len(rates) == 1:  # the common case, kept short: this is the in-process hot path
            name = key + "|" + rates[0].slug
            tat = tats.get(name)
            verdict = gcra(tat, now, rates[0], cost)
            if verdict.allowed and cost > 0:
                tats[name] = verdict.tat
                if tat is None:
                    self._evict(now)
                else:
                    tats.move_to_end(name)
            return verdict.allowed, (verdict,)
        names = [key + "|" + rate.slug for rate in rates]
        allowed, verdicts = gcra_all([tats.get(n) for n in names], now, rates, cost)
        if allowed and cost > 0:
            for name, verdict in zip(names, verdicts, strict=True):
                tats[name] = verdict.tat
                tats.move_to_end(name)
            self._evict(now)  # sweeps on every multi-rate write: rarer, and still O(1)
        return allowed, verdicts

    def _evict(self, now: int) -> None:
        tats = self._tats
        oldest = next(iter(tats))  # amortised sweep: the least recently used is likeliest expired
        if tats[oldest] <= now:
            del tats[oldest]
        while len(tats) > self._max_keys:
            tats.popitem(last=False)

    async def check(self) -> None:
        return None


def _script() -> str:
    return resources.files("bastion.ratelimit").joinpath("lua/gcra.lua").read_text("utf-8")


class RedisRateLimitStore:
    """GCRA state in Redis, shared by every replica and process.

    One decision is one ``EVALSHA`` of ``lua/gcra.lua``: every rate is checked and, only if
    all pass, every TAT is written, atomically. The keys of one decision share a hash tag,
    so the script also runs on Redis Cluster. Keys expire when their TAT passes.
    """

    def __init__(self, client: Any, *, prefix: str = "bastion:rl:") -> None:
        self._redis = client
        self._prefix = prefix
        self._gcra = client.register_script(_script())

    @classmethod
    def from_url(cls, url: str, *, prefix: str = "bastion:rl:") -> RedisRateLimitStore:
        """Connect lazily to ``url`` with short timeouts (a slow Redis must not stall requests)."""
        import redis.asyncio as redis

        client = redis.Redis.from_url(
            url, socket_timeout=1.0, socket_connect_timeout=1.0, health_check_interval=15
        )
        return cls(client, prefix=prefix)

    @property
    def client(self) -> Any:
        """The underlying ``redis.asyncio.Redis`` (for benchmarks and health wiring)."""
        return self._redis

    async def _call(self, awaitable: Awaitable[Any]) -> Any:
        import redis.exceptions

        try:
            return await awaitable
        except (redis.exceptions.RedisError, OSError) as exc:
            raise StorageUnavailable from exc

    async def acquire(
        self, key: str, rates: Sequence[Rate], cost: int, now: int
    ) -> tuple[bool, tuple[Verdict, ...]]:
        keys = [f"{self._prefix}{{{key}}}|{rate.slug}" for rate in rates]
        args: list[int] = [now, cost]
        for rate in rates:
            args += (rate.interval_us, rate.burst)
        reply = await self._call(self._eval(keys, args))
        tats = [None if int(t) < 0 else int(t) for t in reply[1:]]
        allowed, verdicts = gcra_all(tats, now, rates, cost)
        if allowed != bool(int(reply[0])):  # the script and gcra_all are the same arithmetic
            raise StorageUnavailable("rate limit script and local arithmetic disagree")
        return allowed, verdicts

    async def _eval(self, keys: list[str], args: list[int]) -> Any:
        """``EVALSHA`` straight on the client (the script object's wrapper costs ~9 µs a
        call); a server that lost its script cache gets it again once."""
        import redis.exceptions

        try:
            return await self._redis.evalsha(self._gcra.sha, len(keys), *keys, *args)
        except redis.exceptions.NoScriptError:
            self._gcra.sha = await self._redis.script_load(self._gcra.script)
            return await self._redis.evalsha(self._gcra.sha, len(keys), *keys, *args)

    async def check(self) -> None:
        await self._call(self._redis.ping())

    async def close(self) -> None:
        await self._call(self._redis.aclose())
