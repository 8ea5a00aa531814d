"""Rate limiting: GCRA decisions per second against baselines measured in the same run.

Run: ``python bench/bench_ratelimit.py [--seconds 1.0] [--rounds 3] [--redis URL]``.

* memory: ``await MemoryRateLimitStore.acquire`` (one rate, 1,000 keys in turn) and the whole
  ``Limiter.check`` (policy match, hashed key, store, headers) vs the ``limits`` library's
  ``MovingWindowRateLimiter.hit`` on its ``MemoryStorage`` over the same keys and rate
  (target: store/limits >= 3), at 100/s (most hits over the limit) and at 6000/min (most
  hits admitted, so the moving window keeps up to 6000 timestamps per key);
* redis: ``await RedisRateLimitStore.acquire`` (two rates, one EVALSHA) vs a bare EVALSHA of a
  no-op script over the same client, one request in flight and then 16 in flight
  (target: gcra/no-op >= 0.8); then batches of 16 decisions in one round trip
  (``acquire_many``, a pipeline) vs a pipeline of 16 no-op EVALSHA calls. Skipped when Redis
  is not reachable. Keys are removed afterwards.
  The no-op is called through redis-py's script object (the comparison of the target); the
  same no-op sent with ``execute_command`` (as the store sends its script) is printed too, as
  the stricter ratio, with this process's CPU and the Redis server's CPU (``INFO cpu``) per
  call, which a loaded machine disturbs less than wall time.

Each pair is measured in interleaved rounds (the Redis ones in ABBA order) and the median kept;
only ratios are meaningful.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from limits import parse as limits_parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from bastion.infra import SystemClock
from bastion.ratelimit import (
    Limiter,
    MemoryRateLimitStore,
    Policy,
    RedisRateLimitStore,
    RequestFacts,
    parse_rate,
)

KEYS = [f"client-{i}" for i in range(1000)]
# 100/s: most hits are over the limit (the moving window's cheap path);
# 6000/min: an ordinary API limit, most hits admitted (the moving window keeps one entry each)
MEMORY_RATES = ("100/s", "6000/min")


def _sync_rate(call: Callable[[int], object], seconds: float) -> float:
    done, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        for i in range(1000):
            call(i)
        done += 1000
    return done / elapsed


async def _async_rate(
    call: Callable[[int], Awaitable[object]], seconds: float, in_flight: int = 1
) -> float:
    done, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        if in_flight == 1:
            for i in range(200):
                await call(i)
        else:
            for i in range(0, 200, in_flight):
                await asyncio.gather(*(call(i + j) for j in range(in_flight)))
        done += 200
    return done / elapsed


async def bench_memory(seconds: float, rounds: int, rate_text: str) -> None:
    store = MemoryRateLimitStore()
    rates = [parse_rate(rate_text)]
    limiter = Limiter(
        [Policy(name="api", match={"path": "/v1/*"}, limits=[rate_text])], store, SystemClock()
    )
    facts = [
        RequestFacts("GET", "/v1/items", f"198.51.{i // 256}.{i % 256}") for i in range(len(KEYS))
    ]
    moving = MovingWindowRateLimiter(MemoryStorage())
    item = limits_parse(rate_text.replace("/s", "/second").replace("/min", "/minute"))

    def gcra_call(i: int) -> Awaitable[object]:
        return store.acquire(KEYS[i], rates, 1, time.time_ns() // 1000)

    def limiter_call(i: int) -> Awaitable[object]:
        return limiter.check(facts[i])

    results: dict[str, list[float]] = {"gcra": [], "limiter": [], "limits": []}
    for _ in range(rounds):
        results["limits"].append(_sync_rate(lambda i: moving.hit(item, KEYS[i]), seconds))
        results["gcra"].append(await _async_rate(gcra_call, seconds))
        results["limiter"].append(await _async_rate(limiter_call, seconds))
    med = {k: statistics.median(v) for k, v in results.items()}
    print(f"memory  rate {rate_text}, {len(KEYS)} keys in turn")
    print(f"memory  limits moving window: {med['limits']:>12,.0f} decisions/s")
    print(f"memory  GCRA store.acquire:   {med['gcra']:>12,.0f} decisions/s")
    print(f"memory  Limiter.check:        {med['limiter']:>12,.0f} decisions/s")
    print(f"ratio   store/limits = {med['gcra'] / med['limits']:.2f} (target >= 3)")
    print(f"ratio   Limiter.check/limits = {med['limiter'] / med['limits']:.2f}")


async def _server_cpu(client: Any) -> float:
    info = await client.info("cpu")
    return float(info["used_cpu_sys"]) + float(info["used_cpu_user"])


BATCH = 16


async def bench_redis(url: str, seconds: float, rounds: int) -> None:
    prefix = f"bench{uuid.uuid4().hex[:8]}:rl:"
    store = RedisRateLimitStore.from_url(url, prefix=prefix)
    try:
        await store.check()
    except Exception as exc:
        print(f"redis   skipped: {type(exc).__name__}")
        await store.close()
        return
    client = store.client
    noop = client.register_script("return 1")
    await noop(keys=[prefix + "warm"])
    rates = [parse_rate("1000/s"), parse_rate("100000/h")]
    calls: dict[str, Callable[[int], Awaitable[object]]] = {
        "noop": lambda i: noop(keys=[prefix + KEYS[i]]),
        "raw": lambda i: client.execute_command("EVALSHA", noop.sha, 1, prefix + KEYS[i]),
        "gcra": lambda i: store.acquire(KEYS[i], rates, 1, time.time_ns() // 1000),
    }
    try:
        for in_flight in (1, 16):
            results: dict[str, list[float]] = {name: [] for name in calls}
            cpu = dict.fromkeys(calls, 0.0)
            server = dict.fromkeys(calls, 0.0)
            done = dict.fromkeys(calls, 0.0)
            for round_ in range(rounds):
                order = list(calls.items())
                for name, call in order if round_ % 2 == 0 else order[::-1]:  # ABBA
                    server_start = await _server_cpu(client)
                    cpu_start = time.process_time()
                    rate = await _async_rate(call, seconds, in_flight)
                    cpu[name] += time.process_time() - cpu_start
                    server[name] += await _server_cpu(client) - server_start
                    results[name].append(rate)
                    done[name] += rate * seconds
            med = {name: statistics.median(r) for name, r in results.items()}
            print(
                f"redis   {in_flight:>2} in flight: no-op EVALSHA {med['noop']:>9,.0f}/s, "
                f"GCRA {med['gcra']:>9,.0f}/s, ratio {med['gcra'] / med['noop']:.2f} "
                "(target >= 0.8)"
            )
            us = {name: 1e6 * (cpu[name] + server[name]) / done[name] for name in calls}
            print(
                f"redis   {in_flight:>2} in flight: no-op via execute_command "
                f"{med['raw']:>9,.0f}/s, ratio GCRA/that {med['gcra'] / med['raw']:.2f}; "
                "client+server CPU per call: "
                + ", ".join(f"{name} {us[name]:.0f} us" for name in calls)
                + f"; CPU ratio no-op/GCRA {us['noop'] / us['gcra']:.2f}"
            )
        await _bench_pipelined(store, noop.sha, prefix, rates, seconds, rounds)
    finally:
        async for key in client.scan_iter(match=prefix + "*"):
            await client.delete(key)
        await store.close()


async def _bench_pipelined(
    store: RedisRateLimitStore,
    noop_sha: str,
    prefix: str,
    rates: list[Any],
    seconds: float,
    rounds: int,
) -> None:
    """Batches of 16 decisions in one round trip (``acquire_many``) against a pipeline of 16
    bare no-op ``EVALSHA`` calls over the same client."""
    client = store.client

    async def noop_batch(i: int) -> object:
        pipe = client.pipeline(transaction=False)
        for n in range(BATCH):
            pipe.execute_command("EVALSHA", noop_sha, 1, prefix + KEYS[(i + n) % len(KEYS)])
        return await pipe.execute()

    async def gcra_batch(i: int) -> object:
        checks = [(KEYS[(i + n) % len(KEYS)], rates, 1) for n in range(BATCH)]
        return await store.acquire_many(checks, time.time_ns() // 1000)

    calls = {"noop": noop_batch, "gcra": gcra_batch}
    results: dict[str, list[float]] = {name: [] for name in calls}
    for round_ in range(rounds):
        order = list(calls.items())
        for name, call in order if round_ % 2 == 0 else order[::-1]:  # ABBA
            results[name].append(await _async_rate(call, seconds, 1) * BATCH)
    med = {name: statistics.median(r) for name, r in results.items()}
    print(
        f"redis   pipelined batches of {BATCH}: no-op EVALSHA {med['noop']:>9,.0f}/s, "
        f"GCRA acquire_many {med['gcra']:>9,.0f}/s, ratio {med['gcra'] / med['noop']:.2f}"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/15")
    args = parser.parse_args()
    for rate_text in MEMORY_RATES:
        await bench_memory(args.seconds, args.rounds, rate_text)
    await bench_redis(args.redis, args.seconds, args.rounds)


if __name__ == "__main__":
    asyncio.run(main())
