"""Request signatures at the HTTP edge: ``RequireSignatureMiddleware`` around a tiny Starlette
app, and the check ``/v1/verify`` runs for routes with ``require_signature`` (in process).
Replay, skew and tamper against a started server are in ``tests/e2e/test_signing.py``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bastion import Bastion
from bastion.http import create_app
from bastion.http._signing import RequireSignatureMiddleware
from bastion.infra import ManualClock
from bastion.sessions import DeviceInfo, TokenPair
from bastion.signing import IssuedKey, sign_request
from tests.conftest import make_settings
from tests.http.conftest import PASSWORD, PEER, PROBLEM


async def _login(guard: Bastion) -> tuple[TokenPair, IssuedKey]:
    await guard.identity.register("alice", PASSWORD)
    pair = await guard.identity.login("alice", PASSWORD, DeviceInfo(ip="198.51.100.1"))
    assert isinstance(pair, TokenPair)
    return pair, guard.signatures.session_key(pair.session_id)


def _signed(
    key: IssuedKey, now: float, target: str, body: bytes = b"", **kw: Any
) -> dict[str, str]:
    path, _, query = target.partition("?")
    headers = {"Content-Type": "application/json"} if body else {}
    headers.update(kw.pop("headers", {}))
    return {
        **headers,
        **sign_request(
            key_id=key.key_id,
            secret=key.secret,
            method=kw.pop("method", "POST"),
            path=path,
            query=query,
            headers=headers,
            body=body,
            created=int(now),
            **kw,
        ),
    }


async def _echo(request: Request) -> JSONResponse:
    signature = request.scope.get("state", {}).get("signature")
    return JSONResponse(
        {"body": (await request.body()).decode(), "key": signature.key_id if signature else None}
    )


@pytest.fixture
async def app_client(guard: Bastion) -> AsyncIterator[httpx.AsyncClient]:
    inner = Starlette(routes=[Route("/{path:path}", _echo, methods=["GET", "POST"])])
    app = RequireSignatureMiddleware(
        inner, guard=guard, applies=lambda method, path: path.startswith("/api/")
    )
    transport = httpx.ASGITransport(app=app, client=PEER)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


async def test_middleware_accepts_once_and_replays_the_body(
    app_client: httpx.AsyncClient, guard: Bastion, clock: ManualClock
) -> None:
    _, key = await _login(guard)
    body = b'{"item":"tea"}'
    headers = _signed(key, clock.now(), "/api/orders?b=2&a=1", body)
    r = await app_client.post("/api/orders?b=2&a=1", content=body, headers=headers)
    assert r.status_code == 200 and r.json() == {"body": body.decode(), "key": key.key_id}
    again = await app_client.post("/api/orders?b=2&a=1", content=body, headers=headers)
    assert again.status_code == 401 and again.json()["reason"] == "replayed"


@pytest.mark.parametrize(
    ("sent_target", "sent_body", "reason"),
    [
        ("/api/orders?b=2&a=1", b'{"item":"gin"}', "digest_mismatch"),
        ("/api/orders/2?b=2&a=1", b'{"item":"tea"}', "bad_signature"),
        ("/api/orders?b=3&a=1", b'{"item":"tea"}', "bad_signature"),
    ],
)
async def test_middleware_refuses_tampering(
    app_client: httpx.AsyncClient,
    guard: Bastion,
    clock: ManualClock,
    sent_target: str,
    sent_body: bytes,
    reason: str,
) -> None:
    _, key = await _login(guard)
    headers = _signed(key, clock.now(), "/api/orders?b=2&a=1", b'{"item":"tea"}')
    r = await app_client.post(sent_target, content=sent_body, headers=headers)
    assert r.status_code == 401 and r.headers["content-type"] == PROBLEM
    problem = r.json()
    assert problem["reason"] == reason and problem["type"].endswith("/invalid-signature")
    signature = headers["Signature"].split(":")[1]
    assert signature not in r.text and headers["Content-Digest"].split(":")[1] not in r.text


async def test_middleware_unsigned_skewed_oversize_and_exempt(
    app_client: httpx.AsyncClient, guard: Bastion, clock: ManualClock
) -> None:
    _, key = await _login(guard)
    r = await app_client.get("/api/orders")
    assert r.status_code == 401 and r.json()["reason"] == "missing"
    old = _signed(key, clock.now() - 301, "/api/orders", method="GET")
    r = await app_client.get("/api/orders", headers=old)
    assert r.status_code == 401 and r.json()["reason"] == "stale"
    big = b"x" * (guard.settings.signing.max_body_bytes + 1)
    r = await app_client.post(
        "/api/orders", content=big, headers=_signed(key, clock.now(), "/api/orders", big)
    )
    assert r.status_code == 413
    assert (await app_client.get("/public")).status_code == 200


async def _asgi_post(
    app: RequireSignatureMiddleware, headers: dict[str, str], messages: list[dict[str, Any]]
) -> tuple[int, bytes]:
    """POST ``/api/orders`` straight through the ASGI interface, the body in ``messages``."""
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/api/orders",
        "raw_path": b"/api/orders",
        "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }
    pending = list(messages)
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return pending.pop(0) if pending else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    status = next((m["status"] for m in sent if m["type"] == "http.response.start"), 0)
    return status, b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


async def test_middleware_reads_a_body_sent_in_several_messages(
    guard: Bastion, clock: ManualClock
) -> None:
    _, key = await _login(guard)
    seen: list[bytes] = []

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        seen.append((await receive())["body"])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    app = RequireSignatureMiddleware(inner, guard=guard, applies=lambda m, p: True)
    body = b'{"item":"tea","qty":2}'
    parts = [body[:5], body[5:5], body[5:]]
    messages = [
        {"type": "http.request", "body": part, "more_body": i < len(parts) - 1}
        for i, part in enumerate(parts)
    ]
    length = {"Content-Length": str(len(body))}
    headers = {**_signed(key, clock.now(), "/api/orders", body), **length}
    assert await _asgi_post(app, headers, messages) == (200, b"ok") and seen == [body]
    headers = {**_signed(key, clock.now(), "/api/orders", body), **length}
    one = [{"type": "http.request", "body": body}]
    assert await _asgi_post(app, headers, one) == (200, b"ok") and seen[1] == body
    headers = {**_signed(key, clock.now(), "/api/orders", body), **length}
    cut = [{"type": "http.request", "body": body[:5], "more_body": True}]
    assert await _asgi_post(app, headers, cut) == (0, b"")  # the client went away
    limit = guard.settings.signing.max_body_bytes
    chunk = {"type": "http.request", "body": b"x" * (limit // 2 + 1), "more_body": True}
    status, _ = await _asgi_post(app, headers, [chunk, chunk, chunk])
    assert status == 413 and len(seen) == 2


@pytest.fixture
async def routed_guard(tmp_path: Path, clock: ManualClock) -> AsyncIterator[Bastion]:
    settings = make_settings(
        tmp_path,
        routes=[
            {"path": "/api/signed/*", "require_signature": True},
            {"path": "/api/*"},
        ],
    )
    guard = await Bastion.open(settings, clock=clock)  # type: ignore[arg-type]
    yield guard
    await guard.close()


@pytest.fixture
async def verify_client(routed_guard: Bastion) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(guard=routed_guard), client=PEER)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


def _forwarded(method: str, uri: str, token: str, signed: dict[str, str]) -> dict[str, str]:
    return {
        "X-Forwarded-Method": method,
        "X-Forwarded-Uri": uri,
        "Authorization": f"Bearer {token}",
        **signed,
    }


async def test_verify_checks_signatures_on_routes_that_require_them(
    verify_client: httpx.AsyncClient, routed_guard: Bastion, clock: ManualClock
) -> None:
    pair, key = await _login(routed_guard)
    uri = "/api/signed/orders?b=2&a=1"
    body = b'{"qty":1}'
    signed = _signed(key, clock.now(), uri, body)
    r = await verify_client.get(
        "/v1/verify", headers=_forwarded("POST", uri, pair.access_token, signed)
    )
    assert r.status_code == 200, r.text
    assert r.headers["x-bastion-signature-key"] == key.key_id
    assert r.headers["x-bastion-session"] == pair.session_id
    r = await verify_client.get(
        "/v1/verify", headers=_forwarded("POST", uri, pair.access_token, signed)
    )
    assert r.status_code == 401 and r.json()["reason"] == "replayed"
    unsigned = _forwarded("POST", uri, pair.access_token, {})
    r = await verify_client.get("/v1/verify", headers=unsigned)
    assert r.status_code == 401 and r.json()["reason"] == "missing"
    other = _forwarded("POST", "/api/plain", pair.access_token, {})
    r = await verify_client.get("/v1/verify", headers=other)
    assert r.status_code == 200 and "x-bastion-signature-key" not in r.headers


async def test_verify_envoy_prefix_and_changed_target(
    verify_client: httpx.AsyncClient, routed_guard: Bastion, clock: ManualClock
) -> None:
    pair, key = await _login(routed_guard)
    auth = {"Authorization": f"Bearer {pair.access_token}"}
    signed = _signed(key, clock.now(), "/api/signed/x?q=1", method="DELETE")
    r = await verify_client.delete("/v1/verify/api/signed/x?q=1", headers={**auth, **signed})
    assert r.status_code == 200, r.text
    signed = _signed(key, clock.now(), "/api/signed/x?q=1", method="DELETE")
    r = await verify_client.delete("/v1/verify/api/signed/x?q=2", headers={**auth, **signed})
    assert r.status_code == 401 and r.json()["reason"] == "bad_signature"


async def test_verify_refuses_a_key_of_another_session(
    verify_client: httpx.AsyncClient, routed_guard: Bastion, clock: ManualClock
) -> None:
    pair, _ = await _login(routed_guard)
    stranger = routed_guard.signatures.session_key("f" * 32)
    signed = _signed(stranger, clock.now(), "/api/signed/x")
    r = await verify_client.get(
        "/v1/verify", headers=_forwarded("POST", "/api/signed/x", pair.access_token, signed)
    )
    assert r.status_code == 401 and r.json()["reason"] == "unknown_key"


async def test_login_and_refresh_return_the_session_signing_key(
    verify_client: httpx.AsyncClient,
) -> None:
    await verify_client.post("/v1/auth/register", json={"username": "bob", "password": PASSWORD})
    r = await verify_client.post("/v1/auth/login", json={"username": "bob", "password": PASSWORD})
    login = r.json()
    assert login["signing_key_id"] == f"s:{login['session_id']}"
    assert len(login["signing_key"]) == 43
    r = await verify_client.post("/v1/auth/refresh", json={"refresh_token": login["refresh_token"]})
    assert r.json()["signing_key"] == login["signing_key"]
    auth = {"Authorization": f"Bearer {login['access_token']}"}
    r = await verify_client.post(
        "/v1/apikeys", json={"name": "k", "scopes": ["user"]}, headers=auth
    )
    created = r.json()
    assert created["signing_key_id"] == f"k:{created['id']}" and len(created["signing_key"]) == 43
