"""Password login over HTTP vs the raw Argon2id verify rate it is bounded by.

Run: ``python bench/bench_login_http.py [--duration 8] [--concurrency 4] [--threads 2]``.

* ``raw``: argon2-cffi ``PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)``
  verifying a precomputed hash on ``--threads`` threads, measured before the server starts and
  again after it stops (never while it runs); the mean of the two is the baseline.
* ``login``: successful ``POST /v1/auth/login`` through a real ``bastion serve`` (SQLite,
  in-memory hot state, ``--threads`` hash workers, default throttle settings),
  ``--concurrency`` keep-alive connections cycling over ``--users`` pre-registered accounts, so
  no account is throttled (successful logins are never throttled). One login = user lookup,
  one Argon2id verify, then a transaction writing the session and refresh-token rows and an
  audit event (plus the eviction of the oldest session once an account has 10).

Prints both rates and their ratio (target >= 0.9: the hash should be the limit), then the
server's CPU per login from ``/proc``: when hashing and the event loop share every core, the
ratio cannot exceed argon2 CPU / whole-process CPU per login, which is printed as the ceiling.
"""

from __future__ import annotations

import argparse
import json
import math
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import argon2
import httpx

import _server

PASSWORD = "bench login passphrase: amber kettle 2718"


def raw_verify_rate(seconds: float, threads: int) -> tuple[float, float]:
    """(verifies/s, CPU seconds per verify) of argon2-cffi checking one precomputed hash on
    ``threads`` threads (the GIL is released inside argon2-cffi); a warm-up is excluded."""
    hasher = argon2.PasswordHasher(
        time_cost=2, memory_cost=19456, parallelism=1, type=argon2.Type.ID
    )
    stored = hasher.hash(PASSWORD)
    ready = threading.Barrier(threads + 1)
    stop_at = [0.0]

    def worker() -> tuple[int, float]:
        hasher.verify(stored, PASSWORD)  # warm-up
        ready.wait()
        done, cpu = 0, time.thread_time()
        while time.perf_counter() < stop_at[0]:
            hasher.verify(stored, PASSWORD)
            done += 1
        return done, time.thread_time() - cpu

    with ThreadPoolExecutor(max_workers=threads) as pool:
        stop_at[0] = time.perf_counter() + 3600  # until every thread is warm
        futures = [pool.submit(worker) for _ in range(threads)]
        ready.wait()
        began = time.perf_counter()
        stop_at[0] = began + seconds
        results = [f.result() for f in futures]
        elapsed = time.perf_counter() - began
    total = sum(done for done, _ in results)
    return total / elapsed, sum(cpu for _, cpu in results) / total


def _login_requests(users: int) -> list[bytes]:
    headers = {"Content-Type": "application/json"}
    return [
        _server.http_request(
            "POST",
            "/v1/auth/login",
            headers,
            json.dumps({"username": f"bench-login-{i:03d}", "password": PASSWORD}).encode(),
        )
        for i in range(users)
    ]


@dataclass
class LoginRun:
    load: _server.LoadResult
    cpu_main: float  # server event-loop thread, CPU seconds per login (nan without /proc)
    cpu_total: float  # whole server process, CPU seconds per login


def http_login_rate(args: argparse.Namespace) -> LoginRun:
    """Logins/s through a fresh server, and the server's CPU per login in the measured run."""
    env = {"BASTION_PASSWORDS__HASH_WORKERS": str(args.threads)}
    with _server.running_server(env) as server:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            for i in range(args.users):
                _server.register(client, f"bench-login-{i:03d}", PASSWORD)
        requests = _login_requests(args.users)
        _server.python_load(
            server.port, requests, connections=args.concurrency, duration=args.warmup, warmup=0
        )
        before = _server.thread_cpu_seconds(server.process.pid)
        result = _server.python_load(
            server.port, requests, connections=args.concurrency, duration=args.duration, warmup=0
        )
        after = _server.thread_cpu_seconds(server.process.pid)
    if set(result.statuses) != {"200"}:
        raise RuntimeError(f"some logins did not succeed: {dict(result.statuses)}")
    logins = sum(result.statuses.values())
    if before is None or after is None:
        return LoginRun(result, math.nan, math.nan)
    return LoginRun(result, (after[0] - before[0]) / logins, (after[1] - before[1]) / logins)


def main() -> None:
    parser = argparse.ArgumentParser(description="HTTP password logins vs raw Argon2id verifies")
    parser.add_argument("--duration", type=float, default=8.0, help="seconds of logins measured")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds of logins discarded")
    parser.add_argument("--raw-seconds", type=float, default=3.0, help="each raw measurement")
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument(
        "--threads", type=int, default=2, help="raw argon2 threads = server hash workers"
    )
    args = parser.parse_args()
    print(
        f"{_server.machine_note()} argon2id m=19456 KiB t=2 p=1, threads={args.threads} "
        f"(raw, and server hash workers), login connections={args.concurrency}, "
        f"users={args.users}"
    )
    before, cpu_before = raw_verify_rate(args.raw_seconds, args.threads)
    print(f"  raw argon2 verify, before server: {before:7.1f} /s")
    login = http_login_rate(args)
    print(f"  HTTP login:  {login.load.describe()}")
    after, cpu_after = raw_verify_rate(args.raw_seconds, args.threads)
    print(f"  raw argon2 verify, after server:  {after:7.1f} /s")
    raw, hash_cpu = (before + after) / 2, (cpu_before + cpu_after) / 2
    print(f"login rps:        {login.load.rps:7.1f}")
    print(
        f"raw verify rate:  {raw:7.1f}   (argon2-cffi, {args.threads} threads, "
        "mean of before/after)"
    )
    print(f"ratio login/raw:  {login.load.rps / raw:.2f} (target >= 0.9)")
    _print_cpu(login, hash_cpu)


def _print_cpu(login: LoginRun, hash_cpu: float) -> None:
    """Where the server's CPU goes per login, and the ratio that CPU use allows."""
    print("where the CPU goes, per login (server process, measured run):")
    print(f"  whole process      {login.cpu_total * 1000:6.1f} ms")
    print(f"  event-loop thread  {login.cpu_main * 1000:6.1f} ms  (HTTP, SQL, audit, tokens)")
    print(f"  argon2 verify      {hash_cpu * 1000:6.1f} ms  (raw, per verify)")
    rest = login.cpu_total - login.cpu_main - hash_cpu
    print(f"  other threads      {rest * 1000:6.1f} ms  (SQLite worker threads; by difference)")
    if login.cpu_total > 0:
        print(
            f"  CPU-bound ceiling of the ratio = argon2 / whole process = "
            f"{hash_cpu / login.cpu_total:.2f}"
        )


if __name__ == "__main__":
    main()
