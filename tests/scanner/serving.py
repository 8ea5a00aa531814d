"""Serving ASGI apps for the scanner's tests: uvicorn in a thread on a free loopback port,
over plain HTTP or over TLS (certificate and key files, with an optional adjustment of the
server's ``ssl.SSLContext``, e.g. to accept obsolete protocol versions)."""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from starlette.responses import RedirectResponse


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve(
    app: Any,
    *,
    port: int | None = None,
    tls: Callable[[ssl.SSLContext], None] | None = None,
    **files: str,
) -> Iterator[str]:
    """Serve the ASGI ``app`` on loopback (``port`` or a free one); yields its base URL.
    ``files`` are uvicorn's ``ssl_certfile``/``ssl_keyfile``; ``tls`` adjusts the context."""
    port = port or free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="error", server_header=False,
        lifespan="off", interface="asgi3", **files,
    )  # fmt: skip
    config.load()  # builds config.ssl from the files; the server then keeps it
    if tls is not None:
        assert config.ssl is not None
        tls(config.ssl)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.01)  # polling for start-up, not waiting for an expiry
    scheme = "https" if files else "http"
    try:
        yield f"{scheme}://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def redirect_to(base: str) -> Any:
    """An ASGI app answering every request with a 308 to the same path under ``base``."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await RedirectResponse(base + scope["path"], status_code=308)(scope, receive, send)

    return app
