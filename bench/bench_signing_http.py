"""Signature verification overhead per request through one real HTTP server.

Run: ``python bench/bench_signing_http.py [--requests 3000] [--rounds 2]``.

A uvicorn server (a subprocess) runs a small Starlette app wrapped in
``RequireSignatureMiddleware``: ``POST /signed/orders`` must carry a valid signature (session
key, content-digest of the body, nonce spent in in-process hot state, session liveness from a
warm cache), ``POST /plain/orders`` passes the middleware untouched. Both echo the same 200-byte
JSON body. The client pre-signs every request (its own cost is not counted), then sends
``--requests`` plain and ``--requests`` signed requests over one keep-alive connection in ABBA
rounds. The figure that counts is the **server CPU per request** (from ``/proc``), which the
client's own cost does not move; requests/s are printed for information.

Target: signed CPU per request <= 1.3 x plain (verification adds <= 30 %).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _server import HOST, free_port, machine_note, thread_cpu_seconds

MASTER = "S" * 43
PASSWORD = "violet tractor hums at dawn"
BODY = b'{"order":{"item":"green tea","qty":2,"note":"' + b"x" * 140 + b'"},"v":1}'


async def _session(data_dir: Path) -> tuple[str, bytes]:
    """Create a user and a session in the data directory; return its signing key."""
    from bastion import Bastion, load_settings
    from bastion.sessions import DeviceInfo

    guard = await Bastion.open(load_settings(None, data_dir=data_dir, master_key=MASTER))
    try:
        await guard.identity.register("bench", PASSWORD)
        pair = await guard.identity.login("bench", PASSWORD, DeviceInfo())
        key = guard.signatures.session_key(pair.session_id)  # type: ignore[union-attr]
        return key.key_id, key.secret
    finally:
        await guard.close()


async def _serve(port: int) -> None:
    """The server side (run in the subprocess)."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    from bastion import Bastion, load_settings
    from bastion.http._signing import RequireSignatureMiddleware
    from bastion.infra import configure_logging

    configure_logging("WARNING", json=False)

    async def echo(request: Request) -> Response:
        return Response(await request.body(), media_type="application/json")

    guard = await Bastion.open(load_settings(None))
    inner = Starlette(routes=[Route("/{path:path}", echo, methods=["POST"])])
    app = RequireSignatureMiddleware(
        inner, guard=guard, applies=lambda method, path: path.startswith("/signed/")
    )
    config = uvicorn.Config(app, host=HOST, port=port, log_level="warning", access_log=False)
    try:
        await uvicorn.Server(config).serve()
    finally:
        await guard.close()


def _signed_headers(key_id: str, secret: bytes, n: int) -> list[dict[str, str]]:
    from bastion.signing import sign_request

    base = {"Content-Type": "application/json"}
    now = int(time.time())
    return [
        {
            **base,
            **sign_request(
                key_id=key_id,
                secret=secret,
                method="POST",
                path="/signed/orders",
                headers=base,
                body=BODY,
                created=now,
            ),
        }
        for _ in range(n)
    ]


def _run(
    client: httpx.Client, pid: int, path: str, headers: list[dict[str, str]]
) -> tuple[float, float]:
    """(server CPU microseconds per request, requests/s) for one batch."""
    before, start = thread_cpu_seconds(pid), time.perf_counter()
    for h in headers:
        r = client.post(path, content=BODY, headers=h)
        if r.status_code != 200:
            raise RuntimeError(f"{path}: HTTP {r.status_code} {r.text[:200]}")
    elapsed, after = time.perf_counter() - start, thread_cpu_seconds(pid)
    cpu = float("nan") if before is None or after is None else (after[1] - before[1])
    return cpu / len(headers) * 1e6, len(headers) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(_serve(args.serve))
        return
    print(machine_note())
    with tempfile.TemporaryDirectory() as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("BASTION_")}
        env.update(BASTION_DATA_DIR=tmp, BASTION_MASTER_KEY=MASTER)
        key_id, secret = asyncio.run(_session(Path(tmp)))
        port = free_port()
        process = subprocess.Popen([sys.executable, __file__, "--serve", str(port)], env=env)
        try:
            _measure(process.pid, port, key_id, secret, args.requests, args.rounds)
        finally:
            process.terminate()
            process.wait(timeout=15)


def _measure(pid: int, port: int, key_id: str, secret: bytes, n: int, rounds: int) -> None:
    url = f"http://{HOST}:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.post(url + "/plain/x", content=b"{}", timeout=1)
            break
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)  # waiting for start-up
    plain_headers = [{"Content-Type": "application/json"}] * n
    results: dict[str, list[tuple[float, float]]] = {"plain": [], "signed": []}
    with httpx.Client(base_url=url, timeout=10) as client:
        _run(client, pid, "/plain/orders", plain_headers[:300])  # warm-up
        _run(client, pid, "/signed/orders", _signed_headers(key_id, secret, 300))
        for i in range(rounds):
            order = ("plain", "signed") if i % 2 == 0 else ("signed", "plain")
            for name in (*order, *reversed(order)):
                if name == "plain":
                    results[name].append(_run(client, pid, "/plain/orders", plain_headers))
                else:
                    signed = _signed_headers(key_id, secret, n)
                    results[name].append(_run(client, pid, "/signed/orders", signed))
    cpu = {k: statistics.median(c for c, _ in v) for k, v in results.items()}
    rps = {k: statistics.median(r for _, r in v) for k, v in results.items()}
    for name in ("plain", "signed"):
        print(f"{name:7} {cpu[name]:8.1f} us server CPU/request", end="  ")
        print(f"{rps[name]:8.0f} req/s (one connection)")
    per_round = [
        sum(c for c, _ in results["signed"][2 * i : 2 * i + 2])
        / sum(c for c, _ in results["plain"][2 * i : 2 * i + 2])
        for i in range(rounds)
    ]
    for name in ("plain", "signed"):
        batches = " ".join(f"{c:.0f}" for c, _ in results[name])
        print(f"{name:7} batches (us server CPU/request): {batches}")
    print("per ABBA round signed/plain: " + " ".join(f"{r:.2f}" for r in per_round))
    ratio = cpu["signed"] / cpu["plain"]
    added = 100 * (ratio - 1)
    print(f"signed/plain server CPU: {ratio:.2f} (adds {added:.0f} %; target <= 30 %)")


if __name__ == "__main__":
    main()
