"""Contract tests for HotState, run over memory and real Redis."""

from __future__ import annotations

import asyncio

import pytest

from bastion.infra import HotState, ManualClock, MemoryHotState


async def test_incr_counts_and_expires(clock: ManualClock) -> None:
    hot = MemoryHotState(clock)
    assert await hot.incr("k", 10) == 1
    assert await hot.incr("k", 10) == 2
    clock.advance(10)
    assert await hot.get_int("k") == 0
    assert await hot.incr("k", 10) == 1


async def test_contract(any_hot: HotState) -> None:
    assert await any_hot.incr("c", 60) == 1
    assert await any_hot.incr("c", 60) == 2
    assert await any_hot.get_int("c") == 2
    assert await any_hot.add_once("n", 60) is True
    assert await any_hot.add_once("n", 60) is False
    await any_hot.put("v", b"x", 60)
    assert await any_hot.get("v") == b"x"
    assert await any_hot.take("v") == b"x"
    assert await any_hot.take("v") is None
    await any_hot.delete("c")
    assert await any_hot.get_int("c") == 0
    await any_hot.check()


async def test_publish_reaches_subscriber(any_hot: HotState) -> None:
    got: list[str] = []
    seen = asyncio.Event()

    async def listener(message: str) -> None:
        got.append(message)
        seen.set()

    await any_hot.subscribe("chan", listener)
    await any_hot.publish("chan", "hello")
    await asyncio.wait_for(seen.wait(), timeout=2)
    assert got == ["hello"]


async def test_memory_is_bounded(clock: ManualClock) -> None:
    hot = MemoryHotState(clock, max_keys=100)
    for i in range(1000):
        await hot.put(f"k{i}", b"v", 60)
    assert len(hot._data) <= 101


@pytest.mark.parametrize("ttl", [0.001, 1.0])
async def test_add_once_ttl(clock: ManualClock, ttl: float) -> None:
    hot = MemoryHotState(clock)
    assert await hot.add_once("x", ttl)
    clock.advance(ttl)
    assert await hot.add_once("x", ttl)


async def test_add_once_is_bounded_and_keeps_each_key_for_its_ttl(clock: ManualClock) -> None:
    hot = MemoryHotState(clock, max_keys=100)
    for i in range(1000):
        assert await hot.add_once(f"n{i}", 60)
    assert len(hot._data) <= 101
    hot = MemoryHotState(clock)
    assert await hot.add_once("x", 10)
    clock.advance(9.5)
    assert not await hot.add_once("x", 10)  # still live
    clock.advance(0.5)
    assert await hot.add_once("x", 10)  # expired: added again, for a new ttl
    clock.advance(9.5)
    assert await hot.incr("tick", 60) == 1  # sweeps the old entry's heap record
    assert not await hot.add_once("x", 10)  # the new entry survived the sweep
