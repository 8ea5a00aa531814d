"""Fixtures: the vulnerable app served over real HTTP (uvicorn in a thread, loopback)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
import uvicorn

from tests.scanner.vulnerable_app import VulnerableApp


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve(app: VulnerableApp, **ssl: str) -> Iterator[str]:
    """Serve ``app`` on a free loopback port; yields its base URL."""
    port = _free_port()
    config = uvicorn.Config(
        app.app, host="127.0.0.1", port=port, log_level="error", server_header=False,
        lifespan="off", interface="asgi3", **ssl,
    )  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the vulnerable app did not start")
        time.sleep(0.01)  # polling for start-up, not waiting for an expiry
    scheme = "https" if ssl else "http"
    try:
        yield f"{scheme}://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def vulnerable() -> Callable[..., object]:
    """``with vulnerable({"flaw", ...}) as (url, app):`` serves a fresh app."""

    @contextmanager
    def start(
        flaws: set[str] | frozenset[str] = frozenset(),
    ) -> Iterator[tuple[str, VulnerableApp]]:
        app = VulnerableApp(flaws)
        with serve(app) as url:
            yield url, app

    return start
