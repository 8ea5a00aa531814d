"""The Redis store's own layout and its agreement with the in-process store: one hash per
client and policy, a field per rate, a key that lives until its latest TAT (plus bounded
slack) and never shorter, and the very decisions the memory store takes (ASVS V2.4.1,
V11.1.4: limits hold and are atomic per decision)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bastion.infra import ManualClock
from bastion.ratelimit import MemoryRateLimitStore, Rate, RedisRateLimitStore, parse_rate
from tests.conftest import REDIS_URL, require_service

TEN_PER_S = parse_rate("10/s")
TWO_PER_MIN = parse_rate("2/min")
THOUSAND_PER_H = parse_rate("1000/h")
POOL = [TEN_PER_S, TWO_PER_MIN, parse_rate("5/s burst 20"), parse_rate("100/h burst 3")]


def _us(clock: ManualClock) -> int:
    return int(clock.now() * 1_000_000)


@pytest.fixture
async def redis_store() -> AsyncIterator[RedisRateLimitStore]:
    require_service("Redis", REDIS_URL, 6379)
    store = RedisRateLimitStore.from_url(REDIS_URL, prefix=f"t{uuid.uuid4().hex[:8]}:rl:")
    yield store
    client = store.client
    async for key in client.scan_iter(match=store._prefix + "*"):
        await client.delete(key)
    await store.close()


async def test_one_hash_per_key_with_exact_tats(
    redis_store: RedisRateLimitStore, clock: ManualClock
) -> None:
    now = _us(clock)
    _, verdicts = await redis_store.acquire("k", [TEN_PER_S, TWO_PER_MIN], 1, now)
    client = redis_store.client
    assert await client.keys(redis_store._prefix + "*") == [(redis_store._prefix + "k").encode()]
    fields = await client.hgetall(redis_store._prefix + "k")
    assert fields[TEN_PER_S.slug.encode()] == b"%d" % verdicts[0].tat == b"%d" % (now + 100_000)
    assert fields[TWO_PER_MIN.slug.encode()] == b"%d" % (now + 30_000_000)


@pytest.mark.parametrize(
    "rates",
    [[TWO_PER_MIN], [TEN_PER_S, TWO_PER_MIN], [TEN_PER_S, TWO_PER_MIN, THOUSAND_PER_H]],
    ids=["one rate", "two rates", "three rates"],
)
async def test_key_lives_past_its_latest_tat_and_never_shorter(
    redis_store: RedisRateLimitStore, clock: ManualClock, rates: list[Rate]
) -> None:
    client, name = redis_store.client, redis_store._prefix + "k"
    now = _us(clock)
    await redis_store.acquire("k", rates, 1, now)
    # latest TAT now + 30 s (2/min), kept a further 60 s (the longest tolerance, capped)
    assert int(await client.hget(name, "x")) == now + 90_000_000
    assert 89_000 < await client.pttl(name) <= 90_000
    # a rate that needs the key for less time neither shortens it nor touches its expiry
    await redis_store.acquire("k", [TEN_PER_S], 1, now)
    assert int(await client.hget(name, "x")) == now + 90_000_000
    assert 89_000 < await client.pttl(name) <= 90_000
    # once a TAT passes the kept time the key's life grows again
    clock.advance(100)
    later = _us(clock)
    await redis_store.acquire("k", rates, 1, later)
    assert int(await client.hget(name, "x")) == later + 90_000_000
    assert 89_000 < await client.pttl(name) <= 90_000


async def test_short_rates_keep_their_key_briefly_and_long_ones_at_most_a_minute_more(
    redis_store: RedisRateLimitStore, clock: ManualClock
) -> None:
    client = redis_store.client
    await redis_store.acquire("short", [TEN_PER_S], 1, _us(clock))
    assert 1_000 < await client.pttl(redis_store._prefix + "short") <= 1_100  # 0.1 s + 1 s
    await redis_store.acquire("long", [THOUSAND_PER_H], 1, _us(clock))
    assert 63_000 < await client.pttl(redis_store._prefix + "long") <= 63_600  # 3.6 s + 60 s


async def test_denied_and_zero_cost_decisions_write_nothing(
    redis_store: RedisRateLimitStore, clock: ManualClock
) -> None:
    client, name = redis_store.client, redis_store._prefix + "k"
    assert (await redis_store.acquire("k", [TEN_PER_S], 0, _us(clock)))[0]
    assert not await client.exists(name)
    assert not (await redis_store.acquire("k", [TEN_PER_S], 11, _us(clock)))[0]
    assert not await client.exists(name)


async def _compare(steps: list[tuple[list[int], int, int]]) -> None:
    memory = MemoryRateLimitStore()
    redis_store = RedisRateLimitStore.from_url(REDIS_URL, prefix=f"t{uuid.uuid4().hex[:8]}:rl:")
    now = 1_750_000_000_000_000
    try:
        for indexes, cost, advance_ms in steps:
            rates = [POOL[i] for i in indexes]
            expected = await memory.acquire("k", rates, cost, now)
            assert await redis_store.acquire("k", rates, cost, now) == expected
            now += advance_ms * 1000
    finally:
        client = redis_store.client
        async for key in client.scan_iter(match=redis_store._prefix + "*"):
            await client.delete(key)
        await redis_store.close()


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.lists(st.integers(0, len(POOL) - 1), min_size=1, max_size=len(POOL), unique=True),
            st.integers(0, 4),
            st.integers(0, 2_000),
        ),
        min_size=1,
        max_size=30,
    )
)
def test_redis_store_takes_the_decisions_of_the_memory_store(
    steps: list[tuple[list[int], int, int]],
) -> None:
    """Every path of the script (one rate, two, more; admitted, denied, zero cost; rates
    sharing a key in any order) against the pure Python GCRA of the memory store."""
    require_service("Redis", REDIS_URL, 6379)
    asyncio.run(_compare(steps))


async def test_a_client_that_decodes_replies_gets_the_same_decisions(clock: ManualClock) -> None:
    """The store also accepts a client built with ``decode_responses=True`` (str replies)."""
    require_service("Redis", REDIS_URL, 6379)
    import redis.asyncio as redis

    client = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    store = RedisRateLimitStore(client, prefix=f"t{uuid.uuid4().hex[:8]}:rl:")
    try:
        results = [(await store.acquire("k", [TEN_PER_S], 1, _us(clock)))[0] for _ in range(11)]
        assert results == [True] * 10 + [False]
        await client.script_flush()
        allowed, (verdict,) = await store.acquire("k", [TEN_PER_S], 1, _us(clock) + 100_000)
        assert allowed and verdict.remaining == 0
    finally:
        await client.delete(store._prefix + "k")
        await store.close()


_BATCH = st.lists(
    st.tuples(
        st.sampled_from(["a", "b", "c"]),
        st.lists(st.sampled_from(POOL), min_size=1, max_size=3, unique=True),
        st.integers(0, 3),
    ),
    max_size=12,
)


@settings(max_examples=30, deadline=None)
@given(batches=st.lists(_BATCH, min_size=1, max_size=4))
async def test_a_pipelined_batch_decides_as_one_call_after_another(
    batches: list[list[tuple[str, list[Rate], int]]],
) -> None:
    """``acquire_many`` (one round trip) gives, in order, what ``acquire`` gives called once
    per check, and leaves the same state: checked against the memory store."""
    require_service("Redis", REDIS_URL, 6379)
    store = RedisRateLimitStore.from_url(REDIS_URL, prefix=f"t{uuid.uuid4().hex[:8]}:rl:")
    memory, clock = MemoryRateLimitStore(), ManualClock()
    try:
        for batch in batches:
            now = _us(clock)
            got = await store.acquire_many(batch, now)
            expected = [await memory.acquire(k, r, c, now) for k, r, c in batch]
            assert got == expected
            assert await memory.acquire_many(batch, now) == await store.acquire_many(batch, now)
            clock.advance(0.05)
    finally:
        async for key in store.client.scan_iter(match=store._prefix + "*"):
            await store.client.delete(key)
        await store.close()


async def test_a_pipelined_batch_survives_a_script_flush(
    redis_store: RedisRateLimitStore, clock: ManualClock
) -> None:
    await redis_store.client.script_flush()
    now = _us(clock)
    first = await redis_store.acquire_many([("x", [TWO_PER_MIN], 1), ("y", [TWO_PER_MIN], 1)], now)
    assert [allowed for allowed, _ in first] == [True, True]
    again = await redis_store.acquire_many([("x", [TWO_PER_MIN], 1)] * 2, now)
    # burst 2: one unit is left after the first batch, so only the first of these is admitted
    assert [allowed for allowed, _ in again] == [True, False]
    assert await redis_store.acquire_many([], now) == []
