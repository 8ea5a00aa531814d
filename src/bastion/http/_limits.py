"""Request limits and load shedding, before any route runs (pure ASGI).

- more header fields or header bytes than allowed: 431;
- a query string longer than allowed: 414; more parameters than allowed: 400;
- more requests in flight than ``max_concurrency``: 503 with ``Retry-After`` at once, so
  latency does not collapse under overload (health, readiness and metrics are never shed);
- JSON bodies nested deeper than allowed: 400 before they are parsed (see ``json_depth``).
"""

from __future__ import annotations

import re

from prometheus_client import Counter, Gauge
from starlette.types import ASGIApp, Receive, Scope, Send

from bastion.config import ServerSettings
from bastion.errors import Overloaded
from bastion.http._problems import problem_response, simple_problem
from bastion.monitor import AuditLog

__all__ = [
    "IN_FLIGHT",
    "NEVER_SHED",
    "RequestLimitsMiddleware",
    "audit_refusal",
    "json_depth",
    "overloaded",
    "refusal",
    "service_audit",
    "turn_away",
]

SHED = Counter("bastion_requests_shed_total", "Requests refused by the concurrency limit")
IN_FLIGHT = Gauge("bastion_requests_in_flight", "Requests being handled")
NEVER_SHED = frozenset({"/healthz", "/readyz", "/metrics"})
_STRUCTURE = re.compile(rb'["\\\[\]{}]')


def json_depth(body: bytes, limit: int) -> int:
    """The nesting depth of a JSON text, counting only brackets outside strings; stops
    counting (and returns ``limit + 1``) as soon as ``limit`` is exceeded. Linear time."""
    depth = deepest = 0
    in_string = False
    skip = -1
    for found in _STRUCTURE.finditer(body):
        pos, char = found.start(), found.group()
        if pos == skip:
            continue
        if char == b"\\":
            skip = pos + 1 if in_string else skip
        elif char == b'"':
            in_string = not in_string
        elif in_string:
            continue
        elif char in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
            if deepest > limit:
                return limit + 1
        else:
            depth -= 1
    return deepest


def _over_limits(scope: Scope, s: ServerSettings) -> tuple[str, ASGIApp] | None:
    """``(reason, answer)``: the 431/414/400 answer for a request over the header or query
    limits and the reason the audit log gets, else None."""
    headers = scope["headers"]
    if len(headers) > s.max_headers or sum(len(k) + len(v) for k, v in headers) > (
        s.max_header_bytes
    ):
        return "headers", simple_problem(431, "Too many or too large request header fields.")
    query: bytes = scope.get("query_string", b"")
    if len(query) > s.max_query_bytes:
        text = f"The query string must be at most {s.max_query_bytes} bytes."
        return "query_length", simple_problem(414, text)
    if query and query.count(b"&") + 1 > s.max_query_params:
        text = f"At most {s.max_query_params} query parameters are allowed."
        return "query_params", simple_problem(400, text)
    return None


def refusal(scope: Scope, s: ServerSettings, in_flight: int) -> tuple[str, ASGIApp] | None:
    """``(reason, answer)`` for a request turned away before any route: over the header or
    query limits (431/414/400) or shed beyond ``max_concurrency`` (503, reason ``shed``, not
    audited: it says nothing about the client); else None. Answer with :func:`turn_away`."""
    over = _over_limits(scope, s)
    if over is not None:
        return over
    if s.max_concurrency and in_flight >= s.max_concurrency and scope["path"] not in NEVER_SHED:
        return "shed", overloaded(scope)
    return None


async def turn_away(
    refused: tuple[str, ASGIApp], audit: AuditLog | None, scope: Scope, receive: Receive, send: Send
) -> None:
    """Send the answer of :func:`refusal`, audited unless the request was only shed."""
    reason, answer = refused
    if reason != "shed":
        await audit_refusal(audit, scope, reason)
    await answer(scope, receive, send)


async def audit_refusal(audit: AuditLog | None, scope: Scope, reason: str) -> None:
    """A ``request.refused`` audit event for a request refused by a request limit before any
    route ran, sampled per reason and client network (a client can repeat these cheaply)."""
    if audit is not None:
        await audit.record_denied(
            "request.refused", reason=reason, ip=scope.get("state", {}).get("client_ip")
        )


def service_audit(scope: Scope) -> AuditLog | None:
    """The audit log of the Bastion service whose app (``scope["app"]``) runs this request,
    for its middleware (``guard.protect`` holds its own)."""
    guard = getattr(getattr(scope.get("app"), "state", None), "bastion", None)
    audit: AuditLog | None = getattr(guard, "audit", None)
    return audit


def overloaded(scope: Scope) -> ASGIApp:
    """The 503 answer of a shed request (counted)."""
    SHED.inc()
    shed = Overloaded(retry_after=1)
    return problem_response(shed.status, shed.problem(scope["path"]), shed.headers())


class RequestLimitsMiddleware:
    def __init__(self, app: ASGIApp, *, settings: ServerSettings) -> None:
        self.app = app
        self.s = settings
        self.in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refused = refusal(scope, self.s, self.in_flight)
        if refused is not None:
            await turn_away(refused, service_audit(scope), scope, receive, send)
            return
        self.in_flight += 1
        IN_FLIGHT.inc()
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1
            IN_FLIGHT.dec()
