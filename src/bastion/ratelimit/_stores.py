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
from collections.abc import Sequence
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

    async def acquire_many(
        self, checks: Sequence[tuple[str, Sequence[Rate], int]], now: int
    ) -> list[tuple[bool, tuple[Verdict, ...]]]:
        """Several independent decisions ``(key, rates, cost)``, in order (see the Redis
        store's, which sends them in one round trip)."""
        return [await self.acquire(key, rates, cost, now) for key, rates, cost in checks]

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


_TAILS_MAX = 1024


def _decided(
    reply: bytes | str, rates: tuple[Rate, ...], cost: int, now: int
) -> tuple[bool, tuple[Verdict, ...]]:
    """The decision of one script reply, recomputed locally from the TATs it read."""
    # a missing TAT comes back as -1: before now, which gcra reads as a fresh key
    applied, *tats = map(int, reply.split())
    allowed, verdicts = gcra_all(tats, now, rates, cost)
    if allowed != (applied == 1):  # the script and gcra_all are the same arithmetic
        raise StorageUnavailable("rate limit script and local arithmetic disagree")
    return allowed, verdicts


class RedisRateLimitStore:
    """GCRA state in Redis, shared by every replica and process.

    One decision is one ``EVALSHA`` of ``lua/gcra.lua`` on one hash per client and policy,
    a field per rate: every rate is checked and, only if all pass, every TAT is written,
    atomically (one key, so the script also runs on Redis Cluster). The key lives until its
    latest TAT has passed, plus a bounded slack that spares most decisions a ``PEXPIRE``.

    The client side is kept lean because it is most of a decision's cost: the arguments
    that depend only on the rates and the cost are encoded once, the command goes straight
    to ``execute_command`` (the script object's wrapper costs ~9 µs a call) and the reply
    is one short string (an array reply costs the pure-Python parser several µs more).
    """

    def __init__(self, client: Any, *, prefix: str = "bastion:rl:") -> None:
        import redis.exceptions

        self._redis = client
        self._prefix = prefix
        self._gcra = client.register_script(_script())
        self._sha: bytes = self._gcra.sha.encode()
        self._faults = (redis.exceptions.RedisError, OSError)
        self._noscript = redis.exceptions.NoScriptError
        self._tails: dict[tuple[tuple[Rate, ...], int], tuple[bytes, ...]] = {}

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

    def _tail(self, rates: tuple[Rate, ...], cost: int) -> tuple[bytes, ...]:
        """The script arguments after ``now``: each rate's field, then its increment and
        tolerance. Policies have a handful of (rates, cost) pairs; bounded anyway."""
        tail = [rate.slug.encode() for rate in rates]
        for rate in rates:
            tail += (b"%d" % (rate.interval_us * cost), b"%d" % rate.tolerance_us)
        if len(self._tails) >= _TAILS_MAX:
            self._tails.clear()
        spec = self._tails[rates, cost] = tuple(tail)
        return spec

    async def acquire(
        self, key: str, rates: Sequence[Rate], cost: int, now: int
    ) -> tuple[bool, tuple[Verdict, ...]]:
        if not isinstance(rates, tuple):
            rates = tuple(rates)
        tail = self._tails.get((rates, cost)) or self._tail(rates, cost)
        redis, name, at = self._redis, self._prefix + key, b"%d" % now
        try:
            try:  # arguments as bytes: redis-py's encoder passes them through untouched
                reply = await redis.execute_command("EVALSHA", self._sha, b"1", name, at, *tail)
            except self._noscript:  # a restart or SCRIPT FLUSH emptied the script cache
                await redis.script_load(self._gcra.script)  # under the same SHA1
                reply = await redis.execute_command("EVALSHA", self._sha, b"1", name, at, *tail)
        except self._faults as exc:
            raise StorageUnavailable from exc
        return _decided(reply, rates, cost, now)

    async def acquire_many(
        self, checks: Sequence[tuple[str, Sequence[Rate], int]], now: int
    ) -> list[tuple[bool, tuple[Verdict, ...]]]:
        """Several independent decisions ``(key, rates, cost)`` in one round trip: a pipeline
        of the same script calls, not a transaction. Each decision is atomic on its own, as
        with :meth:`acquire`; the answers come in the order of ``checks``. Raises
        :class:`StorageUnavailable` when any call fails (the others may have been spent)."""
        calls = []
        for key, rates, cost in checks:
            rates = tuple(rates)
            calls.append(
                (key, rates, cost, self._tails.get((rates, cost)) or self._tail(rates, cost))
            )
        at = b"%d" % now
        try:
            pipe = self._redis.pipeline(transaction=False)
            for key, _, _, tail in calls:
                pipe.execute_command("EVALSHA", self._sha, b"1", self._prefix + key, at, *tail)
            replies = await pipe.execute(raise_on_error=False)
            for i, reply in enumerate(replies):  # refused for a flushed script cache: not run
                if isinstance(reply, self._noscript):
                    key, _, _, tail = calls[i]
                    await self._redis.script_load(self._gcra.script)
                    replies[i] = await self._redis.execute_command(
                        "EVALSHA", self._sha, b"1", self._prefix + key, at, *tail
                    )
                elif isinstance(reply, Exception):
                    raise reply
        except self._faults as exc:
            raise StorageUnavailable from exc
        return [
            _decided(reply, rates, cost, now)
            for reply, (_, rates, cost, _) in zip(replies, calls, strict=True)
        ]

    async def check(self) -> None:
        try:
            await self._redis.ping()
        except self._faults as exc:
            raise StorageUnavailable from exc

    async def close(self) -> None:
        try:
            await self._redis.aclose()
        except self._faults as exc:
            raise StorageUnavailable from exc
