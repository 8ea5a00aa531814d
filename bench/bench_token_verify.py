"""Access-token verification: PyJWT's raw decode vs ``TokenService.verify`` vs the warm cache.

Run: ``python bench/bench_token_verify.py [--seconds 1.5] [--rounds 3] [--alg EdDSA]``.

In one process, on one EdDSA (or ES256) token issued by a keyring in a temporary SQLite file:

* ``a`` raw: ``jwt.decode(token, public_key, algorithms=[alg], audience=..., issuer=...)``;
* ``b`` cold: ``await TokenService.verify(token)`` with the cache disabled (every call parses the
  header, checks our header rules, looks the kid up, verifies the signature and the claims);
* ``c`` warm: ``TokenService.verify_cached(token)`` on a cached token (no await, no parsing).

The three are measured in interleaved rounds and the median of each is kept. Prints ops/s and the
ratios (targets: b/a >= 0.9, c/a far above 1), then the memory a cached token costs: tracemalloc
over 10,000 distinct verified tokens (claims + cache entry), plus the token string the cache keeps
as its key.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import jwt

from bastion.config import TokenSettings
from bastion.crypto import MasterKey
from bastion.infra import Database, SystemClock, migrate
from bastion.sessions._keys import SigningKeyring
from bastion.sessions._tokens import TokenService

CACHED_TOKENS = 10_000


def _rate(call: Callable[[], object], seconds: float) -> float:
    """Calls per second of ``call`` over about ``seconds`` (batches of 200)."""
    done, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        for _ in range(200):
            call()
        done += 200
    return done / elapsed


async def _async_rate(make: Callable[[], object], seconds: float) -> float:
    done, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        for _ in range(200):
            await make()  # type: ignore[misc]
        done += 200
    return done / elapsed


async def _memory_per_token(ring: SigningKeyring, settings: TokenSettings) -> tuple[float, float]:
    """(bytes per cached token retained by the cache, bytes of the token string it keys on)."""
    service = TokenService(ring, SystemClock(), settings)
    tokens = [
        service.issue(
            subject=f"user-{i:06d}",
            session_id=os.urandom(16).hex(),
            scopes=["read", "write"],
            amr=["pwd"],
        )[0]
        for i in range(CACHED_TOKENS)
    ]
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for token in tokens:
        await service.verify(token)
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    assert all(service.verify_cached(t) is not None for t in tokens)
    key_bytes = statistics.mean(sys.getsizeof(t) for t in tokens)
    return (after - before) / CACHED_TOKENS, key_bytes


async def _measure(
    ring: SigningKeyring, settings: TokenSettings, rounds: int, seconds: float
) -> tuple[str, float, float, float]:
    """(token, a, b, c): median ops/s of raw PyJWT decode, cold verify and warm verify_cached."""
    clock = SystemClock()
    cold = TokenService(ring, clock, settings.model_copy(update={"verify_cache_size": 0}))
    warm = TokenService(ring, clock, settings)
    token, claims = warm.issue(
        subject="user-000001",
        session_id=os.urandom(16).hex(),
        scopes=["read", "write"],
        amr=["pwd"],
    )
    found = ring.verification_key(ring.signing_key().kid)
    assert found is not None
    alg, public = found
    assert await cold.verify(token) == await warm.verify(token) == claims
    required = ["exp", "iat", "nbf", "iss", "aud", "sub", "jti"]

    def raw() -> object:
        return jwt.decode(
            token,
            public,
            algorithms=[alg],
            audience=settings.audience,
            issuer=settings.issuer,
            options={"require": required},
        )

    rates: dict[str, list[float]] = {"a": [], "b": [], "c": []}
    for _ in range(rounds):
        rates["a"].append(_rate(raw, seconds))
        rates["b"].append(await _async_rate(lambda: cold.verify(token), seconds))
        rates["c"].append(_rate(lambda: warm.verify_cached(token), seconds))
    a, b, c = (statistics.median(rates[k]) for k in "abc")
    return token, a, b, c


async def _run(args: argparse.Namespace, workdir: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{workdir / 'bench.db'}")
    await migrate(db)
    settings = TokenSettings(algorithm=args.alg)
    ring = SigningKeyring(db, MasterKey(os.urandom(32)), SystemClock(), settings)
    await ring.load()
    token, a, b, c = await _measure(ring, settings, args.rounds, args.seconds)
    print(f"token: {args.alg}, {len(token)} characters; median of {args.rounds} interleaved rounds")
    print(f"(a) PyJWT jwt.decode (raw)         {a:12,.0f} ops/s  {1e6 / a:8.2f} us/op")
    print(f"(b) TokenService.verify, cold      {b:12,.0f} ops/s  {1e6 / b:8.2f} us/op")
    print(f"(c) TokenService.verify_cached     {c:12,.0f} ops/s  {1e6 / c:8.2f} us/op")
    print(f"b/a = {b / a:.3f}   (target >= 0.9)")
    print(f"c/a = {c / a:.1f}    (target: far above 1)")
    retained, key = await _memory_per_token(ring, settings)
    total, full = retained + key, settings.verify_cache_size
    print(f"memory per cached token ({CACHED_TOKENS:,} entries): {retained:,.0f} B claims + entry")
    print(f"  + {key:,.0f} B token string kept as the key = {total:,.0f} B per token")
    print(f"  at verify_cache_size={full:,} (default): {full * total / 2**20:,.0f} MiB when full")
    await db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.5, help="time per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (median kept)")
    parser.add_argument("--alg", choices=["EdDSA", "ES256"], default="EdDSA")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bastion-bench-") as tmp:
        asyncio.run(_run(args, Path(tmp)))


if __name__ == "__main__":
    main()
