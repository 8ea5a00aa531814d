"""HTTP-edge fixtures: the real ASGI app around the ``guard`` fixture, called in-process.

``httpx.ASGITransport`` does not run the lifespan; ``create_app(guard=...)`` already puts the
Bastion on ``app.state``, so no start-up is needed. The socket peer is ``203.0.113.7``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from bastion.http import create_app

PEER = ("203.0.113.7", 1234)
PROBLEM = "application/problem+json"
PASSWORD = "violet tractor hums at dawn"


@pytest.fixture
def app(guard: Any) -> FastAPI:
    return create_app(guard=guard)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=PEER)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


@pytest.fixture
async def raw_client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client that receives the 500 response instead of the exception Starlette re-raises."""
    transport = httpx.ASGITransport(app=app, client=PEER, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


async def boom(*args: Any, **kwargs: Any) -> Any:
    """A stand-in for a service call that crashes with internals in its message."""
    raise RuntimeError("secret-internal-detail at /srv/bastion/db.py line 42")


@pytest.fixture
def register_calls(guard: Any, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Replace ``identity.register`` by a recorder, to prove the handler never ran."""
    calls: list[Any] = []

    async def record(*args: Any, **kwargs: Any) -> None:
        calls.append(args)

    monkeypatch.setattr(guard.identity, "register", record)
    return calls


async def assert_nothing_created(guard: Any) -> None:
    """No user exists and the register handler never recorded anything."""
    assert await guard.admin.list() == []
    assert [e for e in await guard.audit.tail(100) if e.action.startswith("auth.register")] == []


async def raw_asgi(
    app: Any, path: str, headers: list[tuple[bytes, bytes]], chunks: list[bytes]
) -> list[dict[str, Any]]:
    """POST ``chunks`` to ``app`` by hand (headers exactly as given); the messages it sent."""
    incoming = [
        {"type": "http.request", "body": c, "more_body": i < len(chunks) - 1}
        for i, c in enumerate(chunks)
    ]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return incoming.pop(0) if incoming else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
        "root_path": "", "client": PEER, "server": ("test", 80), "headers": headers,
    }  # fmt: skip
    await app(scope, receive, send)
    return sent


def assert_problem(
    response: httpx.Response, status: int, slug: str | None = None
) -> dict[str, Any]:
    """The response is an RFC 9457 problem with ``status``; returns its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert {"type", "title", "status", "detail", "request_id"} <= body.keys(), body
    assert body["status"] == status
    assert body["type"].startswith("https://bastion.dev/problems/")
    if slug is not None:
        assert body["type"] == f"https://bastion.dev/problems/{slug}"
    assert isinstance(body["title"], str) and body["title"]
    assert isinstance(body["detail"], str) and body["detail"]
    assert body["request_id"] == response.headers["x-request-id"]
    return body


def error_fields(body: dict[str, Any]) -> set[str]:
    return {e["field"] for e in body.get("errors", [])}


async def signed_in(guard: Any, name: str = "alice") -> Any:
    """Register ``name`` and log in: the :class:`~bastion.sessions.TokenPair`."""
    from bastion.sessions import DeviceInfo, TokenPair

    await guard.identity.register(name, PASSWORD)
    pair = await guard.identity.login(name, PASSWORD, DeviceInfo(ip="198.51.100.1"))
    assert isinstance(pair, TokenPair)
    return pair


@asynccontextmanager
async def protected_client(guard: Any, app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """An in-process client of ``guard.protect(app)``, from one fixed client address."""
    transport = httpx.ASGITransport(app=guard.protect(app), client=("203.0.113.5", 1))
    async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
        yield client
