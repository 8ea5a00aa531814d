"""Argon2id cost: raw argon2-cffi on 2 threads vs PasswordHashing through its pool.

Run: ``python bench/bench_password_hash.py [--n 100]``. Prints, from one run on this machine,
hashes/s of argon2-cffi driven by a plain 2-thread pool, hashes/s and verifies/s through
``PasswordHashing`` (asyncio, 2 workers) and their ratio, then single-threaded milliseconds
per hash at a few parameter sets. Quote the ratios; absolute numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor

import argon2

from bastion.config import PasswordSettings
from bastion.identity import PasswordHashing

WORKERS = 2
PARAMETER_SETS = [  # (label, memory KiB, time cost)
    ("m=19 MiB t=2 (default, ASVS floor)", 19 * 1024, 2),
    ("m=46 MiB t=1", 46 * 1024, 1),
    ("m=64 MiB t=3", 64 * 1024, 3),
]


def _passwords(n: int) -> list[str]:
    return [f"bench passphrase number {i:06d}" for i in range(n)]


def raw_hash_rate(settings: PasswordSettings, n: int) -> float:
    """Hashes per second with argon2-cffi on a plain thread pool of WORKERS threads."""
    hasher = argon2.PasswordHasher(
        memory_cost=settings.argon2_memory_kib,
        time_cost=settings.argon2_time_cost,
        parallelism=settings.argon2_parallelism,
        type=argon2.Type.ID,
    )
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        list(pool.map(hasher.hash, _passwords(WORKERS)))  # warm-up
        start = time.perf_counter()
        list(pool.map(hasher.hash, _passwords(n)))
        return n / (time.perf_counter() - start)


async def _bounded(limit: int, jobs: list[Callable[[], Awaitable[object]]]) -> float:
    """Run the jobs with at most ``limit`` in flight (so none is shed); return jobs per second."""
    gate = asyncio.Semaphore(limit)

    async def one(job: Callable[[], Awaitable[object]]) -> None:
        async with gate:
            await job()

    start = time.perf_counter()
    await asyncio.gather(*(one(job) for job in jobs))
    return len(jobs) / (time.perf_counter() - start)


async def service_rates(settings: PasswordSettings, n: int) -> tuple[float, float]:
    """(hashes/s, verifies/s) through PasswordHashing with WORKERS workers."""
    service = PasswordHashing(settings)
    limit = settings.workers + settings.hash_queue
    try:
        stored = await service.hash("warm-up passphrase")
        words = _passwords(n)
        hash_jobs = [lambda w=w: service.hash(w) for w in words]
        hash_rate = await _bounded(limit, hash_jobs)
        verify_jobs = [lambda w=w: service.verify(w, stored) for w in words]
        verify_rate = await _bounded(limit, verify_jobs)
    finally:
        service.close()
    return hash_rate, verify_rate


def ms_per_hash(memory_kib: int, time_cost: int, rounds: int = 7) -> float:
    """Median single-threaded milliseconds per Argon2id hash (p=1)."""
    hasher = argon2.PasswordHasher(
        memory_cost=memory_kib, time_cost=time_cost, parallelism=1, type=argon2.Type.ID
    )
    hasher.hash("warm-up")
    samples = []
    for word in _passwords(rounds):
        start = time.perf_counter()
        hasher.hash(word)
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description="Argon2id throughput benchmark")
    parser.add_argument("--n", type=int, default=100, help="hashes per throughput measurement")
    args = parser.parse_args()
    settings = PasswordSettings(hash_workers=WORKERS)
    print(f"cpus={os.cpu_count()} workers={WORKERS} n={args.n}")
    print(
        f"parameters: m={settings.argon2_memory_kib} KiB t={settings.argon2_time_cost} "
        f"p={settings.argon2_parallelism}"
    )
    raw = raw_hash_rate(settings, args.n)
    hashed, verified = asyncio.run(service_rates(settings, args.n))
    print(f"raw argon2-cffi, {WORKERS} threads:   {raw:8.1f} hashes/s")
    print(f"PasswordHashing.hash (pool):    {hashed:8.1f} hashes/s   ratio {hashed / raw:.2f}")
    print(f"PasswordHashing.verify (pool):  {verified:8.1f} verifies/s ratio {verified / raw:.2f}")
    print("single-threaded Argon2id, median ms per hash:")
    for label, memory_kib, time_cost in PARAMETER_SETS:
        print(f"  {label:<36} {ms_per_hash(memory_kib, time_cost):7.1f} ms")


if __name__ == "__main__":
    main()
