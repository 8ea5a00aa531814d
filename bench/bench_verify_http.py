"""Forward auth over HTTP: ``GET /v1/verify`` with a valid token vs ``GET /healthz``.

Run: ``python bench/bench_verify_http.py [--generator auto|wrk|python] [--duration 5]``.
Starts ``bastion serve`` (SQLite, in-memory hot state) on a free loopback port, registers and
logs in one user, then measures, with the same load generator and connection count:

* ``bare``: ``/healthz``, the baseline (same server and middleware, trivial handler);
* ``verify``: ``/v1/verify`` with the valid access token (warm verify cache);
* ``401``: ``/v1/verify`` with a token whose signature is wrong (information only: each denial
  verifies a signature and writes an audit event).

Bare and verify alternate (ABBA order) for ``--rounds`` rounds; the ratio printed is the median
of the per-round verify/bare ratios (target >= 0.8), which tolerates other load on the machine
better than comparing two single runs. Absolute numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import math
import statistics
from dataclasses import dataclass

import httpx

import _server

PASSWORD = "bench verify passphrase: quartz lantern 1947"
CONNECTIONS = 32


def _tampered(token: str) -> str:
    """Same header and claims, last signature character changed: a bad signature."""
    return token[:-1] + ("A" if token[-1] != "A" else "B")


@dataclass
class Run:
    load: _server.LoadResult
    cpu_us: float  # server process CPU microseconds per response (nan without /proc)


def _load(
    server: _server.Server, path: str, headers: dict[str, str], seconds: float, use_wrk: bool
) -> _server.LoadResult:
    if use_wrk:
        url = server.url + path
        return _server.wrk_load(url, headers, connections=CONNECTIONS, duration=seconds, warmup=0)
    request = [_server.http_request("GET", path, headers)]
    return _server.python_load(
        server.port, request, connections=CONNECTIONS, duration=seconds, warmup=0
    )


def _measure(
    server: _server.Server, path: str, token: str | None, args: argparse.Namespace, use_wrk: bool
) -> Run:
    """Warm up, then one measured run: its rate and the server's CPU per response."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if args.warmup > 0:
        _load(server, path, headers, args.warmup, use_wrk)
    before = _server.thread_cpu_seconds(server.process.pid)
    result = _load(server, path, headers, args.duration, use_wrk)
    after = _server.thread_cpu_seconds(server.process.pid)
    responses = sum(result.statuses.values())
    if before is None or after is None or responses == 0:
        return Run(result, math.nan)
    return Run(result, (after[1] - before[1]) / responses * 1e6)


def _check(server: _server.Server, token: str) -> None:
    """The endpoints answer as the benchmark assumes before any load is sent."""
    auth = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=server.url, timeout=10) as client:
        assert client.get("/healthz").status_code == 200
        assert client.get("/v1/verify", headers=auth).status_code == 200
        bad = {"Authorization": f"Bearer {_tampered(token)}"}
        assert client.get("/v1/verify", headers=bad).status_code == 401


def main() -> None:
    parser = argparse.ArgumentParser(description="/v1/verify vs /healthz over HTTP")
    parser.add_argument("--generator", choices=["auto", "wrk", "python"], default="auto")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds measured per run")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds discarded per run")
    parser.add_argument("--rounds", type=int, default=3, help="alternating bare/verify rounds")
    args = parser.parse_args()
    use_wrk = args.generator == "wrk" or (args.generator == "auto" and _server.have_wrk())
    print(
        f"{_server.machine_note()} generator={'wrk' if use_wrk else 'python asyncio'} "
        f"connections={CONNECTIONS} duration={args.duration}s warmup={args.warmup}s"
    )
    with _server.running_server() as server:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            _server.register(client, "bench-verify", PASSWORD)
            token = _server.login(client, "bench-verify", PASSWORD)
        _check(server, token)
        bare: list[Run] = []
        verify: list[Run] = []
        for n in range(args.rounds):
            pair = [("bare", "/healthz", None, bare), ("verify", "/v1/verify", token, verify)]
            for label, path, auth, runs in pair if n % 2 == 0 else pair[::-1]:
                runs.append(_measure(server, path, auth, args, use_wrk))
                print(f"  round {n + 1} {label:<6} {_line(runs[-1])}")
        denied = _measure(server, "/v1/verify", _tampered(token), args, use_wrk)
        print(f"  401 (bad signature) {_line(denied)}")
    _summary(bare, verify, denied)


def _line(run: Run) -> str:
    return f"{run.load.describe()}  server CPU {run.cpu_us:5.0f} us/req"


def _summary(bare: list[Run], verify: list[Run], denied: Run) -> None:
    ratios = sorted(v.load.rps / b.load.rps for v, b in zip(verify, bare, strict=True))
    cpu_bare = statistics.median(r.cpu_us for r in bare)
    cpu_verify = statistics.median(r.cpu_us for r in verify)
    print(f"verify rps: {max(r.load.rps for r in verify):9.0f}   (best of {len(verify)})")
    print(f"bare rps:   {max(r.load.rps for r in bare):9.0f}   (/healthz, best of {len(bare)})")
    print(f"401 rps:    {denied.load.rps:9.0f}   (bad signature + audit write; information)")
    print(
        f"ratio verify/bare: {statistics.median(ratios):.2f} (target >= 0.8; median of the "
        f"per-round ratios {', '.join(f'{r:.2f}' for r in ratios)})"
    )
    print(
        f"server CPU per request: bare {cpu_bare:.0f} us, verify {cpu_verify:.0f} us, "
        f"401 {denied.cpu_us:.0f} us; CPU ratio bare/verify {cpu_bare / cpu_verify:.2f} "
        "(medians; less sensitive to other load on the machine)"
    )


if __name__ == "__main__":
    main()
