"""How ``guard.protect(app)`` is put together: one ``send`` wrapper composes the response
headers exactly as the separate header, rate-limit and request-id layers did; the error
boundary still answers inside CORS; a request leaves no reference cycle behind."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bastion import Bastion
from bastion.config import RouteSettings
from bastion.http._middleware import API_HEADERS
from bastion.http._protect import _Plan
from bastion.infra import ManualClock
from tests.conftest import make_settings
from tests.http.conftest import PEER, PROBLEM, assert_problem

Pairs = list[tuple[bytes, bytes]]
ROUTES = [
    {"path": "/page", "auth": "none", "headers": {"Content-Security-Policy": "default-src 'self'"}},
    {"path": "/*", "auth": "none"},
]
_STRIPPED = {b"server", b"x-powered-by"}


def _layered(route: RouteSettings, app: Pairs, extra: Pairs, rid: tuple[bytes, bytes]) -> Pairs:
    """The headers as the former layers made them: the gate appended its rate-limit fields,
    the secure-headers layer filtered and filled in, the request-id layer appended the id."""
    headers = [*app, *extra]
    overrides = [(k.lower().encode(), v.encode("latin-1")) for k, v in route.headers.items()]
    names = {k for k, _ in overrides} | _STRIPPED
    kept = [(k, v) for k, v in headers if k.lower() not in names]
    present = {k.lower() for k, _ in kept}
    defaults = [(k, v) for k, v in API_HEADERS if k not in present and k not in names]
    return [*kept, *defaults, *overrides, rid]


NAMES = st.sampled_from(
    [
        b"content-type",
        b"Content-Type",
        b"cache-control",
        b"Cache-Control",
        b"content-security-policy",
        b"X-Frame-Options",
        b"server",
        b"X-Powered-By",
        b"ratelimit",
        b"x-request-id",
        b"set-cookie",
    ]
)
FIELDS = st.lists(st.tuples(NAMES, st.sampled_from([b"a", b"max-age=5", b"b; c"])), max_size=8)


@given(
    app=FIELDS,
    extra=st.sampled_from([[], [(b"ratelimit-policy", b'"api";q=5;w=1'), (b"ratelimit", b"r")]]),
    headers=st.sampled_from(
        [{}, {"Content-Security-Policy": "default-src 'self'"}, {"Cache-Control": "no-cache"}]
    ),
)
def test_one_pass_composes_the_headers_of_the_former_layers(
    app: Pairs, extra: Pairs, headers: dict[str, str]
) -> None:
    route = RouteSettings(path="/*", headers=headers)
    rid = (b"x-request-id", b"0123456789abcdef")
    assert _Plan(route).compose(list(app), list(extra), rid) == _layered(route, app, extra, rid)


async def ok(request: Request) -> Response:
    return JSONResponse({"ok": True})


STARLETTE = Starlette(routes=[Route("/{path:path}", ok)])


async def app(scope: Any, receive: Any, send: Any) -> None:
    """Raises before answering on ``/boom``, after starting on ``/late`` (Starlette's own
    last-resort handler would answer first); the Starlette app elsewhere."""
    if scope["type"] == "http" and scope["path"] == "/boom":
        raise RuntimeError("secret-internal-detail")
    if scope["type"] == "http" and scope["path"] == "/late":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        raise RuntimeError("after the start")
    await STARLETTE(scope, receive, send)


@pytest.fixture
async def guard(tmp_path: Path, clock: ManualClock) -> AsyncIterator[Any]:
    settings = make_settings(
        tmp_path, routes=ROUTES, server={"cors_origins": ["https://app.example"]}
    )
    instance = await Bastion.open(settings, clock=clock)  # type: ignore[arg-type]
    yield instance
    await instance.close()


async def test_an_error_inside_cors_is_a_500_problem_with_every_header(guard: Any) -> None:
    transport = httpx.ASGITransport(app=guard.protect(app), client=PEER)
    async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
        r = await client.get("/boom", headers={"Origin": "https://app.example"})
        body = assert_problem(r, 500)
        assert "secret-internal-detail" not in r.text and body["request_id"]
        assert r.headers["access-control-allow-origin"] == "https://app.example"
        assert r.headers["x-content-type-options"] == "nosniff"
        with pytest.raises(RuntimeError, match="after the start"):
            await client.get("/late")  # a response already under way cannot be replaced
        page = await client.get("/page", headers={"X-Request-ID": "req-12345678"})
        assert page.headers["content-security-policy"] == "default-src 'self'"
        assert page.headers["x-request-id"] == "req-12345678"


async def test_a_stack_inside_another_keeps_its_own_reply(guard: Any) -> None:
    transport = httpx.ASGITransport(app=guard.protect(guard.protect(app)), client=PEER)
    async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
        boom = await client.get("/boom")
        assert boom.status_code == 500 and boom.headers["content-type"] == PROBLEM
        r = await client.get("/x")
        assert r.status_code == 200 and r.headers["x-content-type-options"] == "nosniff"
        with pytest.raises(RuntimeError, match="after the start"):
            await client.get("/late")  # through both error boundaries, as it is


class _Cycle:
    """Like a server's request cycle: it holds the scope, and its bound ``send`` is what the
    app gets (so anything in the scope that holds ``send`` would close a reference cycle)."""

    def __init__(self, sent: list[dict[str, Any]]) -> None:
        self.sent = sent
        self.scope: dict[str, Any] = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
            "scheme": "http", "path": "/x", "raw_path": b"/x", "query_string": b"a=1",
            "root_path": "", "client": PEER, "server": ("test", 80), "headers": [],
        }  # fmt: skip

    async def receive(self) -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)


async def test_a_request_leaves_no_reference_cycle(guard: Any) -> None:
    protected = guard.protect(app)
    sent: list[dict[str, Any]] = []
    cycle = _Cycle(sent)
    await protected(cycle.scope, cycle.receive, cycle.send)  # warm: caches filled
    gc.collect()
    gc.disable()
    try:
        for _ in range(20):
            cycle = _Cycle(sent)
            await protected(cycle.scope, cycle.receive, cycle.send)
        del cycle
        assert sent[-1]["type"] == "http.response.body"
        assert gc.collect() == 0  # nothing a request made waits for the collector
    finally:
        gc.enable()
