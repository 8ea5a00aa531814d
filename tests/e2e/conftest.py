"""End-to-end fixtures: a real ``bastion serve`` process per backend, reached over real HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import (
    POSTGRES_URL,
    REDIS_URL,
    drop_pg_database,
    recreate_pg_database,
    require_service,
)


@dataclass
class Server:
    url: str
    data_dir: Path
    env: dict[str, str]
    process: subprocess.Popen[bytes]
    log: Path
    pg_database: str | None = None
    """The per-server PostgreSQL database, dropped when the server stops."""

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def cli(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run ``bastion ARGS`` against the same data dir / database as the server."""
        return subprocess.run(
            [sys.executable, "-m", "bastion", *args],
            env=self.env,
            input=stdin,
            text=True,
            capture_output=True,
            timeout=120,
            check=False,
        )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pg_database_for(name: str) -> str:
    """A fresh PostgreSQL database for one server."""
    import asyncio

    return asyncio.run(recreate_pg_database(name))


def start_server(tmp: Path, backend: str, extra_env: dict[str, str] | None = None) -> Server:
    port = _free_port()
    pg_database: str | None = None
    env = {k: v for k, v in os.environ.items() if not k.startswith("BASTION_")}
    env.update({"BASTION_DATA_DIR": str(tmp / "data"), "PYTHONUNBUFFERED": "1"})
    if backend == "postgres-redis":
        require_service("PostgreSQL", POSTGRES_URL, 5432)
        require_service("Redis", REDIS_URL, 6379)
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        pg_database = f"bastion_e2e_{worker}_{uuid.uuid4().hex[:6]}"
        env["BASTION_DATABASE__URL"] = _pg_database_for(pg_database)
        env["BASTION_REDIS__URL"] = REDIS_URL
        env["BASTION_REDIS__PREFIX"] = f"e2e{uuid.uuid4().hex[:8]}:"
    env.update(extra_env or {})
    log = tmp / "server.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "bastion", "serve", "--port", str(port), "--log-level", "warning"],
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    server = Server(f"http://127.0.0.1:{port}", tmp / "data", env, process, log, pg_database)
    _wait_ready(server)
    return server


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
        time.sleep(0.1)  # polling for start-up, not waiting for an expiry
    server.process.kill()
    raise RuntimeError("bastion serve did not become ready:\n" + server.log.read_text())


def stop_server(server: Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait(timeout=15)
    if server.pg_database is not None:
        import asyncio

        asyncio.run(drop_pg_database(server.pg_database))


@pytest.fixture(scope="module", params=["sqlite-memory", "postgres-redis"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    running = start_server(tmp_path_factory.mktemp("e2e"), request.param)
    yield running
    stop_server(running)


@pytest.fixture
def http(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        yield client
