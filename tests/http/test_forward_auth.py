"""Forward auth shapes and content negotiation at the edge."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from bastion.sessions import DeviceInfo, TokenPair
from tests.http.conftest import PASSWORD, PROBLEM


async def _token(guard: Any) -> TokenPair:
    await guard.identity.register("alice", PASSWORD)
    pair = await guard.identity.login("alice", PASSWORD, DeviceInfo(ip="198.51.100.1"))
    assert isinstance(pair, TokenPair)
    return pair


@pytest.mark.parametrize("method", ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
async def test_envoy_style_prefix_keeps_method_and_path(
    client: httpx.AsyncClient, guard: Any, method: str
) -> None:
    """Envoy's HTTP ext_authz calls ``/v1/verify`` + the original path with the original method."""
    pair = await _token(guard)
    auth = {"Authorization": f"Bearer {pair.access_token}"}
    r = await client.request(method, "/v1/verify/api/orders/42?x=1", headers=auth)
    assert r.status_code == 200
    assert r.headers["x-bastion-session"] == pair.session_id
    denied = await client.request(
        method, "/v1/verify/api/orders/42", headers={"Authorization": "Bearer x"}
    )
    assert denied.status_code == 401


async def test_forward_auth_ignores_the_forwarded_body(
    client: httpx.AsyncClient, guard: Any
) -> None:
    pair = await _token(guard)
    r = await client.post(
        "/v1/verify/upload",
        content=b"\xff" * (128 * 1024),
        headers={"Authorization": f"Bearer {pair.access_token}", "content-type": "image/png"},
    )
    assert r.status_code == 200


@pytest.mark.parametrize(
    "accept", ["text/html", "application/xml, text/plain", "application/json;q=0"]
)
async def test_unacceptable_accept_is_406(client: httpx.AsyncClient, accept: str) -> None:
    """REST CS / ASVS V4.1.1: an API that can only answer JSON refuses other Accept values."""
    r = await client.post(
        "/v1/auth/login", json={"username": "a", "password": PASSWORD}, headers={"Accept": accept}
    )
    assert r.status_code == 406
    assert r.headers["content-type"] == PROBLEM


@pytest.mark.parametrize(
    "accept", ["*/*", "application/json", "application/problem+json", "text/html, */*;q=0.1"]
)
async def test_json_compatible_accept_passes(client: httpx.AsyncClient, accept: str) -> None:
    r = await client.post(
        "/v1/auth/login", json={"username": "a", "password": PASSWORD}, headers={"Accept": accept}
    )
    assert r.status_code == 401
