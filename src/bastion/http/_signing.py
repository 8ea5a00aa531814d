"""HTTP message signatures at the edge: a pure-ASGI middleware for a Python app, and the
check ``/v1/verify`` adds for routes with ``require_signature``. Both only gather the request
(method, raw path and query, header fields, body) and call ``guard.signatures.verify``; the
decision and its audit event are in :mod:`bastion.signing`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import unquote

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from bastion.errors import BadRequest, InvalidSignature
from bastion.http._bodies import declared_over, read_body, replay
from bastion.http._deps import client_ip, get_guard
from bastion.http._problems import problem_response, simple_problem
from bastion.signing import SignedRequest, combine_headers

if TYPE_CHECKING:
    from bastion._facade import Bastion

__all__ = ["RequireSignatureMiddleware", "check_forwarded_signature", "forwarded_request"]

SIGNATURE_KEY_HEADER = "X-Bastion-Signature-Key"
VERIFY_PREFIX = "/v1/verify"
_TARGET_HEADERS = frozenset({b"x-forwarded-uri", b"x-original-uri"})
_METHOD_HEADERS = frozenset({b"x-forwarded-method", b"x-original-method"})


def _rejection(exc: InvalidSignature) -> Response:
    return problem_response(exc.status, exc.problem(), exc.headers())


class RequireSignatureMiddleware:
    """Refuse requests for which ``applies(method, path)`` holds unless they carry a valid
    signature over their method, raw path, query, covered header fields and body
    (``Content-Digest``). The body is buffered up to ``[signing] max_body_bytes`` (413 beyond)
    and replayed to the app; the verified signature is put in ``scope["state"]["signature"]``.
    When an earlier layer put a principal in ``scope["state"]["bastion_principal"]`` (the
    gate of ``guard.protect``) or ``["principal"]`` (with ``session_id``/``key_id``), the
    signature must be made with that credential's key."""

    def __init__(
        self, app: ASGIApp, *, guard: Bastion, applies: Callable[[str, str], bool]
    ) -> None:
        self.app = app
        self.guard = guard
        self.applies = applies
        self.limit = guard.settings.signing.max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.applies(scope["method"], scope["path"]):
            await self.app(scope, receive, send)
            return
        body = await self._body(scope, receive, send)
        if body is None:
            return
        state = scope.setdefault("state", {})
        raw_path = scope.get("raw_path") or scope["path"].encode("utf-8")
        request = SignedRequest(
            scope["method"],
            raw_path.decode("latin-1").partition("?")[0],
            scope.get("query_string", b"").decode("latin-1"),
            combine_headers(scope["headers"]),
        )
        principal = state.get("bastion_principal") or state.get("principal")
        try:
            state["signature"] = await self.guard.signatures.verify(
                request,
                body=body,
                ip=state.get("client_ip"),
                session_id=getattr(principal, "session_id", None),
                api_key_id=getattr(principal, "key_id", None),
            )
        except InvalidSignature as exc:
            await _rejection(exc)(scope, receive, send)
            return
        await self.app(scope, replay(body, receive), send)

    async def _body(self, scope: Scope, receive: Receive, send: Send) -> bytes | None:
        """The whole body, or None after answering 413 (or on a client disconnect)."""
        if declared_over(scope["headers"], self.limit):
            await self._too_large()(scope, receive, send)
            return None
        try:
            body = await read_body(receive, self.limit)
        except ConnectionError:
            return None
        if body is None:
            await self._too_large()(scope, receive, send)
        return body

    def _too_large(self) -> Response:
        return simple_problem(413, f"A signed body must be at most {self.limit} bytes.")


def forwarded_request(request: Request) -> tuple[str, str] | None:
    """The original ``(method, raw target)`` a gateway asks about, the one reading of it that
    ``/v1/verify`` and the signature check share: the method and the path below
    ``/v1/verify/`` (Envoy, set by the proxy itself, so it comes first), else
    ``X-Forwarded-Method`` / ``X-Original-Method`` (default ``GET``) with ``X-Forwarded-Uri`` /
    ``X-Original-URI`` (nginx, Traefik). None when the gateway named no original request;
    :class:`~bastion.errors.BadRequest` when the headers name two different ones."""
    raw = (request.scope.get("raw_path") or request.url.path.encode()).decode("latin-1")
    if raw.startswith(VERIFY_PREFIX + "/"):
        query = request.scope.get("query_string", b"").decode("latin-1")
        return request.method, raw[len(VERIFY_PREFIX) :] + (f"?{query}" if query else "")
    targets: set[str] = set()
    methods: set[str] = set()
    for name, value in request.scope["headers"]:
        if value and name in _TARGET_HEADERS:
            targets.add(value.decode("latin-1"))
        elif value and name in _METHOD_HEADERS:
            methods.add(value.decode("latin-1").upper())
    if len(targets) > 1 or len(methods) > 1:
        # A proxy sets one family and a client forged the other (or a repeated line): which
        # one the proxy vouches for cannot be told, so neither is trusted.
        raise BadRequest("The gateway named two different original requests.")
    if not targets:
        return None
    return (methods.pop() if methods else "GET"), targets.pop()


async def check_forwarded_signature(request: Request, response: Response) -> Response:
    """For ``/v1/verify``: when the forwarded request's route has ``require_signature``, turn
    an allowing ``response`` into a 401 problem unless the forwarded request carries a valid
    signature made with the key of the credential that was allowed (if any). The gateway
    sends no body: ``Content-Digest`` is covered by the signature but must be compared with
    the body upstream (``bastion.signing.verify_content_digest``)."""
    guard = get_guard(request)
    if response.status_code != 200 or not guard.gate.signs:
        return response
    forwarded = forwarded_request(request)
    if forwarded is None:
        return response
    method, target = forwarded
    path, _, query = target.partition("?")
    # The route as the gate chose it: percent-decoded and normalised, so an encoded path
    # cannot reach a route without its signature requirement.
    route = guard.gate.route_for(method, unquote(path))
    if not route.require_signature:
        return response
    signed = SignedRequest(method, path, query, combine_headers(request.headers.raw))
    try:
        verified = await guard.signatures.verify(
            signed,
            body=None,
            ip=client_ip(request),
            session_id=response.headers.get("x-bastion-session"),
            api_key_id=response.headers.get("x-bastion-key"),
        )
    except InvalidSignature as exc:
        return _rejection(exc)
    response.headers[SIGNATURE_KEY_HEADER] = verified.key_id
    return response
