"""One contract suite over every RateLimitStore (memory and real Redis), time moved by a
ManualClock, never slept (ASVS V2.4.1, V11.1.4: limits hold and are atomic per decision)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from bastion.errors import ConfigError, StorageUnavailable
from bastion.infra import ManualClock
from bastion.ratelimit import (
    MemoryRateLimitStore,
    RateLimitStore,
    RedisRateLimitStore,
    parse_rate,
)
from tests.conftest import REDIS_URL, require_service

TEN_PER_S = parse_rate("10/s")
TWO_PER_MIN = parse_rate("2/min")


def _us(clock: ManualClock) -> int:
    return int(clock.now() * 1_000_000)


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[RateLimitStore]:
    if request.param == "memory":
        yield MemoryRateLimitStore()
        return
    require_service("Redis", REDIS_URL, 6379)
    redis_store = RedisRateLimitStore.from_url(REDIS_URL, prefix=f"t{uuid.uuid4().hex[:8]}:rl:")
    yield redis_store
    await redis_store.close()


async def test_admits_the_burst_then_denies(store: RateLimitStore, clock: ManualClock) -> None:
    results = [(await store.acquire("k", [TEN_PER_S], 1, _us(clock)))[0] for _ in range(15)]
    assert results == [True] * 10 + [False] * 5


async def test_refills_at_the_rate_as_time_moves(store: RateLimitStore, clock: ManualClock) -> None:
    for _ in range(10):
        await store.acquire("k", [TEN_PER_S], 1, _us(clock))
    allowed, verdicts = await store.acquire("k", [TEN_PER_S], 1, _us(clock))
    assert not allowed and verdicts[0].retry_after_us == 100_000
    clock.advance(0.1)
    assert (await store.acquire("k", [TEN_PER_S], 1, _us(clock)))[0]
    assert not (await store.acquire("k", [TEN_PER_S], 1, _us(clock)))[0]
    clock.advance(1.0)
    allowed, verdicts = await store.acquire("k", [TEN_PER_S], 1, _us(clock))
    assert allowed and verdicts[0].remaining == 9


async def test_keys_are_independent(store: RateLimitStore, clock: ManualClock) -> None:
    for _ in range(10):
        await store.acquire("a", [TEN_PER_S], 1, _us(clock))
    assert not (await store.acquire("a", [TEN_PER_S], 1, _us(clock)))[0]
    assert (await store.acquire("b", [TEN_PER_S], 1, _us(clock)))[0]


async def test_three_limits_take_the_general_path(
    store: RateLimitStore, clock: ManualClock
) -> None:
    three = [TEN_PER_S, TWO_PER_MIN, parse_rate("5/s burst 1")]
    allowed, verdicts = await store.acquire("k", three, 1, _us(clock))
    assert allowed and [v.remaining for v in verdicts] == [9, 1, 0]
    allowed, verdicts = await store.acquire("k", three, 1, _us(clock))
    assert not allowed and [v.allowed for v in verdicts] == [True, True, False]
    assert [v.remaining for v in verdicts] == [9, 1, 0] and verdicts[2].retry_after_us == 200_000
    now = _us(clock)
    assert not (await store.acquire("k", three, 1, now + 199_999))[0]  # to the microsecond
    assert (await store.acquire("k", three, 1, now + 200_000))[0]


async def test_two_limits_deny_to_the_microsecond(
    store: RateLimitStore, clock: ManualClock
) -> None:
    both, now = [TEN_PER_S, TWO_PER_MIN], _us(clock)
    assert (await store.acquire("k", both, 1, now))[0]
    assert (await store.acquire("k", both, 1, now))[0]
    assert not (await store.acquire("k", both, 1, now + 29_999_999))[0]
    assert (await store.acquire("k", both, 1, now + 30_000_000))[0]
    assert not (await store.acquire("k", [TEN_PER_S], 10, now + 30_000_000))[0]
    assert not (await store.acquire("k", [TEN_PER_S], 10, now + 30_099_999))[0]
    assert (await store.acquire("k", [TEN_PER_S], 10, now + 30_100_000))[0]


async def test_several_limits_spend_only_when_all_pass(
    store: RateLimitStore, clock: ManualClock
) -> None:
    both = [TEN_PER_S, TWO_PER_MIN]
    assert (await store.acquire("k", both, 1, _us(clock)))[0]
    assert (await store.acquire("k", both, 1, _us(clock)))[0]
    allowed, verdicts = await store.acquire("k", both, 1, _us(clock))
    assert not allowed
    assert verdicts[0].allowed and verdicts[0].remaining == 8  # the 10/s budget was not spent
    assert not verdicts[1].allowed and verdicts[1].retry_after_us == 30_000_000
    assert (await store.acquire("k", [TEN_PER_S], 1, _us(clock)))[1][0].remaining == 7


async def test_weighted_cost(store: RateLimitStore, clock: ManualClock) -> None:
    allowed, verdicts = await store.acquire("k", [TEN_PER_S], 4, _us(clock))
    assert allowed and verdicts[0].remaining == 6
    assert (await store.acquire("k", [TEN_PER_S], 6, _us(clock)))[0]
    assert not (await store.acquire("k", [TEN_PER_S], 1, _us(clock)))[0]


async def test_check_passes_on_a_healthy_store(store: RateLimitStore) -> None:
    await store.check()


async def test_memory_store_is_bounded_and_drops_expired_entries(clock: ManualClock) -> None:
    memory = MemoryRateLimitStore(max_keys=5)
    for i in range(20):
        await memory.acquire(f"k{i}", [TEN_PER_S], 1, _us(clock))
    assert len(memory) == 5
    clock.advance(10)
    for i in range(3):  # each new key first drops the oldest entry, now expired
        await memory.acquire(f"new{i}", [TEN_PER_S], 1, _us(clock))
    assert len(memory) == 5
    assert (await memory.acquire("new0", [TEN_PER_S], 1, _us(clock)))[1][0].remaining == 8
    for i in range(3):
        await memory.acquire(f"multi{i}", [TEN_PER_S, TWO_PER_MIN], 1, _us(clock))
    assert len(memory) == 5


def test_memory_store_rejects_a_zero_bound() -> None:
    with pytest.raises(ConfigError):
        MemoryRateLimitStore(max_keys=0)


async def test_unreachable_redis_raises_storage_unavailable(clock: ManualClock) -> None:
    dead = RedisRateLimitStore.from_url("redis://127.0.0.1:1/0")
    with pytest.raises(StorageUnavailable):
        await dead.acquire("k", [TEN_PER_S], 1, _us(clock))
    with pytest.raises(StorageUnavailable):
        await dead.check()
    await dead.close()


async def test_redis_store_reloads_its_script_after_a_script_flush(clock: ManualClock) -> None:
    """A Redis restart or ``SCRIPT FLUSH`` empties the script cache: the next decision loads
    the script again instead of failing (and denying) every request."""
    require_service("Redis", REDIS_URL, 6379)
    prefix = f"t{uuid.uuid4().hex[:8]}:rl:"
    redis_store = RedisRateLimitStore.from_url(REDIS_URL, prefix=prefix)
    try:
        assert (await redis_store.acquire("k", [TEN_PER_S], 1, _us(clock)))[0]
        await redis_store.client.script_flush()
        allowed, (verdict,) = await redis_store.acquire("k", [TEN_PER_S], 1, _us(clock))
        assert allowed and verdict.remaining == 8  # the first decision's state survived
    finally:
        await redis_store.client.delete(*await redis_store.client.keys(prefix + "*"))
        await redis_store.close()
