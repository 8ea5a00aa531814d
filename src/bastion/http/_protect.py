"""``guard.protect(app)``: the pure-ASGI stack that puts a Python app (Starlette, FastAPI, any
ASGI app) behind the same per-route policy ``/v1/verify`` applies for gateways.

Outermost first: request id and client IP, secure headers (the defaults fill in what the app
did not set; a route's ``headers`` override), CORS when configured, header/query limits and
load shedding, the gate (credentials, rate limits, scopes, query/cookie/header inspection),
then per route the request signature (``require_signature``), the response signature
(``sign_responses``) and sealed payloads (``sealed``), then the body (size, read deadline,
JSON shape, inspection, rich-text cleaning) and the app.
The caller reaches the app as ``request.state.bastion_principal`` (None on ``auth = "none"``).

Two ASGI callables do it (CORS, when configured, sits between them): this module's outer
half owns the one ``send`` wrapper of the request, and the inner half
(``_protect_gate.py``) the limits, the error boundary, the gate and the body.
"""

from __future__ import annotations

import re
import secrets
from typing import TYPE_CHECKING

import structlog
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bastion.config import RouteSettings, Settings
from bastion.http._client import ClientIP
from bastion.http._middleware import API_HEADERS, count_response
from bastion.http._protect_gate import REPLY, Guarded, Holder
from bastion.inspect import warm_up

if TYPE_CHECKING:
    from bastion._facade import Bastion

__all__ = ["protect"]

Pairs = list[tuple[bytes, bytes]]
_STRIPPED = (b"server", b"x-powered-by")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
_bind = structlog.contextvars.bind_contextvars
_unbind = structlog.contextvars.unbind_contextvars


class _Plan:
    """A route's response headers, worked out once: the names removed from the app's own
    (the route's overrides and the banners), the defaults the app may set itself, and the
    defaults plus overrides appended in one step when it set none of them."""

    __slots__ = ("defaults", "names", "overrides", "removed", "route", "tail")

    def __init__(self, route: RouteSettings) -> None:
        self.route = route
        overrides = [(k.lower().encode(), v.encode("latin-1")) for k, v in route.headers.items()]
        self.removed = frozenset(k for k, _ in overrides) | frozenset(_STRIPPED)
        self.defaults = [(k, v) for k, v in API_HEADERS if k not in self.removed]
        self.names = frozenset(k for k, _ in self.defaults)
        self.overrides = overrides
        self.tail = self.defaults + overrides

    def compose(self, headers: Pairs, extra: Pairs, rid: tuple[bytes, bytes]) -> Pairs:
        """The app's headers without the removed names, the defaults it did not set, the
        route's overrides and the request id."""
        kept: Pairs = []
        present: set[bytes] | None = None
        removed, names = self.removed, self.names
        for k, v in [*headers, *extra] if extra else headers:
            name = k.lower()
            if name not in removed:
                kept.append((k, v))
                if name in names:
                    present = present or set()
                    present.add(name)
        if present is None:
            kept += self.tail
        else:
            kept += [(k, v) for k, v in self.defaults if k not in present]
            kept += self.overrides
        kept.append(rid)
        return kept


class _Reply:
    """The response side of one request: the single ``send`` wrapper, and what the inner
    layers hand it (the gate's rate-limit headers) or read from it (whether the response
    started, for the error boundary)."""

    __slots__ = ("_send", "extra", "plan", "rid", "route", "started", "status")

    def __init__(self, send: Send, plan: _Plan, rid: str) -> None:
        self._send, self.plan, self.route = send, plan, plan.route
        self.rid = (b"x-request-id", rid.encode())
        self.extra: Pairs = []
        self.started = False
        self.status = 500

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.started = True
            self.status = message["status"]
            message["headers"] = self.plan.compose(message.get("headers", []), self.extra, self.rid)
        await self._send(message)


class _Front:
    """Binds ``request_id`` (from a well-formed ``X-Request-ID`` or a new one) and the client
    IP for the whole request, counts responses, and on the response: secure headers (no
    banner), the gate's rate-limit headers and the request id. Opens and closes the Bastion
    with the lifespan when it owns it."""

    def __init__(self, app: ASGIApp, holder: Holder, client_ip: ClientIP) -> None:
        self.app, self.holder, self.client_ip = app, holder, client_ip
        self._plans: dict[int, _Plan] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._other(scope, receive, send)
            return
        rid = ""
        for k, v in scope["headers"]:
            if k == b"x-request-id":
                rid = v.decode("latin-1")
                break
        if not _REQUEST_ID.match(rid):
            rid = secrets.token_hex(8)
        scope.setdefault("state", {})["client_ip"] = self.client_ip(scope)
        _bind(request_id=rid)
        reply: _Reply | None = None
        try:
            route = self.holder.get().gate.route_for(scope["method"], scope["path"])
            plan = self._plans.get(id(route))
            if plan is None or plan.route is not route:  # one per route entry
                plan = self._plans[id(route)] = _Plan(route)
            reply = scope[REPLY] = _Reply(send, plan, rid)
            await self.app(scope, receive, reply.send)
        finally:
            # The reply holds the server's send, whose cycle holds this scope: no reference
            # cycle may outlive the request (each would wait for the garbage collector).
            scope.pop(REPLY, None)
            count_response(500 if reply is None else reply.status)
            _unbind("request_id")

    async def _other(self, scope: Scope, receive: Receive, send: Send) -> None:
        holder = self.holder
        if scope["type"] != "lifespan" or not holder.owned:
            await self.app(scope, receive, send)
            return
        from bastion._facade import Bastion

        async def receive_wrapper() -> Message:
            message = await receive()
            if message["type"] == "lifespan.startup" and holder.guard is None:
                holder.guard = await Bastion.open(holder.settings, background=True)
                warm_up()  # the inspection prefilter, compiled before the first request
            elif message["type"] == "lifespan.shutdown" and holder.guard is not None:
                await holder.guard.close()
                holder.guard = None
            return message

        await self.app(scope, receive_wrapper, send)


def protect(
    app: ASGIApp, settings: Settings | None = None, *, guard: Bastion | None = None
) -> ASGIApp:
    """Wrap ``app``. With ``guard`` (an open :class:`~bastion.Bastion`) the caller owns its
    lifecycle; otherwise one is opened from ``settings`` at lifespan start-up and closed at
    shutdown."""
    if guard is None and settings is None:
        raise ValueError("protect() needs settings or an open Bastion")
    settings = settings or guard.settings  # type: ignore[union-attr]
    holder = Holder(settings, guard)
    stack: ASGIApp = Guarded(app, holder, settings.server)
    if settings.server.cors_origins:
        stack = CORSMiddleware(
            stack,
            allow_origins=list(settings.server.cors_origins),
            allow_credentials=settings.server.cors_allow_credentials,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["authorization", "content-type", "x-api-key", "x-request-id"],
            max_age=600,
        )
    return _Front(stack, holder, ClientIP(settings.server.trusted_proxies))
