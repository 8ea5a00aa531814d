"""The whole ``guard.protect(app)`` stack over HTTP vs the same app bare.

Run: ``python bench/bench_protect_http.py [--generator auto|wrk|python] [--duration 5]``.
Serves ``bench/_protect_app.py`` twice with uvicorn on loopback (one worker each): ``bare`` and
``protected`` (secure headers + request limits + API key with scope check + a rate-limit policy
keyed by the key + inspection of the query string and User-Agent in ``block`` mode). Each
request is ``GET /api/orders/7?status=open&page=2`` with an ``X-API-Key`` header. Bare and
protected alternate (ABBA) for ``--rounds`` rounds; the ratio is the median of the per-round
protected/bare ratios (target >= 0.6).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

import _server

CONNECTIONS = 32
KEY_ARGS = ("--name", "bench", "--scopes", "orders:read", "--service", "bench")
PATH = "/api/orders/7?status=open&page=2"
CONFIG = """
[[routes]]
path = "/api/orders/*"
scopes = ["orders:read"]
inspect = "block"

[ratelimit]
enabled = true

[[ratelimit.policies]]
name = "api"
match = { path = "/api/*" }
key = "apikey"
limits = ["1000000/s"]
"""


def _serve(app: str, env: dict[str, str], tmp: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = _server.free_port()
    log = (tmp / f"{app}.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            f"_protect_app:{app}",
            "--app-dir",
            str(Path(__file__).parent),
            "--host",
            _server.HOST,
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(f"http://{_server.HOST}:{port}/healthz", timeout=1)
            return process, port
        except httpx.TransportError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError((tmp / f"{app}.log").read_text()) from None
            time.sleep(0.1)


def _load(port: int, headers: dict[str, str], seconds: float, use_wrk: bool) -> float:
    if use_wrk:
        url = f"http://{_server.HOST}:{port}{PATH}"
        return _server.wrk_load(url, headers, connections=CONNECTIONS, duration=seconds).rps
    request = [_server.http_request("GET", PATH, headers)]
    return _server.python_load(
        port, request, connections=CONNECTIONS, duration=seconds, warmup=0.5
    ).rps


def main() -> None:
    parser = argparse.ArgumentParser(description="guard.protect(app) vs the bare app over HTTP")
    parser.add_argument("--generator", choices=["auto", "wrk", "python"], default="auto")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds measured per run")
    parser.add_argument("--rounds", type=int, default=3, help="alternating bare/protected rounds")
    args = parser.parse_args()
    use_wrk = args.generator == "wrk" or (args.generator == "auto" and _server.have_wrk())
    print(
        f"{_server.machine_note()} generator={'wrk' if use_wrk else 'python asyncio'} "
        f"connections={CONNECTIONS} duration={args.duration}s"
    )
    tmp = Path(tempfile.mkdtemp(prefix="bastion-bench-protect-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("BASTION_")}
    (tmp / "bastion.toml").write_text(CONFIG, encoding="utf-8")
    env.update({"BASTION_CONFIG": str(tmp / "bastion.toml"), "BASTION_DATA_DIR": str(tmp / "d")})
    made = subprocess.run(
        [sys.executable, "-m", "bastion", "apikeys", "create", *KEY_ARGS],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    (key,) = re.findall(r"bst_\w+", made.stdout)
    headers = {"X-API-Key": key}
    servers = {name: _serve(name, env, tmp) for name in ("bare", "protected")}
    try:
        for name, (_, port) in servers.items():
            r = httpx.get(f"http://{_server.HOST}:{port}{PATH}", headers=headers)
            assert r.status_code == 200, (name, r.status_code, r.text)
        denied = httpx.get(f"http://{_server.HOST}:{servers['protected'][1]}{PATH}")
        assert denied.status_code == 401
        for _, port in servers.values():  # warm: caches filled, code paths compiled
            _load(port, headers, 1.0, use_wrk)
        rates: dict[str, list[float]] = {"bare": [], "protected": []}
        cpu: dict[str, list[float]] = {"bare": [], "protected": []}
        for n in range(args.rounds):
            order = ["bare", "protected"] if n % 2 == 0 else ["protected", "bare"]
            for name in order:
                process, port = servers[name]
                before = _server.thread_cpu_seconds(process.pid)
                rates[name].append(_load(port, headers, args.duration, use_wrk))
                after = _server.thread_cpu_seconds(process.pid)
                if before and after:
                    served = rates[name][-1] * args.duration
                    cpu[name].append((after[1] - before[1]) / served * 1e6)
                print(f"  round {n + 1} {name:<9} {rates[name][-1]:9.0f} req/s")
    finally:
        for process, _ in servers.values():
            process.terminate()
            process.wait(timeout=15)
        shutil.rmtree(tmp, ignore_errors=True)
    ratios = sorted(p / b for p, b in zip(rates["protected"], rates["bare"], strict=True))
    print(f"bare rps:      {max(rates['bare']):9.0f}   (best of {args.rounds})")
    print(f"protected rps: {max(rates['protected']):9.0f}   (best of {args.rounds})")
    print(
        f"ratio protected/bare: {statistics.median(ratios):.2f} (target >= 0.6; per round "
        f"{', '.join(f'{r:.2f}' for r in ratios)})"
    )
    if cpu["bare"] and cpu["protected"]:
        bare_us, protected_us = statistics.median(cpu["bare"]), statistics.median(cpu["protected"])
        print(
            f"server CPU per request: bare {bare_us:.0f} us, protected {protected_us:.0f} us; "
            f"CPU ratio bare/protected {bare_us / protected_us:.2f} (medians; steadier under "
            "other load on the machine)"
        )


if __name__ == "__main__":
    main()
