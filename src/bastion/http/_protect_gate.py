"""The inner half of ``guard.protect(app)``: request limits and load shedding, the error
boundary, the gate, then per route the signature and sealing layers and the body checks.

One ASGI callable does the limits, the boundary and the gate (each was a layer of its own,
and a layer costs a coroutine and often a ``send`` wrapper on every request); what the
response needs from here (the rate-limit headers, whether it started) goes to the
:class:`Reply` the outer half put in the scope, whose single ``send`` wrapper applies it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol

import structlog
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bastion._body import media_kind
from bastion._gate import Denied, RouteRequest
from bastion._gate_inputs import header_map
from bastion.config import RouteSettings, ServerSettings, Settings
from bastion.errors import BastionError
from bastion.http._bodies import declared_over, read_body, replay
from bastion.http._limits import IN_FLIGHT, audit_refusal, refusal, turn_away
from bastion.http._problems import problem_response, simple_problem
from bastion.http._sealed import SealedPayloadMiddleware, SignedResponseMiddleware
from bastion.http._signing import RequireSignatureMiddleware

if TYPE_CHECKING:
    from bastion._facade import Bastion

__all__ = ["REPLY", "Guarded", "Holder", "Reply"]

REPLY = "bastion.reply"
"""The scope key of the request's :class:`Reply` (set by the outer half)."""
_BODYLESS = frozenset({"GET", "HEAD", "OPTIONS", "DELETE", "TRACE"})
_NAMES: dict[str, bytes] = {}


class Reply(Protocol):
    route: RouteSettings
    started: bool
    extra: list[tuple[bytes, bytes]]


class Holder:
    """The running Bastion, opened at lifespan start-up unless one was handed in."""

    def __init__(self, settings: Settings, guard: Bastion | None) -> None:
        self.settings, self.guard, self.owned = settings, guard, guard is None

    def get(self) -> Bastion:
        if self.guard is None:
            raise RuntimeError("Bastion is not open: run the app under a server with lifespan")
        return self.guard


def _encoded(headers: Mapping[str, str]) -> list[tuple[bytes, bytes]]:
    """Header fields as ASGI pairs; the few distinct names are encoded once."""
    out = []
    for name, value in headers.items():
        raw = _NAMES.get(name)
        if raw is None:
            raw = name.lower().encode()
            if len(_NAMES) < 64:
                _NAMES[name] = raw
        out.append((raw, value.encode()))
    return out


class Guarded:
    """Limits (431/414/400, 503 when shedding), the error boundary (an unexpected exception
    becomes a generic 500 problem unless the response already started; the traceback goes to
    the log), the gate (credentials, rate limits, scopes, inspection of all but the body),
    then the per-route layers and the body checks."""

    def __init__(self, app: ASGIApp, holder: Holder, server: ServerSettings) -> None:
        self.app, self.holder, self.server = app, holder, server
        self.in_flight = 0
        self.body = _Body(app, holder)
        self.inner: ASGIApp | None = None
        self.log = structlog.get_logger("bastion.http")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refused = refusal(scope, self.server, self.in_flight)
        if refused is not None:
            await turn_away(refused, self.holder.get().audit, scope, receive, send)
            return
        reply: Reply = scope[REPLY]  # held here: an inner stack may replace it in the scope
        self.in_flight += 1
        IN_FLIGHT.inc()
        try:
            try:
                await self._gate(scope, receive, send, reply)
            except Exception:
                self.log.error("http.unhandled", exc_info=True)
                if reply.started:
                    raise
                response = problem_response(500, BastionError().problem(scope["path"]))
                await response(scope, receive, send)
        finally:
            self.in_flight -= 1
            IN_FLIGHT.dec()

    async def _gate(self, scope: Scope, receive: Receive, send: Send, reply: Reply) -> None:
        guard = self.holder.get()
        state = scope["state"]
        request = RouteRequest(
            scope["method"],
            scope["path"],
            scope.get("query_string", b"").decode("latin-1"),
            header_map(scope["headers"]),
            state.get("client_ip") or "unknown",
        )
        try:
            passage = await guard.gate.check(request, reply.route)
        except Denied as denied:
            error = denied.error
            response = problem_response(
                error.status, error.problem(scope["path"]), denied.response_headers()
            )
            await response(scope, receive, send)
            return
        state["bastion_principal"] = passage.principal
        state["bastion_route"] = reply.route
        state["bastion_request"] = request
        if passage.headers:
            reply.extra = _encoded(passage.headers)
        inner = self.inner or self._build(guard)
        if inner is self.body and scope["method"] in _BODYLESS:
            await self.app(scope, receive, send)  # nothing between the gate and the app
        else:
            await inner(scope, receive, send)

    def _build(self, guard: Bastion) -> ASGIApp:
        """The request-signature, response-signature and sealing layers, each applied to the
        routes whose ``[[routes]]`` entry asks for it (none at all when no route does), then
        the body checks; built once the Bastion is open."""
        self.inner = self.body
        if any(r.sealed or r.sign_responses or r.require_signature for r in guard.settings.routes):
            route_for = guard.gate.route_for

            def sealed(method: str, path: str) -> bool:
                return route_for(method, path).sealed

            def signs(method: str, path: str) -> bool:
                return route_for(method, path).sign_responses

            def signed(method: str, path: str) -> bool:
                return route_for(method, path).require_signature

            stack: ASGIApp = SealedPayloadMiddleware(self.body, guard=guard, applies=sealed)
            stack = SignedResponseMiddleware(stack, guard=guard, applies=signs)
            self.inner = RequireSignatureMiddleware(stack, guard=guard, applies=signed)
        return self.inner


class _Body:
    """Size limit (413), read deadline (408), then shape, inspection and cleaning."""

    def __init__(self, app: ASGIApp, holder: Holder) -> None:
        self.app, self.holder = app, holder

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in _BODYLESS:
            await self.app(scope, receive, send)
            return
        guard = self.holder.get()
        server = guard.settings.server
        route = scope["state"]["bastion_route"]
        limit = route.max_body_bytes if route.max_body_bytes is not None else server.max_body_bytes
        if declared_over(scope["headers"], limit):
            await audit_refusal(guard.audit, scope, "body_size")
            await _too_large(limit)(scope, receive, send)
            return
        content_type = Headers(scope=scope).get("content-type", "")
        if media_kind(content_type) is None or (route.inspect == "off" and not route.rich_text):
            await self.app(scope, _capped(receive, limit), send)
            return
        try:
            async with asyncio.timeout(server.body_timeout_seconds):
                body = await read_body(receive, limit)
        except ConnectionError:  # the client went away: as before, answered like an overrun
            body = None
        except TimeoutError:
            await audit_refusal(guard.audit, scope, "body_timeout")
            await simple_problem(408, "The body was not received in time.")(scope, receive, send)
            return
        if body is None:
            await audit_refusal(guard.audit, scope, "body_size")
            await _too_large(limit)(scope, receive, send)
            return
        try:
            examined = guard.body.examine(route, content_type, body)
        except BastionError as exc:  # malformed or over the shape limits: 400/422
            await audit_refusal(guard.audit, scope, f"body_{exc.type}")
            await problem_response(exc.status, exc.problem(scope["path"]), exc.headers())(
                scope, receive, send
            )
            return
        try:  # the gate audits its own verdict
            await guard.gate.inspect(route, scope["state"]["bastion_request"], examined.verdict)
        except BastionError as exc:
            await problem_response(exc.status, exc.problem(scope["path"]), exc.headers())(
                scope, receive, send
            )
            return
        if examined.body is not body:
            scope = _with_length(scope, len(examined.body))
        await self.app(scope, replay(examined.body, receive), send)


def _too_large(limit: int) -> ASGIApp:
    return simple_problem(413, f"The body must be at most {limit} bytes.")


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
