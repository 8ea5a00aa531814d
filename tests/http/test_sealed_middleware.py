"""The sealed-payload and signed-response middlewares around a tiny Starlette app, in process,
and ``/.well-known/bastion-keys`` on the service (ASVS V11.3.3, V11.6.1, V2.2.1)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from bastion.crypto import SealedClient, verify_response
from bastion.errors import ResponseSignatureInvalid
from bastion.http import (
    RequestContextMiddleware,
    SealedPayloadMiddleware,
    SignedResponseMiddleware,
    create_app,
)
from bastion.http._client import ClientIP
from tests.conftest import make_settings

PEER = ("203.0.113.7", 1234)


def _echo_app(seen: list[dict[str, Any]]) -> Starlette:
    async def echo(request: Request) -> Response:
        body = await request.body()
        seen.append(
            {
                "body": body,
                "content_type": request.headers.get("content-type"),
                "content_length": request.headers.get("content-length"),
            }
        )
        return JSONResponse({"got": orjson.loads(body) if body else None}, status_code=201)

    async def missing(request: Request) -> Response:
        await request.body()
        return PlainTextResponse("no such order", status_code=404)

    async def huge(request: Request) -> Response:
        await request.body()
        return PlainTextResponse("x" * 5000)

    return Starlette(
        routes=[
            Route("/sealed/echo", echo, methods=["POST"]),
            Route("/sealed/missing", missing, methods=["POST"]),
            Route("/sealed/huge", huge, methods=["POST"]),
            Route("/open/echo", echo, methods=["POST"]),
        ]
    )


def _sealed_routes(method: str, path: str) -> bool:
    return path.startswith("/sealed/")


async def _client(app: ASGIApp) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=PEER)
    return httpx.AsyncClient(transport=transport, base_url="http://test")


@pytest.fixture
def seen() -> list[dict[str, Any]]:
    return []


@pytest.fixture
async def http(guard: Any, seen: list[dict[str, Any]]) -> AsyncIterator[httpx.AsyncClient]:
    app = SealedPayloadMiddleware(_echo_app(seen), guard=guard, applies=_sealed_routes)
    async with await _client(app) as client:
        yield client


@pytest.fixture
def sealer(guard: Any) -> SealedClient:
    return SealedClient(guard.sealing.document(), clock=guard.clock)


@pytest.mark.parametrize("text", [False, True], ids=["binary", "base64url"])
async def test_sealed_round_trip(
    http: httpx.AsyncClient, sealer: SealedClient, seen: list[dict[str, Any]], text: bool
) -> None:
    sealed = sealer.seal("POST", "/sealed/echo?x=1", b'{"sku": 7}', text=text)
    r = await http.post("/sealed/echo?x=1", content=sealed.body, headers=sealed.headers)
    assert r.status_code == 201 and r.headers["content-type"] == sealed.content_type
    assert b"sku" not in r.content and int(r.headers["content-length"]) == len(r.content)
    media, body = sealed.open(r.status_code, r.content, r.headers["content-type"])
    assert media == "application/json" and orjson.loads(body) == {"got": {"sku": 7}}
    assert seen == [
        {"body": b'{"sku": 7}', "content_type": "application/json", "content_length": "10"}
    ]


async def test_error_responses_are_sealed_with_their_status(
    http: httpx.AsyncClient, sealer: SealedClient
) -> None:
    sealed = sealer.seal("POST", "/sealed/missing", b"{}")
    r = await http.post("/sealed/missing", content=sealed.body, headers=sealed.headers)
    assert r.status_code == 404
    assert sealed.open(404, r.content, r.headers["content-type"])[1] == b"no such order"


async def test_routes_not_selected_pass_untouched(
    http: httpx.AsyncClient, seen: list[dict[str, Any]]
) -> None:
    r = await http.post("/open/echo", json={"a": 1})
    assert r.status_code == 201 and r.json() == {"got": {"a": 1}} and len(seen) == 1


async def test_plain_body_on_a_sealed_route_is_refused(
    http: httpx.AsyncClient, guard: Any, seen: list[dict[str, Any]]
) -> None:
    r = await http.post("/sealed/echo", json={"a": 1})
    assert r.status_code == 415 and r.headers["content-type"] == "application/problem+json"
    assert r.json()["type"].endswith("/sealed-payload-required") and seen == []
    [event] = await guard.audit.tail(5, action="sealed.rejected")
    assert (event.reason, event.outcome) == ("not_sealed", "denied")


async def test_tampered_body_is_a_400_and_never_reaches_the_app(
    http: httpx.AsyncClient, guard: Any, sealer: SealedClient, seen: list[dict[str, Any]]
) -> None:
    sealed = sealer.seal("POST", "/sealed/echo", b'{"a": 1}')
    forged = sealed.body[:-3] + bytes([sealed.body[-3] ^ 0x10]) + sealed.body[-2:]
    r = await http.post("/sealed/echo", content=forged, headers=sealed.headers)
    assert r.status_code == 400 and r.json()["type"].endswith("/sealed-payload-invalid")
    assert r.json()["detail"] == "The sealed payload could not be opened." and seen == []
    [event] = await guard.audit.tail(5, action="sealed.rejected")
    assert event.reason == "open_failed"


async def test_replayed_to_another_route_or_again(
    http: httpx.AsyncClient, sealer: SealedClient, seen: list[dict[str, Any]]
) -> None:
    sealed = sealer.seal("POST", "/sealed/echo", b'{"a": 1}')
    other = await http.post("/sealed/missing", content=sealed.body, headers=sealed.headers)
    assert other.status_code == 400
    first = await http.post("/sealed/echo", content=sealed.body, headers=sealed.headers)
    again = await http.post("/sealed/echo", content=sealed.body, headers=sealed.headers)
    assert (first.status_code, again.status_code) == (201, 400) and len(seen) == 1


async def test_oversized_sealed_body_is_413(
    tmp_path: Any, clock: Any, seen: list[dict[str, Any]]
) -> None:
    from bastion import Bastion

    settings = make_settings(tmp_path, sealing={"max_body_bytes": 2048})
    guard = await Bastion.open(settings, clock=clock)  # type: ignore[arg-type]
    try:
        app = SealedPayloadMiddleware(_echo_app(seen), guard=guard, applies=_sealed_routes)
        sealed = SealedClient(guard.sealing.document(), clock=clock).seal(
            "POST", "/sealed/echo", b"1" * 3000
        )
        async with await _client(app) as http:
            r = await http.post("/sealed/echo", content=sealed.body, headers=sealed.headers)
            assert r.status_code == 413 and r.json()["type"].endswith("/sealed-payload-too-large")
            big = await http.post(
                "/sealed/huge",
                **_sealed_kwargs(guard, "/sealed/huge"),
            )
            assert big.status_code == 500 and b"xxxx" not in big.content
        assert seen == []
        assert [e.reason for e in await guard.audit.tail(5, action="sealed.rejected")] == [
            "too_large"
        ]
        [failed] = await guard.audit.tail(5, action="sealed.response_failed")
        assert (failed.outcome, failed.reason) == ("error", "too_large")
    finally:
        await guard.close()


def _sealed_kwargs(guard: Any, target: str) -> dict[str, Any]:
    sealed = SealedClient(guard.sealing.document(), clock=guard.clock).seal("POST", target, b"{}")
    return {"content": sealed.body, "headers": sealed.headers}


# -- signed responses ---------------------------------------------------------------------------


@pytest.fixture
async def signed_http(guard: Any, seen: list[dict[str, Any]]) -> AsyncIterator[httpx.AsyncClient]:
    inner = SignedResponseMiddleware(_echo_app(seen), guard=guard, applies=_sealed_routes)
    app = RequestContextMiddleware(inner, client_ip=ClientIP(()))
    async with await _client(app) as client:
        yield client


async def test_signed_response_verifies(signed_http: httpx.AsyncClient, guard: Any) -> None:
    r = await signed_http.post(
        "/sealed/echo?v=2", json={"a": 1}, headers={"X-Request-ID": "rid-abcdef12"}
    )
    assert r.status_code == 201 and "bastion-response-signature" in r.headers
    kid = verify_response(
        guard.sealing.document(),
        status=r.status_code,
        headers=r.headers,
        body=r.content,
        method="POST",
        target="/sealed/echo?v=2",
        request_id="rid-abcdef12",
        now=guard.clock.now(),
    )
    assert kid.startswith("sig1-")
    with pytest.raises(ResponseSignatureInvalid):
        verify_response(
            guard.sealing.document(),
            status=r.status_code,
            headers=r.headers,
            body=r.content + b" ",
            method="POST",
            target="/sealed/echo?v=2",
        )


async def test_generated_request_id_is_the_signed_one(
    signed_http: httpx.AsyncClient, guard: Any
) -> None:
    r = await signed_http.post("/sealed/missing", content=b"")
    assert r.status_code == 404
    verify_response(
        guard.sealing.document(),
        status=404,
        headers=r.headers,
        body=r.content,
        method="POST",
        target="/sealed/missing",
    )


async def test_unselected_routes_are_not_signed(signed_http: httpx.AsyncClient) -> None:
    r = await signed_http.post("/open/echo", json={})
    assert "bastion-response-signature" not in r.headers


async def test_sealed_and_signed_together(guard: Any, seen: list[dict[str, Any]]) -> None:
    sealed_app = SealedPayloadMiddleware(_echo_app(seen), guard=guard, applies=_sealed_routes)
    app = SignedResponseMiddleware(sealed_app, guard=guard, applies=_sealed_routes)
    sealed = SealedClient(guard.sealing.document(), clock=guard.clock).seal(
        "POST", "/sealed/echo", b"[1]"
    )
    async with await _client(app) as http:
        r = await http.post("/sealed/echo", content=sealed.body, headers=sealed.headers)
    verify_response(
        guard.sealing.document(),
        status=201,
        headers=r.headers,
        body=r.content,
        method="POST",
        target="/sealed/echo",
        request_id="",
    )
    assert orjson.loads(sealed.open(201, r.content, r.headers["content-type"])[1]) == {"got": [1]}


# -- the service: key document and signing its own responses ----------------------------------


async def test_key_document_is_served_and_cacheable(guard: Any) -> None:
    async with await _client(create_app(guard=guard)) as http:
        r = await http.get("/.well-known/bastion-keys")
    assert r.status_code == 200 and r.json() == guard.sealing.document()
    assert r.headers["cache-control"] == "public, max-age=300"
    assert "bastion-response-signature" not in r.headers


async def test_service_signs_its_responses_when_configured(tmp_path: Any, clock: Any) -> None:
    from bastion import Bastion

    settings = make_settings(tmp_path, sealing={"sign_service_responses": True})
    guard = await Bastion.open(settings, clock=clock)  # type: ignore[arg-type]
    try:
        async with await _client(create_app(guard=guard)) as http:
            keys = (await http.get("/.well-known/bastion-keys")).json()
            r = await http.get("/healthz")
            denied = await http.get("/v1/sessions")
        for response, target in ((r, "/healthz"), (denied, "/v1/sessions")):
            verify_response(
                keys,
                status=response.status_code,
                headers=response.headers,
                body=response.content,
                method="GET",
                target=target,
                now=clock.now(),
            )
        assert denied.status_code == 401
    finally:
        await guard.close()
