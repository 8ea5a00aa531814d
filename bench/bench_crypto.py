"""Data protection: envelope encryption against raw AES-GCM, and KEK rotation over many keys.

Run: ``python bench/bench_crypto.py [--seconds 1.0] [--rounds 5] [--deks 100000]``
(``--deks 1000000`` for the full one-million-key rotation; about 5x longer).

1. **Encrypt + decrypt of a 1 KiB value**, in one process, interleaved rounds (median kept):

   * ``raw``: ``AESGCM.encrypt`` then ``decrypt`` with a fresh ``os.urandom(12)`` nonce and a
     key object made once: the least any correct AES-GCM use does;
   * ``sync``: ``guard.crypto.encrypt_cached`` / ``decrypt_cached`` (cached data key: header,
     associated data, message count, cache lookup; no I/O);
   * ``async``: ``await guard.crypto.encrypt`` / ``decrypt`` (the same plus the coroutines).

   Target: sync/raw >= 0.8.

2. **``rotate`` over N data keys** in a SQLite key store: data keys per second, and the peak
   Python memory (tracemalloc) of a rotation over N/10 and over N keys: flat in N because the
   key store is streamed in pages of 1,000.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from bastion import Bastion
from bastion.config import Settings
from bastion.crypto._keyring import wrap_aad
from bastion.crypto._keystore import DekRow
from bastion.infra import SystemClock

VALUE = os.urandom(1024)
CONTEXT = "bench.value:1"


def _rate(step: Callable[[], object], seconds: float) -> float:
    done, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        for _ in range(500):
            step()
        done += 500
    return done / elapsed


async def _async_rate(guard: Bastion, seconds: float) -> float:
    crypto, done, start = guard.crypto, 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        for _ in range(500):
            blob = await crypto.encrypt(VALUE, subject="u1", context=CONTEXT)
            await crypto.decrypt(blob, subject="u1", context=CONTEXT)
        done += 500
    return done / elapsed


async def bench_envelope(guard: Bastion, rounds: int, seconds: float) -> dict[str, float]:
    crypto = guard.crypto
    await crypto.encrypt(VALUE, subject="u1", context=CONTEXT)  # warm the data key
    raw_key = AESGCM(os.urandom(32))

    def raw() -> None:
        nonce = os.urandom(12)
        raw_key.decrypt(nonce, raw_key.encrypt(nonce, VALUE, b"aad"), b"aad")

    def sync() -> None:
        blob = crypto.encrypt_cached(VALUE, subject="u1", context=CONTEXT)
        assert blob is not None
        crypto.decrypt_cached(blob, subject="u1", context=CONTEXT)

    found: dict[str, list[float]] = {"raw": [], "sync": [], "async": []}
    for _ in range(rounds):
        found["raw"].append(_rate(raw, seconds))
        found["sync"].append(_rate(sync, seconds))
        found["async"].append(await _async_rate(guard, seconds))
    return {name: statistics.median(rates) for name, rates in found.items()}


async def _fill(guard: Bastion, count: int) -> None:
    """``count`` data keys wrapped by the current KEK, inserted in chunks (as many subjects)."""
    kek, now = guard.crypto.keyring.current, SystemClock().now()
    for start in range(0, count, 10_000):
        rows = []
        for n in range(start, min(start + 10_000, count)):
            dek_id, skey = os.urandom(16).hex(), f"{n:032x}"
            wrapped = kek.wrap(os.urandom(32), wrap_aad(dek_id, kek.version, skey, "bench"))
            rows.append(DekRow(dek_id, skey, "bench", kek.version, wrapped, "active", 0, now))
        await guard.crypto.store.add_deks(rows)


async def _rotation(guard: Bastion, *, traced: bool) -> tuple[float, int, int]:
    if traced:
        tracemalloc.start()
    start = time.perf_counter()
    report = await guard.crypto.rotate(batch=1000)
    elapsed = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1] if traced else 0
    if traced:
        tracemalloc.stop()
    return elapsed, report.rewrapped, peak


async def bench_rotation(folder: Path, deks: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for size in (deks // 10, deks):
        data = folder / f"rot{size}"
        settings = Settings.model_validate({"data_dir": data, "master_key": "B" * 43})
        guard = await Bastion.open(settings)
        try:
            await _fill(guard, size)
            if size == deks:
                elapsed, done, _ = await _rotation(guard, traced=False)
                out["rate"], out["elapsed"], out["done"] = done / elapsed, elapsed, done
            out[f"peak_{size}"] = (await _rotation(guard, traced=True))[2]
        finally:
            await guard.close()
    return out


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        settings = Settings.model_validate(
            {
                "data_dir": folder / "env",
                "master_key": "B" * 43,
                # one reservation covers the run, so the sync path never needs the key store
                "crypto": {"reserve_block": 2**32},
            }
        )
        guard = await Bastion.open(settings)
        try:
            rates = await bench_envelope(guard, args.rounds, args.seconds)
        finally:
            await guard.close()
        print("encrypt+decrypt of 1 KiB (pairs/s, median of rounds):")
        for name, rate in rates.items():
            print(f"  {name:6} {rate:12,.0f}")
        print(f"  ratio sync/raw  = {rates['sync'] / rates['raw']:.2f}  (target >= 0.8)")
        print(f"  ratio async/raw = {rates['async'] / rates['raw']:.2f}")
        rot = await bench_rotation(folder, args.deks)
        small, big = rot[f"peak_{args.deks // 10}"], rot[f"peak_{args.deks}"]
        print(f"rotate over {rot['done']:,} data keys (SQLite key store, pages of 1,000):")
        print(f"  {rot['elapsed']:.1f} s, {rot['rate']:,.0f} data keys/s")
        print(
            f"  peak traced memory: {small / 1e6:.1f} MB at {args.deks // 10:,} keys, "
            f"{big / 1e6:.1f} MB at {args.deks:,} keys (ratio {big / max(small, 1):.2f})"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="per round and variant")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--deks", type=int, default=100_000, help="data keys to rotate")
    asyncio.run(main(parser.parse_args()))
