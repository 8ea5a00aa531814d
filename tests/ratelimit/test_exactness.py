"""Exactness across processes: four real processes hammer one key through real Redis and the
total admitted is exactly the limit, never more (ASVS V2.4.1, V11.1.4: the Lua script makes
each decision atomic across replicas)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid

from tests.conftest import REDIS_URL, require_service

WORKER = """
import asyncio, json, sys
from bastion.ratelimit import RedisRateLimitStore, parse_rate

async def main(url, prefix, now, attempts):
    store = RedisRateLimitStore.from_url(url, prefix=prefix)
    rates = [parse_rate("50/day"), parse_rate("1000/h burst 60")]
    admitted = 0
    for start in range(0, attempts, 10):
        batch = [store.acquire("one-key", rates, 1, now) for _ in range(10)]
        admitted += sum(allowed for allowed, _ in await asyncio.gather(*batch))
    await store.close()
    print(json.dumps({"admitted": admitted}))

asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])))
"""


def _delete(prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        for key in client.scan_iter(match=prefix + "*"):
            client.delete(key)
    finally:
        client.close()


PROCESSES = 4
ATTEMPTS = 200
LIMIT = 50


def test_four_processes_through_redis_admit_exactly_the_limit() -> None:
    require_service("Redis", REDIS_URL, 6379)
    prefix = f"t{uuid.uuid4().hex[:8]}:rl:"
    now_us = 1_750_000_000_000_000  # one shared instant: no refill can excuse an extra admit
    args = [REDIS_URL, prefix, str(now_us), str(ATTEMPTS)]
    started = time.monotonic()
    workers = [
        subprocess.Popen([sys.executable, "-c", WORKER, *args], stdout=subprocess.PIPE, text=True)
        for _ in range(PROCESSES)
    ]
    try:
        outputs = [w.communicate(timeout=60)[0] for w in workers]
    finally:
        _delete(prefix)
    assert all(w.returncode == 0 for w in workers)
    admitted = sum(json.loads(out)["admitted"] for out in outputs)
    assert admitted == LIMIT, f"{admitted} admitted of {PROCESSES * ATTEMPTS} for a limit of 50"
    assert time.monotonic() - started < 60
