"""``guard.protect(app)``: the pure-ASGI stack that puts a Python app (Starlette, FastAPI, any
ASGI app) behind the same per-route policy ``/v1/verify`` applies for gateways.

Outermost first: request id and client IP, secure headers (the defaults fill in what the app
did not set; a route's ``headers`` override), CORS when configured, header/query limits and
load shedding, the gate (credentials, rate limits, scopes, query/cookie/header inspection),
then per route the request signature (``require_signature``), the response signature
(``sign_responses``) and sealed payloads (``sealed``), then the body (size, read deadline,
JSON shape, inspection, rich-text cleaning) and the app.
The caller reaches the app as ``request.state.bastion_principal`` (None on ``auth = "none"``).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bastion._body import media_kind
from bastion._gate import Denied, RouteRequest
from bastion._gate_inputs import header_map
from bastion.config import RouteSettings, Settings
from bastion.errors import BastionError
from bastion.http._client import ClientIP
from bastion.http._limits import RequestLimitsMiddleware
from bastion.http._middleware import (
    API_HEADERS,
    ErrorBoundaryMiddleware,
    RequestContextMiddleware,
    _replay,
    with_headers,
)
from bastion.http._problems import problem_response, simple_problem
from bastion.http._sealed import SealedPayloadMiddleware, SignedResponseMiddleware
from bastion.http._signing import RequireSignatureMiddleware
from bastion.inspect import warm_up

if TYPE_CHECKING:
    from bastion._facade import Bastion

__all__ = ["protect"]

_STRIPPED = (b"server", b"x-powered-by")
_BODYLESS = frozenset({"GET", "HEAD", "OPTIONS", "DELETE", "TRACE"})


class _Holder:
    """The running Bastion, opened here at lifespan start-up unless one was handed in."""

    def __init__(self, settings: Settings, guard: Bastion | None) -> None:
        self.settings, self.guard, self.owned = settings, guard, guard is None

    def get(self) -> Bastion:
        if self.guard is None:
            raise RuntimeError("Bastion is not open: run the app under a server with lifespan")
        return self.guard


class _Lifespan:
    def __init__(self, app: ASGIApp, holder: _Holder) -> None:
        self.app, self.holder = app, holder

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan" or not self.holder.owned:
            await self.app(scope, receive, send)
            return
        from bastion._facade import Bastion

        async def receive_wrapper() -> Message:
            message = await receive()
            if message["type"] == "lifespan.startup" and self.holder.guard is None:
                self.holder.guard = await Bastion.open(self.holder.settings, background=True)
                warm_up()  # the inspection prefilter, compiled before the first request
            elif message["type"] == "lifespan.shutdown" and self.holder.guard is not None:
                await self.holder.guard.close()
                self.holder.guard = None
            return message

        await self.app(scope, receive_wrapper, send)


class _Headers:
    """Secure headers: the defaults where the app set none, a route's own on top; no banner."""

    def __init__(self, app: ASGIApp, holder: _Holder) -> None:
        self.app, self.holder = app, holder
        self._encoded: dict[int, tuple[RouteSettings, list[tuple[bytes, bytes]]]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        route = self.holder.get().gate.route_for(scope["method"], scope["path"])
        cached = self._encoded.get(id(route))
        if cached is None or cached[0] is not route:  # encoded once per route entry
            encoded = [(k.lower().encode(), v.encode("latin-1")) for k, v in route.headers.items()]
            cached = self._encoded[id(route)] = (route, encoded)
        overrides = cached[1]

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {k for k, _ in overrides} | set(_STRIPPED)
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in names]
                present = {k.lower() for k, _ in kept}
                defaults = [(k, v) for k, v in API_HEADERS if k not in present and k not in names]
                message["headers"] = kept + defaults + overrides
            await send(message)

        await self.app(scope, receive, send_wrapper)


class _Gate:
    """Credentials, rate limits, scopes and inspection of everything but the body."""

    def __init__(self, app: ASGIApp, holder: _Holder) -> None:
        self.app, self.holder = app, holder

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        guard = self.holder.get()
        state = scope.setdefault("state", {})
        request = RouteRequest(
            scope["method"],
            scope["path"],
            scope.get("query_string", b"").decode("latin-1"),
            header_map(scope["headers"]),
            state.get("client_ip") or "unknown",
        )
        route = guard.gate.route_for(request.method, request.path)
        try:
            passage = await guard.gate.check(request, route)
        except Denied as denied:
            error = denied.error
            response = problem_response(
                error.status, error.problem(scope["path"]), denied.response_headers()
            )
            await response(scope, receive, send)
            return
        state["bastion_principal"] = passage.principal
        state["bastion_route"] = route
        state["bastion_request"] = request
        extra = [(k.lower().encode(), v.encode()) for k, v in passage.headers.items()]
        await self.app(scope, receive, with_headers(send, extra) if extra else send)


class _Body:
    """Size limit (413), read deadline (408), then shape, inspection and cleaning."""

    def __init__(self, app: ASGIApp, holder: _Holder) -> None:
        self.app, self.holder = app, holder

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in _BODYLESS:
            await self.app(scope, receive, send)
            return
        guard = self.holder.get()
        server = guard.settings.server
        route = scope["state"]["bastion_route"]
        limit = route.max_body_bytes if route.max_body_bytes is not None else server.max_body_bytes
        headers = Headers(scope=scope)
        declared = headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await simple_problem(413, f"The body must be at most {limit} bytes.")(
                scope, receive, send
            )
            return
        content_type = headers.get("content-type", "")
        if media_kind(content_type) is None or (route.inspect == "off" and not route.rich_text):
            await self.app(scope, _capped(receive, limit), send)
            return
        try:
            async with asyncio.timeout(server.body_timeout_seconds):
                body = await _read(receive, limit)
        except TimeoutError:
            await simple_problem(408, "The body was not received in time.")(scope, receive, send)
            return
        if body is None:
            await simple_problem(413, f"The body must be at most {limit} bytes.")(
                scope, receive, send
            )
            return
        try:
            examined = guard.body.examine(route, content_type, body)
            await guard.gate.inspect(route, scope["state"]["bastion_request"], examined.verdict)
        except BastionError as exc:
            await problem_response(exc.status, exc.problem(scope["path"]), exc.headers())(
                scope, receive, send
            )
            return
        if examined.body is not body:
            scope = _with_length(scope, len(examined.body))
        await self.app(scope, _replay(examined.body, receive), send)


def _too_large(limit: int) -> ASGIApp:
    return simple_problem(413, f"The body must be at most {limit} bytes.")


async def _read(receive: Receive, limit: int) -> bytes | None:
    """The whole body, or None past ``limit`` (or when the client went away)."""
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        body += message.get("body", b"")
        if len(body) > limit:
            return None
        if not message.get("more_body", False):
            break
    return bytes(body)


def _capped(receive: Receive, limit: int) -> Receive:
    """For bodies passed through unread: the app gets a disconnect past ``limit`` bytes."""
    seen = 0

    async def capped() -> Message:
        nonlocal seen
        message = await receive()
        seen += len(message.get("body", b""))
        if seen > limit:
            return {"type": "http.disconnect"}
        return message

    return capped


def _with_length(scope: Scope, length: int) -> Scope:
    headers = [(k, v) for k, v in scope["headers"] if k.lower() != b"content-length"]
    return {**scope, "headers": [*headers, (b"content-length", str(length).encode())]}


class _PerRoute:
    """The request-signature, response-signature and sealing layers, each applied to the
    routes whose ``[[routes]]`` entry asks for it; built once the Bastion is open."""

    def __init__(self, app: ASGIApp, holder: _Holder) -> None:
        self.app, self.holder = app, holder
        self.stack: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.stack is None:
            self.stack = self._build(self.holder.get())
        await self.stack(scope, receive, send)

    def _build(self, guard: Bastion) -> ASGIApp:
        routes = guard.settings.routes
        if not any(r.sealed or r.sign_responses or r.require_signature for r in routes):
            return self.app  # no route asks for any of them: no layer at all
        route_for = guard.gate.route_for

        def sealed(method: str, path: str) -> bool:
            return route_for(method, path).sealed

        def signs(method: str, path: str) -> bool:
            return route_for(method, path).sign_responses

        def signed(method: str, path: str) -> bool:
            return route_for(method, path).require_signature

        stack: ASGIApp = SealedPayloadMiddleware(self.app, guard=guard, applies=sealed)
        stack = SignedResponseMiddleware(stack, guard=guard, applies=signs)
        return RequireSignatureMiddleware(stack, guard=guard, applies=signed)


def protect(
    app: ASGIApp, settings: Settings | None = None, *, guard: Bastion | None = None
) -> ASGIApp:
    """Wrap ``app``. With ``guard`` (an open :class:`~bastion.Bastion`) the caller owns its
    lifecycle; otherwise one is opened from ``settings`` at lifespan start-up and closed at
    shutdown."""
    if guard is None and settings is None:
        raise ValueError("protect() needs settings or an open Bastion")
    settings = settings or guard.settings  # type: ignore[union-attr]
    holder = _Holder(settings, guard)
    inner: ASGIApp = _PerRoute(_Body(app, holder), holder)
    stack: ASGIApp = _Gate(inner, holder)
    stack = ErrorBoundaryMiddleware(stack)
    stack = RequestLimitsMiddleware(stack, settings=settings.server)
    if settings.server.cors_origins:
        stack = CORSMiddleware(
            stack,
            allow_origins=list(settings.server.cors_origins),
            allow_credentials=settings.server.cors_allow_credentials,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["authorization", "content-type", "x-api-key", "x-request-id"],
            max_age=600,
        )
    stack = _Headers(stack, holder)
    stack = RequestContextMiddleware(stack, client_ip=ClientIP(settings.server.trusted_proxies))
    return _Lifespan(stack, holder)
