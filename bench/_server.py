"""Shared by the HTTP benchmarks: a real ``bastion serve`` on a free loopback port in a temporary
data directory, and a cheap HTTP/1.1 load generator (``wrk`` when installed, else asyncio).

All traffic goes to 127.0.0.1. Every load run lasts a fixed time and stops by itself.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

HOST = "127.0.0.1"


@dataclass
class Server:
    port: int
    data_dir: Path
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _wait_ready(server: Server, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError("bastion serve exited:\n" + server.log.read_text())
        try:
            if httpx.get(server.url + "/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    server.process.kill()
    raise RuntimeError("bastion serve did not become ready:\n" + server.log.read_text())


def start_server(tmp: Path, extra_env: dict[str, str] | None = None) -> Server:
    """Start ``python -m bastion serve`` (SQLite + in-memory hot state) and wait for /readyz."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("BASTION_")}
    # One load generator is one client IP: switch the per-IP auth limit off to measure the
    # hash-bound login path itself (the limiter has its own benchmark).
    env.update(
        {
            "BASTION_DATA_DIR": str(tmp / "data"),
            "PYTHONUNBUFFERED": "1",
            "BASTION_RATELIMIT__ENABLED": "false",
        }
    )
    env.update(extra_env or {})
    log = tmp / "server.log"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bastion",
            "serve",
            "--host",
            HOST,
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    server = Server(port, tmp / "data", process, log)
    _wait_ready(server)
    return server


def stop_server(server: Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait(timeout=15)


@contextmanager
def running_server(extra_env: dict[str, str] | None = None) -> Iterator[Server]:
    """A server in a fresh temporary directory, stopped and removed on exit."""
    tmp = Path(tempfile.mkdtemp(prefix="bastion-bench-"))
    server = start_server(tmp, extra_env)
    try:
        yield server
    finally:
        stop_server(server)
        shutil.rmtree(tmp, ignore_errors=True)


def register(client: httpx.Client, username: str, password: str) -> None:
    answer = client.post("/v1/auth/register", json={"username": username, "password": password})
    if answer.status_code != 201:
        raise RuntimeError(f"register {username}: HTTP {answer.status_code}")


def login(client: httpx.Client, username: str, password: str) -> str:
    """The access token of a fresh password login."""
    answer = client.post("/v1/auth/login", json={"username": username, "password": password})
    if answer.status_code != 200:
        raise RuntimeError(f"login {username}: HTTP {answer.status_code}")
    return str(answer.json()["access_token"])


def machine_note() -> str:
    """CPU count and 1-minute load average: other load on the machine skews every figure."""
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return f"cpus={os.cpu_count()} loadavg(1m)={load:.2f}"


def thread_cpu_seconds(pid: int) -> tuple[float, float] | None:
    """(main thread, whole process) CPU seconds (user + system) from Linux ``/proc``; None
    where ``/proc`` is missing. Threads that exited are not counted."""
    tasks = Path(f"/proc/{pid}/task")
    if not tasks.is_dir():
        return None
    tick = os.sysconf("SC_CLK_TCK")
    main = total = 0
    for task in tasks.iterdir():
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        used = int(fields[11]) + int(fields[12])  # utime, stime
        total += used
        if task.name == str(pid):
            main = used
    return main / tick, total / tick


# -- load generation ------------------------------------------------------------------------


@dataclass
class LoadResult:
    rps: float
    statuses: Counter[str] = field(default_factory=Counter)
    generator: str = "python"

    def describe(self) -> str:
        codes = ", ".join(f"{code}: {n}" for code, n in sorted(self.statuses.items()))
        return f"{self.rps:9.0f} req/s  ({self.generator}; {codes})"


def http_request(
    method: str, path: str, headers: dict[str, str] | None = None, body: bytes = b""
) -> bytes:
    """One raw HTTP/1.1 keep-alive request."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {HOST}", "User-Agent: bastion-bench"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    if body or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:\s*(\d+)", re.IGNORECASE)


async def _connection(
    port: int,
    requests: Sequence[bytes],
    offset: int,
    warm_end: float,
    end: float,
    counts: Counter[str],
) -> None:
    reader, writer = await asyncio.open_connection(HOST, port)
    loop = asyncio.get_running_loop()
    i = offset
    try:
        while loop.time() < end:
            writer.write(requests[i % len(requests)])
            i += 1
            head = await reader.readuntil(b"\r\n\r\n")
            found = _CONTENT_LENGTH.search(head)
            if found is None:
                raise RuntimeError("response without Content-Length: " + head[:200].decode())
            length = int(found.group(1))
            if length:
                await reader.readexactly(length)
            if loop.time() >= warm_end:
                counts[head[9:12].decode()] += 1
    finally:
        writer.close()


async def _python_load(
    port: int, requests: Sequence[bytes], connections: int, duration: float, warmup: float
) -> LoadResult:
    loop = asyncio.get_running_loop()
    warm_end = loop.time() + warmup
    end = warm_end + duration
    counts: Counter[str] = Counter()
    await asyncio.gather(
        *(_connection(port, requests, i, warm_end, end, counts) for i in range(connections))
    )
    measured = loop.time() - warm_end
    return LoadResult(sum(counts.values()) / measured, counts, f"python x{connections}")


def python_load(
    port: int,
    requests: Sequence[bytes],
    *,
    connections: int = 32,
    duration: float = 5.0,
    warmup: float = 1.0,
) -> LoadResult:
    """Requests/s from ``connections`` keep-alive connections, one request in flight each,
    cycling through ``requests``; counted over ``duration`` seconds after ``warmup``."""
    factory: Callable[[], asyncio.AbstractEventLoop]
    try:
        import uvloop

        factory = uvloop.new_event_loop
    except ImportError:  # pragma: no cover - uvloop ships with uvicorn[standard]
        factory = asyncio.new_event_loop
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(_python_load(port, requests, connections, duration, warmup))


def have_wrk() -> bool:
    return shutil.which("wrk") is not None


def wrk_load(
    url: str,
    headers: dict[str, str] | None = None,
    *,
    connections: int = 32,
    duration: float = 5.0,
    warmup: float = 1.0,
) -> LoadResult:
    """Requests/s measured by ``wrk`` (one thread, ``connections`` keep-alive connections).
    A separate ``warmup`` run is discarded."""
    args = ["wrk", "-t1", f"-c{connections}"]
    for k, v in (headers or {}).items():
        args += ["-H", f"{k}: {v}"]
    if warmup > 0:
        subprocess.run(
            [*args, f"-d{max(1, round(warmup))}s", url],
            capture_output=True,
            check=True,
            timeout=warmup + 30,
        )
    done = subprocess.run(
        [*args, f"-d{max(1, round(duration))}s", url],
        capture_output=True,
        text=True,
        check=True,
        timeout=duration + 30,
    )
    rate = re.search(r"Requests/sec:\s*([\d.]+)", done.stdout)
    total = re.search(r"(\d+) requests in", done.stdout)
    if rate is None or total is None:
        raise RuntimeError("could not parse wrk output:\n" + done.stdout)
    failed = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", done.stdout)
    bad = int(failed.group(1)) if failed else 0
    statuses = Counter({"2xx/3xx": int(total.group(1)) - bad, "other": bad})  # wrk says no more
    return LoadResult(float(rate.group(1)), statuses, f"wrk -t1 -c{connections}")
