"""Vault lookups by blind index vs the naive way: decrypt every row and compare.

Run: ``python bench/bench_vault.py [--rows 1000] [--lookups 100]``.

In one process, a whole Bastion on a temporary SQLite file holds ``rows`` phone numbers, one per
subject. Then, in the same run:

* ``indexed``: ``await guard.vault.lookup("phone", number)`` (normalise, one HMAC, one indexed
  query, one audit event per hit);
* ``scan``: the baseline without a blind index: read every row, decrypt it with
  ``guard.crypto.decrypt``, normalise and compare (what "find a user by phone number" costs when
  values are only encrypted);
* for information, ``get`` (``guard.vault.get``: one query, one decryption, one audit event)
  against a bare ``guard.crypto.decrypt`` of the same ciphertext.

Prints the CPU time per operation and the ratios; target: scan/indexed grows with the table (a
lookup's cost does not), get/decrypt shows the audit write that every read pays.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from sqlalchemy import select

from bastion import Bastion, load_settings
from bastion.infra import configure_logging
from bastion.infra.schema import vault_entries
from bastion.vault import context_for, normalise_phone


def _number(n: int) -> str:
    return f"+86 139 {n // 10000:04d} {n % 10000:04d}"


async def _per_op(call: Callable[[int], Awaitable[object]], count: int) -> float:
    """CPU seconds of this process per call: far less sensitive than wall time to other load
    on the machine and to the disk's fsync latency (every audited read waits for one)."""
    start = time.process_time()
    for i in range(count):
        await call(i)
    return (time.process_time() - start) / count


async def _scan(guard: Bastion, wanted: str) -> list[str]:
    async with guard.db.connect() as conn:
        rows = (await conn.execute(select(vault_entries))).all()
    found = []
    for row in rows:
        context = context_for(row.subject, row.field)
        plain = await guard.crypto.decrypt(row.ciphertext, subject=row.subject, context=context)
        if normalise_phone(plain.decode(), "CN") == wanted:
            found.append(row.subject)
    return found


async def _measure(folder: Path, rows: int, lookups: int) -> dict[str, float]:
    guard = await Bastion.open(load_settings(data_dir=folder))
    try:
        for n in range(rows):
            await guard.vault.put(f"user-{n}", "phone", _number(n))
        stored = await guard.vault.store.get("user-7", "phone")
        assert stored is not None

        async def indexed(i: int) -> object:
            return await guard.vault.lookup("phone", _number((i * 7919) % rows))

        async def scan(i: int) -> object:
            return await _scan(guard, normalise_phone(_number((i * 7919) % rows), "CN"))

        async def get(i: int) -> object:
            return await guard.vault.get(f"user-{(i * 7919) % rows}", "phone")

        async def decrypt(i: int) -> object:
            ctx = context_for("user-7", "phone")
            return await guard.crypto.decrypt(stored.ciphertext, subject="user-7", context=ctx)

        assert await indexed(1) == await scan(1)
        return {
            "indexed": statistics.median([await _per_op(indexed, lookups) for _ in range(3)]),
            "scan": await _per_op(scan, max(3, lookups // 20)),
            "get": statistics.median([await _per_op(get, lookups) for _ in range(3)]),
            "decrypt": statistics.median([await _per_op(decrypt, lookups) for _ in range(3)]),
        }
    finally:
        await guard.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1000, help="phone numbers stored")
    parser.add_argument("--lookups", type=int, default=100, help="operations per measurement")
    args = parser.parse_args()
    configure_logging("WARNING", json=False)
    with tempfile.TemporaryDirectory() as folder:
        t = asyncio.run(_measure(Path(folder), args.rows, args.lookups))
    print(f"rows: {args.rows}")
    for name in ("indexed", "scan", "get", "decrypt"):
        print(f"{name:>8}: {t[name] * 1e6:10.1f} us CPU/op")
    print(f"scan/indexed = {t['scan'] / t['indexed']:.1f}x (lookup by blind index is that faster)")
    print(f"get/decrypt  = {t['get'] / t['decrypt']:.1f}x (query + audit event per read)")


if __name__ == "__main__":
    main()
