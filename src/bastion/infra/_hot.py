"""Hot state: short-lived counters, replay guards and revocation fan-out.

:class:`MemoryHotState` keeps them in this process (the embedded default);
:class:`RedisHotState` shares them between replicas. Both satisfy :class:`HotState`, and each
operation is atomic in its backend (a single Redis command or Lua call; one event-loop step in
memory). Redis errors are translated to :class:`~bastion.errors.StorageUnavailable` here.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import structlog

from bastion.errors import StorageUnavailable
from bastion.infra._clock import Clock

__all__ = ["HotState", "MemoryHotState", "RedisHotState"]

Listener = Callable[[str], Awaitable[None]]
log = structlog.get_logger("bastion.infra.hot")


class HotState(Protocol):
    async def incr(self, key: str, ttl: float) -> int:
        """Add one to a counter; the first increment starts its ``ttl``. Returns the new value."""
        ...

    async def get_int(self, key: str) -> int: ...

    async def delete(self, key: str) -> None: ...

    async def add_once(self, key: str, ttl: float) -> bool:
        """Set ``key`` if absent. True the first time; False while it lives (a replay guard)."""
        ...

    async def put(self, key: str, value: bytes, ttl: float) -> None: ...

    async def get(self, key: str) -> bytes | None: ...

    async def take(self, key: str) -> bytes | None:
        """Get and delete in one step (single use)."""
        ...

    async def publish(self, channel: str, message: str) -> None: ...

    async def subscribe(self, channel: str, listener: Listener) -> None:
        """Call ``listener`` for every message on ``channel`` from now on (all replicas)."""
        ...

    async def check(self) -> None: ...

    async def close(self) -> None: ...


class MemoryHotState:
    """Process-local hot state with lazy expiry on the injected clock."""

    def __init__(self, clock: Clock, *, max_keys: int = 1_000_000) -> None:
        self._clock = clock
        self._data: dict[str, tuple[float, bytes | int]] = {}
        self._expiry: list[tuple[float, str]] = []
        self._listeners: dict[str, list[Listener]] = {}
        self._max_keys = max_keys

    def _live(self, key: str) -> bytes | int | None:
        item = self._data.get(key)
        if item is None:
            return None
        if item[0] <= self._clock.monotonic():
            del self._data[key]
            return None
        return item[1]

    def _set(self, key: str, value: bytes | int, ttl: float) -> None:
        self._sweep()
        deadline = self._clock.monotonic() + ttl
        self._data[key] = (deadline, value)
        heapq.heappush(self._expiry, (deadline, key))

    def _sweep(self) -> None:
        now = self._clock.monotonic()
        while self._expiry and (self._expiry[0][0] <= now or len(self._data) >= self._max_keys):
            deadline, key = heapq.heappop(self._expiry)
            item = self._data.get(key)
            if item is not None and item[0] == deadline:
                del self._data[key]

    async def incr(self, key: str, ttl: float) -> int:
        value = self._live(key)
        if isinstance(value, int):
            self._data[key] = (self._data[key][0], value + 1)
            return value + 1
        self._set(key, 1, ttl)
        return 1

    async def get_int(self, key: str) -> int:
        value = self._live(key)
        return value if isinstance(value, int) else 0

    async def delete(self, key: str) -> None:
        self._data.pop(key, None)

    async def add_once(self, key: str, ttl: float) -> bool:
        # _live and _set in one step, sweeping only when something is due: a replay cache
        # calls this for every signed request.
        now = self._clock.monotonic()
        item = self._data.get(key)
        if item is not None:
            if item[0] > now:
                return False
            del self._data[key]
        expiry = self._expiry
        if expiry and (expiry[0][0] <= now or len(self._data) >= self._max_keys):
            self._sweep()
        deadline = now + ttl
        self._data[key] = (deadline, b"1")
        heapq.heappush(expiry, (deadline, key))
        return True

    async def put(self, key: str, value: bytes, ttl: float) -> None:
        self._set(key, value, ttl)

    async def get(self, key: str) -> bytes | None:
        value = self._live(key)
        return value if isinstance(value, bytes) else None

    async def take(self, key: str) -> bytes | None:
        value = await self.get(key)
        self._data.pop(key, None)
        return value

    async def publish(self, channel: str, message: str) -> None:
        for listener in list(self._listeners.get(channel, ())):
            await listener(message)

    async def subscribe(self, channel: str, listener: Listener) -> None:
        self._listeners.setdefault(channel, []).append(listener)

    async def check(self) -> None:
        return None

    async def close(self) -> None:
        self._listeners.clear()


_INCR = """
local v = redis.call('INCR', KEYS[1])
if v == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return v
"""


class RedisHotState:
    """Hot state in Redis, shared by every replica; keys are prefixed ``bastion:``."""

    def __init__(self, url: str, *, prefix: str = "bastion:") -> None:
        import redis.asyncio as redis

        self._redis = redis.Redis.from_url(
            url, socket_timeout=2.0, socket_connect_timeout=2.0, health_check_interval=15
        )
        self._prefix = prefix
        self._incr = self._redis.register_script(_INCR)
        self._tasks: list[asyncio.Task[None]] = []

    def _k(self, key: str) -> str:
        return self._prefix + key

    async def _call(self, coro: Awaitable[Any]) -> Any:
        import redis.exceptions

        try:
            return await coro
        except (redis.exceptions.RedisError, OSError) as exc:
            raise StorageUnavailable from exc

    async def incr(self, key: str, ttl: float) -> int:
        value = await self._call(self._incr(keys=[self._k(key)], args=[max(1, int(ttl * 1000))]))
        return int(value)

    async def get_int(self, key: str) -> int:
        value = await self._call(self._redis.get(self._k(key)))
        return int(value) if value is not None else 0

    async def delete(self, key: str) -> None:
        await self._call(self._redis.delete(self._k(key)))

    async def add_once(self, key: str, ttl: float) -> bool:
        ok = await self._call(
            self._redis.set(self._k(key), b"1", nx=True, px=max(1, int(ttl * 1000)))
        )
        return bool(ok)

    async def put(self, key: str, value: bytes, ttl: float) -> None:
        await self._call(self._redis.set(self._k(key), value, px=max(1, int(ttl * 1000))))

    async def get(self, key: str) -> bytes | None:
        value = await self._call(self._redis.get(self._k(key)))
        return value if isinstance(value, bytes) else None

    async def take(self, key: str) -> bytes | None:
        value = await self._call(self._redis.getdel(self._k(key)))
        return value if isinstance(value, bytes) else None

    async def publish(self, channel: str, message: str) -> None:
        await self._call(self._redis.publish(self._k(channel), message))

    async def subscribe(self, channel: str, listener: Listener) -> None:
        """Listen in a background task that reconnects; a gap is reported to the listener as
        the special message ``"*resync"`` so it can reload from the database."""
        ready = asyncio.Event()
        self._tasks.append(asyncio.create_task(self._listen(self._k(channel), listener, ready)))
        await asyncio.wait_for(ready.wait(), timeout=5)

    async def _listen(self, channel: str, listener: Listener, ready: asyncio.Event) -> None:
        import redis.exceptions

        first = True
        while True:
            try:
                pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
                await pubsub.subscribe(channel)
                ready.set()
                if not first:
                    await listener("*resync")
                first = False
                async for msg in pubsub.listen():
                    if msg.get("type") == "message":
                        data = msg["data"]
                        await listener(data.decode() if isinstance(data, bytes) else str(data))
            except asyncio.CancelledError:
                raise
            except (redis.exceptions.RedisError, OSError):
                log.warning("hot.subscribe.reconnect", channel=channel)
                await asyncio.sleep(0.5)

    async def check(self) -> None:
        await self._call(self._redis.ping())

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self._redis.aclose()
