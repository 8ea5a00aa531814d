"""Memory and storage per active session, measured in-process on a temporary SQLite data dir.

Run: ``python bench/bench_memory.py [--sessions 2000] [--stored 200]``.

* bytes per cached access token: ``TokenService``'s verify cache after verifying N distinct
  tokens (token string as key, claims, kid, nbf, LRU node), by ``tracemalloc`` difference;
* bytes per revoked-session entry: ``Revocations`` after remembering N session ids;
* bytes per stored session: growth of the SQLite file (after a WAL checkpoint) when N distinct
  users log in once each: session row, refresh-token row, audit event and their indexes.
  Registration hashes a password per user, so N is smaller here.

The in-memory figures include Python object overheads and the dict's amortised growth, so
they vary a little with N; the per-table figures come from SQLite's ``dbstat`` table.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import shutil
import sqlite3
import tempfile
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path

from bastion import Bastion, load_settings
from bastion.infra import configure_logging, new_id
from bastion.sessions import DeviceInfo

PASSWORD = "bench memory passphrase: cobalt meadow 3141"
SESSION_TABLES = ("sessions", "refresh_tokens", "audit_events")


def _traced() -> int:
    gc.collect()
    return tracemalloc.get_traced_memory()[0]


async def bytes_per_cached_token(guard: Bastion, n: int) -> float:
    """Traced bytes the verify cache keeps per distinct verified token."""
    warm, _ = guard.tokens.issue(
        subject=new_id(), session_id=new_id(), scopes=("user",), amr=("pwd",)
    )
    await guard.tokens.verify(warm)  # loads keys and fills one-off caches outside the window
    before = _traced()
    tokens = [
        guard.tokens.issue(subject=new_id(), session_id=new_id(), scopes=("user",), amr=("pwd",))[0]
        for _ in range(n)
    ]
    for token in tokens:
        await guard.tokens.verify(token)
    del tokens  # the cache's keys are now the only references to the token strings
    return (_traced() - before) / n


def bytes_per_revoked_entry(guard: Bastion, n: int) -> float:
    """Traced bytes the revocation set keeps per remembered session id."""
    before = _traced()
    for _ in range(n):
        guard.revocations._remember_local(new_id())
    return (_traced() - before) / n


async def _bounded(limit: int, jobs: list[Callable[[], Awaitable[object]]]) -> None:
    gate = asyncio.Semaphore(limit)

    async def one(job: Callable[[], Awaitable[object]]) -> None:
        async with gate:
            await job()

    await asyncio.gather(*(one(job) for job in jobs))


async def _checkpoint(guard: Bastion) -> None:
    async with guard.db.connect() as conn:
        await conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


def _table_bytes(db_file: Path) -> tuple[int, dict[str, int]]:
    """(file size, payload bytes per table and index) read through ``dbstat``."""
    with sqlite3.connect(f"file:{db_file}?mode=ro", uri=True) as conn:
        rows = conn.execute("SELECT name, SUM(payload) FROM dbstat GROUP BY name").fetchall()
    conn.close()
    return db_file.stat().st_size, {str(name): int(size) for name, size in rows}


async def db_bytes_per_session(guard: Bastion, n: int) -> tuple[float, dict[str, float]]:
    """SQLite file growth and payload growth per table when n users log in once each."""
    names = [f"bench-memory-{i:05d}" for i in range(n)]
    await _bounded(4, [partial(guard.identity.register, u, PASSWORD) for u in names])
    db_file = guard.settings.data_dir / "bastion.db"
    await _checkpoint(guard)
    size_before, tables_before = _table_bytes(db_file)
    device = DeviceInfo(user_agent="bastion-bench", ip="127.0.0.1")
    await _bounded(4, [partial(guard.identity.login, u, PASSWORD, device) for u in names])
    await _checkpoint(guard)
    size_after, tables_after = _table_bytes(db_file)
    grown = {
        name: (size - tables_before.get(name, 0)) / n
        for name, size in tables_after.items()
        if size != tables_before.get(name, 0)
    }
    return (size_after - size_before) / n, grown


async def run(args: argparse.Namespace) -> None:
    configure_logging("WARNING")
    tmp = Path(tempfile.mkdtemp(prefix="bastion-bench-"))
    guard = await Bastion.open(load_settings(None, data_dir=tmp / "data"))
    try:
        tracemalloc.start()
        token = await bytes_per_cached_token(guard, args.sessions)
        revoked = bytes_per_revoked_entry(guard, args.sessions)
        tracemalloc.stop()
        started = time.perf_counter()
        stored, tables = await db_bytes_per_session(guard, args.stored)
        took = time.perf_counter() - started
    finally:
        await guard.close()
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"in memory, N={args.sessions} (tracemalloc):")
    print(f"  bytes per cached token:         {token:8.0f}")
    print(f"  bytes per revoked-session entry: {revoked:7.0f}")
    print(f"SQLite, N={args.stored} logins of distinct users ({took:.1f} s incl. registration):")
    print(f"  bytes per stored session (file growth): {stored:7.0f}")
    for name, size in sorted(tables.items(), key=lambda kv: -kv[1]):
        print(f"    payload {name:<40} {size:7.0f} bytes/session")


def main() -> None:
    parser = argparse.ArgumentParser(description="Memory and storage per session")
    parser.add_argument("--sessions", type=int, default=2000, help="tokens / revoked ids")
    parser.add_argument("--stored", type=int, default=200, help="users logged in for the DB part")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
