"""Pure-ASGI middleware for sealed payloads and signed responses (``docs/sealed.md``).

Both take ``applies(method, path) -> bool`` (the lead wires them per route from
``RouteSettings.sealed`` / ``sign_responses``) and call ``guard.sealing`` for every decision;
here the exchange is only bounded, buffered and rewritten. ``guard=None`` means the app's own
guard (``scope["app"].state.bastion``), for the service, whose lifespan opens it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING
from urllib.parse import quote

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bastion.errors import BastionError, SealedPayloadTooLarge
from bastion.http._bodies import read_body, replay
from bastion.http._problems import problem_response

if TYPE_CHECKING:
    from bastion._facade import Bastion
    from bastion.crypto import OpenedRequest, Sealing

__all__ = ["SealedPayloadMiddleware", "SignedResponseMiddleware", "request_target"]

Applies = Callable[[str, str], bool]
Headers = list[tuple[bytes, bytes]]
_DROPPED = (b"content-type", b"content-length", b"transfer-encoding")


def request_target(scope: Scope) -> str:
    """The path and query as the client sent them (``raw_path`` when the server gives it)."""
    raw: bytes = scope.get("raw_path") or quote(scope["path"]).encode("ascii")
    target = raw.split(b"?", 1)[0].decode("latin-1")
    query: bytes = scope.get("query_string", b"")
    return f"{target}?{query.decode('latin-1')}" if query else target


def _header(headers: Iterable[tuple[bytes, bytes]], name: bytes) -> str | None:
    return next((v.decode("latin-1") for k, v in headers if k.lower() == name), None)


def _rewrite(headers: Iterable[tuple[bytes, bytes]], media_type: str, length: int) -> Headers:
    kept = [(k, v) for k, v in headers if k.lower() not in _DROPPED]
    kept.append((b"content-type", media_type.encode("latin-1")))
    kept.append((b"content-length", str(length).encode("ascii")))
    return kept


async def _capture(
    app: ASGIApp, scope: Scope, receive: Receive, limit: int
) -> tuple[int, Headers, bytes] | None:
    """Run ``app`` and keep its whole response; None when the body passes ``limit``."""
    start: Message = {}
    body = bytearray()
    overflow = False

    async def send(message: Message) -> None:
        nonlocal overflow
        if message["type"] == "http.response.start":
            start.update(message)
        elif message["type"] == "http.response.body" and not overflow:
            body.extend(message.get("body", b""))
            overflow = len(body) > limit

    await app(scope, receive, send)
    if overflow or not start:
        return None
    return int(start["status"]), list(start.get("headers", [])), bytes(body)


async def _respond(send: Send, status: int, headers: Headers, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


async def _problem(exc: BastionError, scope: Scope, receive: Receive, send: Send) -> None:
    await problem_response(exc.status, exc.problem(scope["path"]), exc.headers())(
        scope, receive, send
    )


class _RouteLayer:
    """A layer for the routes ``applies`` selects; every other request passes untouched."""

    def __init__(self, app: ASGIApp, *, guard: Bastion | None = None, applies: Applies) -> None:
        self.app = app
        self.guard = guard
        self.applies = applies


async def _response_too_large(sealing: Sealing, scope: Scope, receive: Receive, send: Send) -> None:
    """The app's answer passed ``[sealing] max_body_bytes``: audited, and a 500 problem."""
    await sealing.record_response_failure("too_large")
    await _problem(BastionError(), scope, receive, send)


class SealedPayloadMiddleware(_RouteLayer):
    """Opens sealed request bodies for the routes ``applies`` selects and seals their
    responses. Downstream sees the plaintext with its own ``Content-Type`` and a corrected
    ``Content-Length``; a request that is not sealed, too large or does not open gets a plain
    problem response (415 / 413 / 400) and never reaches the app."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.applies(scope["method"], scope["path"]):
            await self.app(scope, receive, send)
            return
        sealing = _guard(self.guard, scope).sealing
        opened = await self._open(sealing, scope, receive, send)
        if opened is None:
            return
        headers = _rewrite(scope["headers"], opened.media_type, len(opened.body))
        inner = {**scope, "headers": headers}
        limit = sealing.max_body_bytes
        captured = await _capture(self.app, inner, replay(opened.body, receive), limit)
        if captured is None:
            await _response_too_large(sealing, scope, receive, send)
            return
        status, answer, plain = captured
        payload, media = sealing.seal_response(
            opened, status=status, content_type=_header(answer, b"content-type") or "", body=plain
        )
        await _respond(send, status, _rewrite(answer, media, len(payload)), payload)

    @staticmethod
    async def _open(
        sealing: Sealing, scope: Scope, receive: Receive, send: Send
    ) -> OpenedRequest | None:
        """The opened request, or None once a problem was answered (or the client left)."""
        ip = scope.get("state", {}).get("client_ip")
        try:
            body = await read_body(receive, sealing.max_body_bytes)
        except ConnectionError:
            return None
        try:
            if body is None:
                too_large = SealedPayloadTooLarge()
                await sealing.record_rejection(too_large, ip=ip)
                raise too_large
            return await sealing.open_request(
                body,
                content_type=_header(scope["headers"], b"content-type"),
                method=scope["method"],
                target=request_target(scope),
                ip=ip,
            )
        except BastionError as exc:
            await _problem(exc, scope, receive, send)
            return None


class SignedResponseMiddleware(_RouteLayer):
    """Adds ``Bastion-Response-Signature`` (Ed25519 over status, content type, body digest,
    request id, method and target) to the responses of the routes ``applies`` selects. The
    response is buffered whole (at most ``[sealing] max_body_bytes``; a larger one becomes an
    unsigned 500 problem, audited)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.applies(scope["method"], scope["path"]):
            await self.app(scope, receive, send)
            return
        sealing = _guard(self.guard, scope).sealing
        captured = await _capture(self.app, scope, receive, sealing.max_body_bytes)
        if captured is None:
            await _response_too_large(sealing, scope, receive, send)
            return
        status, headers, body = captured
        signature = sealing.sign_response(
            status=status,
            content_type=_header(headers, b"content-type") or "",
            body=body,
            method=scope["method"],
            target=request_target(scope),
            request_id=_request_id(scope, headers),
        )
        headers = [(k, v) for k, v in headers if k.lower() != b"bastion-response-signature"]
        headers.append((b"bastion-response-signature", signature.encode("ascii")))
        await _respond(send, status, headers, body)


def _request_id(scope: Scope, response: Headers) -> str:
    """The response's ``X-Request-ID`` if already set, else the id the request context bound
    (which it will answer), else the client's."""
    answered = _header(response, b"x-request-id")
    bound = structlog.contextvars.get_contextvars().get("request_id")
    return answered or (str(bound) if bound else _header(scope["headers"], b"x-request-id") or "")


def _guard(guard: Bastion | None, scope: Scope) -> Bastion:
    """The given guard, or (``guard=None``) the app's, which its lifespan opened."""
    if guard is not None:
        return guard
    found: Bastion = scope["app"].state.bastion
    return found
