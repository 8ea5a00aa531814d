"""A tiny loopback HTTP server the scanner runs while it tests ``jku``/``x5u``: it serves the
scanner's own JWKS and records every fetch, so a target that fetches an attacker-named key
URL is seen even when it then rejects the token."""

from __future__ import annotations

import asyncio
import json
from typing import Any

__all__ = ["KeyServer"]


class KeyServer:
    """Serves ``document`` as JSON for any GET on 127.0.0.1 (random port) until closed."""

    def __init__(self, document: dict[str, Any]) -> None:
        self._body = json.dumps(document).encode()
        self.hits: list[str] = []
        self._server: asyncio.Server | None = None
        self.port = 0

    async def __aenter__(self) -> KeyServer:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = await asyncio.wait_for(reader.readline(), timeout=5)
            while (await asyncio.wait_for(reader.readline(), timeout=5)) not in (b"\r\n", b""):
                pass
            self.hits.append(line.decode("latin-1").strip()[:200])
            head = (
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                f"content-length: {len(self._body)}\r\nconnection: close\r\n\r\n"
            )
            writer.write(head.encode() + self._body)
            await writer.drain()
        except (TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()
