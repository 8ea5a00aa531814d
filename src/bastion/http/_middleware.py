"""Pure ASGI middleware: request context, secure headers, and the body guard.

Each class precomputes in ``__init__`` and passes non-HTTP scopes straight through.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable

import structlog
from prometheus_client import Counter
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bastion.errors import BastionError, InvalidInput
from bastion.http._bodies import declared_over, read_body, replay
from bastion.http._client import ClientIP
from bastion.http._limits import json_depth, service_audit, turn_away
from bastion.http._problems import problem_response, simple_problem

__all__ = [
    "BodyGuardMiddleware",
    "ErrorBoundaryMiddleware",
    "RequestContextMiddleware",
    "SecureHeadersMiddleware",
    "count_response",
]

HTTP_REQUESTS = Counter("bastion_http_requests_total", "HTTP responses by status class", ["status"])
_BY_CLASS = {n: HTTP_REQUESTS.labels(f"{n}xx") for n in range(1, 6)}
_STRIPPED = (b"server", b"x-powered-by")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
API_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"permissions-policy", b"geolocation=(), camera=(), microphone=(), payment=(), usb=()"),
    (b"strict-transport-security", b"max-age=63072000; includeSubDomains"),
    (b"cache-control", b"no-store"),
)


class RequestContextMiddleware:
    """Binds ``request_id`` (from a well-formed ``X-Request-ID`` or a new one) and the client IP
    for the whole request, echoes the id in the response, and counts responses."""

    def __init__(self, app: ASGIApp, *, client_ip: ClientIP, access_log: bool = False) -> None:
        self.app = app
        self.client_ip = client_ip
        self.access_log = access_log
        self.log = structlog.get_logger("bastion.http")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"x-request-id"), "")
        if not _REQUEST_ID.match(rid):
            rid = secrets.token_hex(8)
        ip = self.client_ip(scope)
        scope.setdefault("state", {})["client_ip"] = ip
        structlog.contextvars.bind_contextvars(request_id=rid)
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            count_response(status)
            if self.access_log:
                self.log.info(
                    "http.request", method=scope["method"], path=scope["path"], status=status
                )
            structlog.contextvars.unbind_contextvars("request_id")


def count_response(status: int) -> None:
    """Count a response by status class (the five usual ones looked up once)."""
    counter = _BY_CLASS.get(status // 100)
    (counter or HTTP_REQUESTS.labels(f"{status // 100}xx")).inc()


class SecureHeadersMiddleware:
    """Adds the API security headers of the project's defaults (replacing any the app set) and
    drops ``Server``/``X-Powered-By``. ``Cache-Control`` is ``no-store`` everywhere except the
    explicitly public paths in ``cacheable`` (the JWKS), never at a route's own choice."""

    def __init__(
        self,
        app: ASGIApp,
        headers: Iterable[tuple[bytes, bytes]] = API_HEADERS,
        cacheable: dict[str, bytes] | None = None,
    ) -> None:
        self.app = app
        self.headers = list(headers)
        self.names = {k for k, _ in self.headers} | set(_STRIPPED)
        self.cacheable = {
            path: [(k, value if k == b"cache-control" else v) for k, v in self.headers]
            for path, value in (cacheable or {}).items()
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        ours = self.cacheable.get(scope["path"], self.headers)

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [
                    (k, v) for k, v in message.get("headers", []) if k.lower() not in self.names
                ]
                message["headers"] = kept + ours
            await send(message)

        await self.app(scope, receive, send_wrapper)


class BodyGuardMiddleware:
    """For API requests under ``prefix``: 406 when ``Accept`` rules out JSON; and for those with
    a body, 413 over ``limit`` (before parsing, from ``Content-Length`` or while reading), 415
    unless JSON, 422 unless valid UTF-8. The checked body is replayed to the app. Paths in
    ``exempt`` and below them (forward auth) pass untouched."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        limit: int,
        prefix: str = "/v1/",
        exempt: Iterable[str] = (),
        max_json_depth: int = 32,
    ) -> None:
        self.app = app
        self.limit = limit
        self.max_json_depth = max_json_depth
        self.prefix = prefix
        self.exempt = tuple(exempt)

    def _applies(self, path: str) -> bool:
        if not path.startswith(self.prefix):
            return False
        return not any(path == e or path.startswith(e + "/") for e in self.exempt)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self._applies(scope["path"]):
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        if not _accepts_json(headers.get(b"accept")):
            await simple_problem(406, "This API answers in JSON; accept application/json.")(
                scope, receive, send
            )
            return
        if scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        if declared_over(scope["headers"], self.limit):
            await self._refuse(scope, receive, send, ("body_size", self._too_large()))
            return
        try:
            body = await read_body(receive, self.limit)
        except ConnectionError:
            return
        if body is None:
            await self._refuse(scope, receive, send, ("body_size", self._too_large()))
            return
        rejection = self._reject(headers.get(b"content-type", b""), body, self.max_json_depth)
        if rejection is not None:
            await self._refuse(scope, receive, send, rejection)
            return
        await self.app(scope, replay(body, receive), send)

    def _too_large(self) -> ASGIApp:
        return simple_problem(413, f"The body must be at most {self.limit} bytes.")

    @staticmethod
    async def _refuse(
        scope: Scope, receive: Receive, send: Send, refused: tuple[str, ASGIApp]
    ) -> None:
        await turn_away(refused, service_audit(scope), scope, receive, send)

    @staticmethod
    def _reject(content_type: bytes, body: bytes, max_depth: int) -> tuple[str, ASGIApp] | None:
        """``(reason, answer)`` for a body that is not UTF-8 JSON within the depth limit."""
        if not body:
            return None
        media = content_type.split(b";")[0].strip().lower()
        if media != b"application/json" and not (
            media.startswith(b"application/") and media.endswith(b"+json")
        ):
            return "body_media_type", simple_problem(415, "Send the body as application/json.")
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            exc = InvalidInput(
                "The body is not valid UTF-8.", errors=[{"field": "body", "code": "utf8"}]
            )
            return "body_utf8", problem_response(exc.status, exc.problem())
        if json_depth(body, max_depth) > max_depth:
            text = f"The JSON body is nested deeper than {max_depth} levels."
            return "body_depth", simple_problem(400, text)
        return None


_JSON_RANGES = (b"*/*", b"application/*", b"application/json", b"application/problem+json")


def _accepts_json(accept: bytes | None) -> bool:
    """True unless an ``Accept`` header names only media types that exclude JSON."""
    if accept is None or not accept.strip():
        return True
    for part in accept.lower().split(b","):
        media, *params = (p.strip() for p in part.split(b";"))
        refused = any(_is_q(p) and float(p[2:]) == 0 for p in params)
        if media in _JSON_RANGES and not refused:
            return True
    return False


def _is_q(param: bytes) -> bool:
    return param.startswith(b"q=") and param[2:].replace(b".", b"", 1).isdigit()


def with_headers(send: Send, extra: list[tuple[bytes, bytes]]) -> Send:
    """``send`` with ``extra`` header fields added to the response start."""

    async def send_wrapper(message: Message) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = [*message.get("headers", []), *extra]
        await send(message)

    return send_wrapper


class ErrorBoundaryMiddleware:
    """The innermost safety net: an unexpected exception becomes a generic 500 problem that
    still passes through the header and request-id middleware (Starlette's own last-resort
    handler sits outside them). The traceback goes to the log, never to the client."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.log = structlog.get_logger("bastion.http")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_wrapper(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except Exception:
            self.log.error("http.unhandled", exc_info=True)
            if started:
                raise
            response = problem_response(500, BastionError().problem(scope["path"]))
            await response(scope, receive, send)
