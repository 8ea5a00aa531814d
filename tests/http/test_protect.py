"""``guard.protect(app)``: a Python app behind the per-route policy (ASVS V4.1.1, V4.2.1,
V8.2.1, V8.3.1, V1.2.1, V1.3.1, V3.4.1, V2.4.1; API4:2023)."""

from __future__ import annotations

import asyncio
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
from bastion.http import protect
from bastion.infra import ManualClock
from tests.conftest import make_settings
from tests.http.conftest import PROBLEM, protected_client, signed_in

ROUTES = [
    {"path": "/public/*", "auth": "none"},
    {"path": "/notes", "auth": "none", "rich_text": ["body"], "max_body_bytes": 4096},
    {"path": "/watch", "auth": "none", "inspect": "monitor"},
    {"path": "/orders/*", "scopes": ["orders:read"]},
    {"path": "/page", "auth": "none", "headers": {"Content-Security-Policy": "default-src 'self'"}},
]
POLICIES = [{"name": "public", "match": {"path": "/public/*"}, "limits": ["100/s"]}]


async def echo(request: Request) -> Response:
    who = request.state.bastion_principal
    body = await request.body()
    return JSONResponse(
        {
            "subject": who.subject if who else None,
            "body": body.decode() if body else None,
            "query": request.url.query,
        },
        headers={"Server": "uvicorn/0.1", "X-Powered-By": "PHP/5"},
    )


async def page(request: Request) -> Response:
    return Response("<p>hi</p>", media_type="text/html", headers={"Cache-Control": "max-age=5"})


APP = Starlette(
    routes=[
        Route("/{path:path}", echo, methods=["GET", "POST", "PUT", "DELETE"]),
    ]
)
PAGE_APP = Starlette(routes=[Route("/page", page), Route("/{path:path}", echo, methods=["GET"])])


@pytest.fixture
async def guard(tmp_path: Path, clock: ManualClock) -> AsyncIterator[Any]:
    settings = make_settings(
        tmp_path,
        routes=ROUTES,
        ratelimit={"enabled": True, "policies": POLICIES},
        server={
            "max_json_array": 5,
            "max_json_depth": 6,
            "cors_origins": ["https://app.example"],
            "body_timeout_seconds": 0.05,
        },
    )
    instance = await Bastion.open(settings, clock=clock)  # type: ignore[arg-type]
    yield instance
    await instance.close()


@pytest.fixture
async def client(guard: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with protected_client(guard, APP) as c:
        yield c


async def test_unmatched_routes_require_a_credential(client: httpx.AsyncClient, guard: Any) -> None:
    r = await client.get("/account")
    assert r.status_code == 401 and r.headers["content-type"] == PROBLEM
    assert r.headers["www-authenticate"].startswith("Bearer")
    pair = await signed_in(guard)
    ok = await client.get("/account", headers={"Authorization": f"Bearer {pair.access_token}"})
    assert ok.status_code == 200 and ok.json()["subject"] is not None


async def test_public_routes_reach_the_app_without_a_principal(client: httpx.AsyncClient) -> None:
    r = await client.get("/public/x?page=2")
    assert r.status_code == 200 and r.json() == {"subject": None, "body": None, "query": "page=2"}
    assert r.headers["ratelimit-policy"] == '"public";q=100;w=1'


async def test_scopes_are_enforced_per_route(client: httpx.AsyncClient, guard: Any) -> None:
    key, _ = await guard.apikeys.create("k", ["orders:read"], owner_service="shop")
    other, _ = await guard.apikeys.create("k2", ["profile"], owner_service="shop")
    assert (await client.get("/orders/1", headers={"X-API-Key": key})).status_code == 200
    refused = await client.get("/orders/1", headers={"X-API-Key": other})
    assert refused.status_code == 403 and refused.json()["missing"] == ["orders:read"]


@pytest.mark.parametrize(
    "body",
    [
        {"q": "1' OR '1'='1"},
        {"items": [{"name": "<script>alert(1)</script>"}]},
        {"password": {"$ne": None}},
        {"file": "../../../../etc/passwd"},
    ],
)
async def test_attacks_in_json_bodies_are_blocked(
    client: httpx.AsyncClient, guard: Any, body: object
) -> None:
    r = await client.post("/public/search", json=body)
    assert r.status_code == 403 and r.json()["type"].endswith("/request-blocked")
    (event,) = await guard.audit.tail(1, action="inspect.blocked")
    assert "1' OR" not in json.dumps(event.details)  # the input itself is never kept


async def test_attacks_in_form_bodies_and_queries_are_blocked(client: httpx.AsyncClient) -> None:
    form = await client.post("/public/f", data={"name": "x' UNION SELECT password FROM users--"})
    assert form.status_code == 403
    query = await client.get("/public/f?next=%3Csvg%20onload%3Dalert(1)%3E")
    assert query.status_code == 403


async def test_monitor_mode_lets_the_request_through_and_audits_it(
    client: httpx.AsyncClient, guard: Any
) -> None:
    r = await client.post("/watch", json={"q": "1' OR '1'='1"})
    assert r.status_code == 200 and json.loads(r.json()["body"]) == {"q": "1' OR '1'='1"}
    (event,) = await guard.audit.tail(1, action="inspect.flagged")
    assert event.reason == "sqli"


@pytest.mark.parametrize(
    "name", ["O'Brien", "L'Aquila", "Please select a size and drop us a line", "a@b.example"]
)
async def test_real_users_pass(client: httpx.AsyncClient, name: str) -> None:
    r = await client.post("/public/profile", json={"name": name, "tags": ["a", "b"]})
    assert r.status_code == 200


async def test_rich_text_is_cleaned_not_blocked(client: httpx.AsyncClient) -> None:
    note = {
        "title": "plain",
        "body": '<p onclick="x()">Use <code>SELECT * FROM t</code></p><script>alert(1)</script>',
    }
    r = await client.post("/notes", json=note)
    assert r.status_code == 200
    seen = json.loads(r.json()["body"])
    assert seen == {"title": "plain", "body": "<p>Use <code>SELECT * FROM t</code></p>"}
    form = await client.post("/notes", data={"body": "<b onmouseover=x>hi</b>"})
    assert form.status_code == 200 and form.json()["body"] == "body=%3Cb%3Ehi%3C%2Fb%3E"
    # outside the rich-text field the same markup is an attack
    assert (await client.post("/notes", json={"title": "<script>x</script>"})).status_code == 403


async def test_body_limits_are_per_route(client: httpx.AsyncClient) -> None:
    big = {"body": "x" * 5000}
    r = await client.post("/notes", json=big)
    assert r.status_code == 413 and r.headers["content-type"] == PROBLEM

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted while read
        yield b'{"body": "'
        yield b"x" * 5000
        yield b'"}'

    streamed = await client.post(
        "/notes", content=chunks(), headers={"content-type": "application/json"}
    )
    assert streamed.status_code == 413


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b'{"a": [1, 2, 3, 4, 5, 6]}', 400),
        (b'{"a": [[[[[[["deep"]]]]]]]}', 400),
        (b'{"a": ', 422),
        (b'{"a": "\xff"}', 422),
    ],
)
async def test_malformed_json_is_refused_before_the_app(
    client: httpx.AsyncClient, body: bytes, status: int
) -> None:
    r = await client.post("/public/x", content=body, headers={"content-type": "application/json"})
    assert r.status_code == status and r.headers["content-type"] == PROBLEM


async def test_secure_headers_fill_in_and_routes_override(guard: Any) -> None:
    transport = httpx.ASGITransport(app=guard.protect(PAGE_APP))
    async with httpx.AsyncClient(transport=transport, base_url="http://app") as c:
        r = await c.get("/page")
        assert r.headers["content-security-policy"] == "default-src 'self'"
        assert r.headers["cache-control"] == "max-age=5"  # the app's own choice is kept
        assert r.headers["strict-transport-security"] == "max-age=63072000; includeSubDomains"
        assert r.headers["x-content-type-options"] == "nosniff"
        api = await c.get("/public/x")
        assert api.headers["content-security-policy"].startswith("default-src 'none'")
        assert "server" not in api.headers and "x-powered-by" not in api.headers


async def test_cors_allow_list_is_exact(client: httpx.AsyncClient) -> None:
    ok = await client.get("/public/x", headers={"Origin": "https://app.example"})
    assert ok.headers["access-control-allow-origin"] == "https://app.example"
    evil = await client.get("/public/x", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in evil.headers
    preflight = await client.options(
        "/orders/1",
        headers={"Origin": "https://app.example", "Access-Control-Request-Method": "GET"},
    )
    assert preflight.status_code == 200  # answered before the credential check


async def test_a_slow_body_gets_408(guard: Any) -> None:
    app = guard.protect(APP)
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        if not sent:
            sent.append({})
            return {"type": "http.request", "body": b'{"a": ', "more_body": True}
        await asyncio.Event().wait()  # the client never sends the rest
        raise AssertionError

    messages: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/public/x",
        "raw_path": b"/public/x",
        "query_string": b"",
        "headers": [(b"content-type", b"application/json")],
        "client": ("203.0.113.5", 1),
        "server": ("app", 80),
        "scheme": "http",
        "http_version": "1.1",
        "root_path": "",
    }
    await app(scope, receive, send)
    assert messages[0]["status"] == 408
    [event] = await guard.audit.tail(5, action="request.refused")
    assert (event.outcome, event.reason) == ("denied", "body_timeout")


async def test_protect_opens_and_closes_its_own_bastion(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, routes=ROUTES)
    app = protect(APP, settings)  # type: ignore[arg-type]
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    out: list[dict[str, Any]] = []
    await queue.put({"type": "lifespan.startup"})

    async def send(message: dict[str, Any]) -> None:
        out.append(message)
        if message["type"] == "lifespan.startup.complete":
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://a") as c:
                assert (await c.get("/public/x")).status_code == 200
                assert (await c.get("/private")).status_code == 401
            await queue.put({"type": "lifespan.shutdown"})

    await app({"type": "lifespan", "asgi": {"version": "3.0"}}, queue.get, send)
    assert [m["type"] for m in out] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "reason"),
    [
        ("POST", "/notes", {"json": {"body": "x" * 5000}}, 413, "body_size"),
        ("POST", "/public/x", {"content": b'{"a": [[[[[[["deep"]]]]]]]}'}, 400, "body_"),
        ("POST", "/public/x", {"content": b'{"a": '}, 422, "body_"),
        ("GET", "/public/x", {"headers": {"x-big": "a" * 20_000}}, 431, "headers"),
        ("GET", "/public/x?" + "a" * 5000, {}, 414, "query_length"),
    ],
)
async def test_refused_bodies_and_requests_are_audited(
    client: httpx.AsyncClient,
    guard: Any,
    method: str,
    path: str,
    kwargs: dict[str, Any],
    status: int,
    reason: str,
) -> None:
    """A request refused by a body or request limit leaves a sampled ``request.refused``
    event with the reason and the client, never the refused content."""
    headers = {"content-type": "application/json", **kwargs.pop("headers", {})}
    r = await client.request(method, path, headers=headers, **kwargs)
    assert r.status_code == status
    [event] = await guard.audit.tail(5, action="request.refused")
    assert event.outcome == "denied" and event.reason.startswith(reason)
    assert event.ip is not None
    assert "deep" not in repr(event) and "xxxxx" not in repr(event)
