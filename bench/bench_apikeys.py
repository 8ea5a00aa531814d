"""API key verification in process: ``ApiKeys.verify`` with the verified-key cache vs without.

Run: ``python bench/bench_apikeys.py [--seconds 1.5] [--rounds 3]``.

In one process, on one key created in a temporary SQLite file (in-memory hot state):

* ``base``: one HMAC-SHA256 of the key under the pepper (the work every verification does);
* ``cold``: ``await ApiKeys.verify(key, ip=...)`` with ``cache_ttl=0`` (parse, HMAC, one query);
* ``warm``: the same with the cache on (parse, HMAC, dictionary lookup, checks; no I/O).

The three are measured in interleaved rounds and the median of each is kept. Prints ops/s and the
ratios; target: warm >= 100,000 verifications/s on one core, warm/cold far above 1.
"""

from __future__ import annotations

import argparse
import asyncio
import hmac
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from bastion.apikeys import ApiKeys
from bastion.crypto import MasterKey
from bastion.infra import Database, MemoryHotState, SystemClock, migrate
from bastion.monitor import AuditLog

IP = "203.0.113.9"


async def _rate(call: Callable[[], Awaitable[object]], seconds: float) -> float:
    done, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        for _ in range(200):
            await call()
        done += 200
    return done / elapsed


async def _measure(folder: Path, rounds: int, seconds: float) -> dict[str, float]:
    db = Database(f"sqlite+aiosqlite:///{folder / 'bench.db'}")
    await migrate(db)
    clock, master = SystemClock(), MasterKey(b"\x05" * 32)
    hot = MemoryHotState(clock)
    audit = AuditLog(db, master, clock, hot=hot)
    warm = ApiKeys(db, hot, clock, master, audit)
    cold = ApiKeys(db, hot, clock, master, audit, cache_ttl=0)
    key, _ = await warm.create("bench", ["read"], owner_service="bench", ip_allow=["0.0.0.0/0"])
    pepper, body = master.derive("bastion/apikey-pepper/v1"), key[:-6].encode()

    async def base() -> object:
        return hmac.digest(pepper, body, "sha256")

    rates: dict[str, list[float]] = {"base": [], "cold": [], "warm": []}
    try:
        for _ in range(rounds):
            rates["base"].append(await _rate(base, seconds))
            rates["cold"].append(await _rate(lambda: cold.verify(key, ip=IP), seconds / 3))
            rates["warm"].append(await _rate(lambda: warm.verify(key, ip=IP), seconds))
    finally:
        await db.close()
    return {name: statistics.median(values) for name, values in rates.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.5, help="per measurement")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bastion-bench-") as folder:
        rates = asyncio.run(_measure(Path(folder), args.rounds, args.seconds))
    for name, rate in rates.items():
        print(f"{name:>5}: {rate:12,.0f} ops/s")
    print(f"warm/cold: {rates['warm'] / rates['cold']:.1f}x")
    hmacs = rates["base"] / rates["warm"]
    print(f"a warm verification costs as much as {hmacs:.1f} bare HMACs")
    verdict = "meets" if rates["warm"] >= 100_000 else "misses"
    print(f"warm {verdict} the 100,000/s target")


if __name__ == "__main__":
    main()
