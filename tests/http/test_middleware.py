"""The middleware stack: security headers on every response, the request id, the body guard's
exemptions, and pass-through of non-HTTP scopes.

ASVS V3.4.1 (HSTS on every response, 5xx included), V3.4.4 (nosniff), V3.4.5 (referrer policy),
V3.4.6 (frame-ancestors), V14.3.2 / V14.2.2 (no-store), V16.2.1 (request id correlates logs).
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from structlog.testing import capture_logs

from bastion.http import SecureHeadersMiddleware
from tests.http.conftest import PASSWORD, assert_problem, boom

LOGIN = "/v1/auth/login"
GENERATED_ID = re.compile(r"^[0-9a-f]{16}$")


def assert_security_headers(r: httpx.Response, cache: str = "no-store") -> None:
    h = r.headers
    assert h["x-content-type-options"] == "nosniff"
    assert h["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"
    assert h["cache-control"] == cache
    assert h["referrer-policy"] == "no-referrer"
    assert h["x-frame-options"] == "DENY"
    hsts = dict(
        (part.strip().partition("=")[0].lower(), part.strip().partition("=")[2])
        for part in h["strict-transport-security"].split(";")
    )
    assert int(hsts["max-age"]) >= 31_536_000 and "includesubdomains" in hsts
    assert "server" not in h and "x-powered-by" not in h
    assert len(h.get_list("x-request-id")) == 1
    assert len(h.get_list("cache-control")) == 1


async def _request(client: httpx.AsyncClient, case: str) -> httpx.Response:
    if case == "200-healthz":
        return await client.get("/healthz")
    if case == "200-readyz":
        return await client.get("/readyz")
    if case == "200-jwks":
        return await client.get("/.well-known/jwks.json")
    if case == "401-verify":
        return await client.get("/v1/verify")
    if case == "401-login":
        return await client.post(LOGIN, json={"username": "nobody-here", "password": PASSWORD})
    if case == "404":
        return await client.get("/no/such/page")
    if case == "405":
        return await client.request("TRACE", "/healthz")
    if case == "413":
        return await client.post(
            LOGIN, content=b" " * (65 * 1024), headers={"content-type": "application/json"}
        )
    if case == "415":
        return await client.post(LOGIN, content=b"a=b", headers={"content-type": "text/plain"})
    assert case == "422"
    return await client.post(LOGIN, json={"username": "bob"})


CASES = [
    "200-healthz",
    "200-readyz",
    "200-jwks",
    "401-verify",
    "401-login",
    "404",
    "405",
    "413",
    "415",
    "422",
]


@pytest.mark.parametrize("case", CASES)
async def test_security_headers_on_every_response(client: httpx.AsyncClient, case: str) -> None:
    """ASVS V3.4.1, V3.4.4, V3.4.5, V3.4.6, V14.3.2: the same headers on success and errors."""
    r = await _request(client, case)
    assert r.status_code == int(case[:3])
    # the public key set is the one response meant to be cached (by clients and proxies)
    assert_security_headers(r, "public, max-age=60" if case == "200-jwks" else "no-store")


async def test_security_headers_on_500(
    raw_client: httpx.AsyncClient, guard: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ASVS V3.4.1 (HSTS on 5xx too), V14.3.2: an unhandled crash still gets the headers and
    its request id, like every other response."""
    monkeypatch.setattr(guard.identity, "login", boom)
    with capture_logs():
        r = await raw_client.post(LOGIN, json={"username": "bob", "password": PASSWORD})
    assert r.status_code == 500
    assert_security_headers(r)


async def test_secure_headers_replace_any_the_app_set() -> None:
    """An inner ``Server``/``Cache-Control`` never survives; ours are not duplicated."""
    sent: list[dict[str, Any]] = []

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"server", b"uvicorn"),
                    (b"x-powered-by", b"php"),
                    (b"cache-control", b"public, max-age=600"),
                    (b"content-type", b"application/json"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": b"{}"})

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    await SecureHeadersMiddleware(inner)(
        {"type": "http", "method": "GET", "path": "/"}, receive, send
    )
    headers = sent[0]["headers"]
    names = [k for k, _ in headers]
    assert b"server" not in names and b"x-powered-by" not in names
    assert [v for k, v in headers if k == b"cache-control"] == [b"no-store"]
    assert (b"content-type", b"application/json") in headers


async def test_non_http_scopes_pass_straight_through() -> None:
    """Lifespan and websocket scopes are not touched by the header middleware."""
    seen: list[str] = []

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["type"])
        await send({"type": "lifespan.startup.complete"})

    out: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        out.append(message)

    async def receive() -> dict[str, Any]:
        return {"type": "lifespan.startup"}

    await SecureHeadersMiddleware(inner)({"type": "lifespan"}, receive, send)
    assert seen == ["lifespan"] and out == [{"type": "lifespan.startup.complete"}]


# -- request id ------------------------------------------------------------------------------


@pytest.mark.parametrize("rid", ["abcdefgh", "req-2024.06_01-ABC", "0" * 64])
async def test_well_formed_request_id_is_echoed(client: httpx.AsyncClient, rid: str) -> None:
    """ASVS V16.2.1: a caller's (or proxy's) well-formed request id correlates both sides."""
    r = await client.post(LOGIN, json={"username": "bob"}, headers={"X-Request-ID": rid})
    body = assert_problem(r, 422)
    assert r.headers["x-request-id"] == rid
    assert body["request_id"] == rid


@pytest.mark.parametrize(
    "rid",
    [
        "has spaces in it",
        "x" * 500,
        "short",
        "0" * 65,
        "<script>alert(1)</script>",
        "id;rm -rf /",
        "",
    ],
    ids=["spaces", "500-chars", "too-short", "65-chars", "markup", "shell", "empty"],
)
async def test_malformed_request_id_is_replaced(client: httpx.AsyncClient, rid: str) -> None:
    """ASVS V16.4.1: a malformed request id never reaches logs or responses; a new one is made."""
    r = await client.post(LOGIN, json={"username": "bob"}, headers={"X-Request-ID": rid})
    body = assert_problem(r, 422)
    assert GENERATED_ID.match(r.headers["x-request-id"])
    assert body["request_id"] == r.headers["x-request-id"]
    if rid:
        assert rid not in r.text


async def test_generated_request_ids_differ(client: httpx.AsyncClient) -> None:
    ids = {(await client.get("/healthz")).headers["x-request-id"] for _ in range(5)}
    assert len(ids) == 5 and all(GENERATED_ID.match(i) for i in ids)


async def test_request_id_is_recorded_in_audit_events(
    client: httpx.AsyncClient, guard: Any
) -> None:
    """ASVS V16.2.1: the audit event of a request carries that request's id."""
    rid = "trace-me-12345678"
    await client.get("/v1/verify", headers={"X-Request-ID": rid})
    [event] = await guard.audit.tail(10, action="verify.denied")
    assert event.request_id == rid


# -- body guard scope ------------------------------------------------------------------------


async def test_forward_auth_is_exempt_from_the_body_guard(
    client: httpx.AsyncClient, guard: Any
) -> None:
    """A proxy may forward any body to ``/v1/verify``; the decision depends on the token only."""
    r = await client.post(
        "/v1/verify", content=b"x" * (70 * 1024), headers={"content-type": "text/plain"}
    )
    assert_problem(r, 401, "invalid-token")
    assert len(await guard.audit.tail(10, action="verify.denied")) == 1


async def test_body_guard_applies_only_under_v1(client: httpx.AsyncClient) -> None:
    """Outside ``/v1/`` the router answers (here 405), not the body guard (413/415)."""
    r = await client.post(
        "/healthz", content=b"x" * (70 * 1024), headers={"content-type": "text/plain"}
    )
    assert_problem(r, 405)
