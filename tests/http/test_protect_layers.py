"""``guard.protect(app)`` applies ``require_signature``, ``sealed`` and ``sign_responses`` per
route, after the gate and before the body checks (ASVS V4.1.5, V12.1.1, V11.3.3)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bastion import Bastion
from bastion.crypto import SealedClient, verify_response
from bastion.infra import ManualClock
from bastion.sessions import TokenPair
from bastion.signing import sign_request
from tests.conftest import make_settings
from tests.http.conftest import PROBLEM, protected_client, signed_in

ROUTES = [
    {"path": "/pay/*", "require_signature": True},
    {"path": "/secret/*", "auth": "none", "sealed": True},
    {"path": "/signed/*", "auth": "none", "sign_responses": True},
    {"path": "/open/*", "auth": "none"},
]


async def echo(request: Request) -> Response:
    body = await request.body()
    return JSONResponse({"got": body.decode() or None, "type": request.headers.get("content-type")})


APP = Starlette(routes=[Route("/{path:path}", echo, methods=["GET", "POST"])])


@pytest.fixture
async def guard(tmp_path: Path, clock: ManualClock) -> AsyncIterator[Any]:
    instance = await Bastion.open(make_settings(tmp_path, routes=ROUTES), clock=clock)  # type: ignore[arg-type]
    yield instance
    await instance.close()


@pytest.fixture
async def client(guard: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with protected_client(guard, APP) as c:
        yield c


def _signed(guard: Any, pair: TokenPair, clock: ManualClock, body: bytes) -> dict[str, str]:
    key = guard.signatures.session_key(pair.session_id)
    headers = {"content-type": "application/json"}
    signature = sign_request(
        key_id=key.key_id,
        secret=key.secret,
        method="POST",
        path="/pay/orders",
        query="",
        headers=headers,
        body=body,
        created=int(clock.now()),
    )
    return {**headers, **signature, "Authorization": f"Bearer {pair.access_token}"}


async def test_a_signed_request_passes_and_a_replay_or_tamper_does_not(
    client: httpx.AsyncClient, guard: Any, clock: ManualClock
) -> None:
    pair = await signed_in(guard)
    body = b'{"amount": 5}'
    headers = _signed(guard, pair, clock, body)
    ok = await client.post("/pay/orders", content=body, headers=headers)
    assert ok.status_code == 200 and ok.json()["got"] == '{"amount": 5}'
    replayed = await client.post("/pay/orders", content=body, headers=headers)
    assert replayed.status_code == 401 and replayed.json()["type"].endswith("/invalid-signature")
    fresh = _signed(guard, pair, clock, body)
    tampered = await client.post("/pay/orders", content=b'{"amount": 500}', headers=fresh)
    assert tampered.status_code == 401
    unsigned = {"Authorization": f"Bearer {pair.access_token}"}
    assert (
        await client.post("/pay/orders", json={"amount": 5}, headers=unsigned)
    ).status_code == 401


async def test_the_gate_still_runs_first_on_signed_routes(client: httpx.AsyncClient) -> None:
    r = await client.post("/pay/orders", json={"amount": 5})
    assert r.status_code == 401 and r.json()["type"].endswith("/invalid-token")


async def test_sealed_route_round_trip_and_inspection_of_the_opened_body(
    client: httpx.AsyncClient, guard: Any, clock: ManualClock
) -> None:
    sealer = SealedClient(guard.sealing.document(), clock=clock)
    sealed = sealer.seal("POST", "/secret/profile", b'{"name": "O\'Brien"}')
    r = await client.post("/secret/profile", content=sealed.body, headers=sealed.headers)
    assert r.status_code == 200
    media, plain = sealed.open(r.status_code, r.content, r.headers.get("content-type"))
    assert json.loads(plain)["got"] == '{"name": "O\'Brien"}' and media.startswith(
        "application/json"
    )
    attack = sealer.seal("POST", "/secret/profile", b"{\"q\": \"1' OR '1'='1\"}")
    blocked = await client.post("/secret/profile", content=attack.body, headers=attack.headers)
    assert blocked.status_code == 403  # inspected once opened
    plain_body = await client.post("/secret/profile", json={"name": "x"})
    assert plain_body.status_code == 415 and plain_body.headers["content-type"] == PROBLEM


async def test_signed_responses_verify_against_the_published_keys(
    client: httpx.AsyncClient, guard: Any, clock: ManualClock
) -> None:
    r = await client.get("/signed/feed")
    assert "bastion-response-signature" in r.headers
    verify_response(
        guard.sealing.document(),
        status=r.status_code,
        headers=dict(r.headers),
        body=r.content,
        method="GET",
        target="/signed/feed",
        request_id=r.headers.get("x-request-id"),
        now=clock.now(),
    )
    assert "bastion-response-signature" not in (await client.get("/open/feed")).headers
