"""``GET|POST /v1/verify``: forward auth for nginx ``auth_request``, Traefik ForwardAuth and
Envoy ext_authz. Plain Starlette, no FastAPI machinery: a warm token costs a dict lookup.

The original request is read from ``X-Forwarded-Method``/``X-Original-Method`` and
``X-Forwarded-Uri``/``X-Original-URI`` (nginx, Traefik), or from the method and the path below
``/v1/verify/`` (Envoy); headers that name two different original requests are refused (400,
audited: a client forged one family the proxy did not overwrite). Its ``[[routes]]`` policy
then applies as in the middleware stack: credentials, scopes, rate limits, inspection of the
query string. A call that names no original request is checked as an unmatched route: a
valid credential is required.

Credentials: ``Authorization: Bearer <access token>``, ``Authorization: Bearer bst_...`` or
``X-API-Key: bst_...``. 200 with ``X-Bastion-Subject``, ``X-Bastion-Scopes`` and
``X-Bastion-Session`` (access token) or ``X-Bastion-Key`` (API key) (none of them on a route
with ``auth = "none"`` and no credential); otherwise the refusal's problem (401, 403, 429).
Refusals are audited by the gate (sampled where an attacker can repeat them cheaply).
"""

from __future__ import annotations

from urllib.parse import unquote

from prometheus_client import Counter
from starlette.requests import Request
from starlette.responses import Response

from bastion._gate import DEFAULT_ROUTE, Denied, Passage, RouteRequest
from bastion._gate_inputs import header_map
from bastion.errors import BadRequest
from bastion.http._deps import client_ip, get_guard
from bastion.http._problems import problem_response
from bastion.http._signing import check_forwarded_signature, forwarded_request

__all__ = ["verify_endpoint"]

VERIFY = Counter("bastion_verify_total", "Forward-auth decisions", ["outcome"])
_ALLOWED = VERIFY.labels("allowed")
_DENIED = VERIFY.labels("denied")
_MAX_URI = 16384


def _original(request: Request) -> tuple[str, str, str] | None:
    """(method, decoded path, raw query) of the forwarded request, or None if not named."""
    forwarded = forwarded_request(request)
    if forwarded is None:
        return None
    method, target = forwarded
    path, _, query = target[:_MAX_URI].partition("?")
    return method, unquote(path.partition("#")[0]) or "/", query


def _allowed(passage: Passage) -> Response:
    _ALLOWED.inc()
    headers = dict(passage.headers)
    who = passage.principal
    if who is not None:
        headers["X-Bastion-Subject"] = who.subject
        headers["X-Bastion-Scopes"] = " ".join(who.scopes)
        if who.session_id is not None:
            headers["X-Bastion-Session"] = who.session_id
        if who.key_id is not None:
            headers["X-Bastion-Key"] = who.key_id
    return Response(status_code=200, headers=headers)


async def verify_endpoint(request: Request) -> Response:
    # Request signatures (routes with require_signature) are checked in their own module.
    return await check_forwarded_signature(request, await _verify_route(request))


async def _verify_route(request: Request) -> Response:
    gate = get_guard(request).gate
    ip = client_ip(request) or "unknown"
    # one pass over the raw header list; the gate then reads a handful of them by name
    headers = header_map(request.scope["headers"])
    try:
        original = _original(request)
    except BadRequest as exc:
        _DENIED.inc()
        await get_guard(request).audit.record_denied("verify.denied", reason="ambiguous", ip=ip)
        return problem_response(exc.status, exc.problem(), {"X-Bastion-Problem": exc.type})
    try:
        if original is None:
            facts = RouteRequest(request.method, "/", "", headers, ip)
            passage = await gate.check(facts, DEFAULT_ROUTE)
        else:
            method, path, query = original
            passage = await gate.check(RouteRequest(method, path, query, headers, ip))
    except Denied as denied:
        _DENIED.inc()
        error = denied.error
        refusal = {**denied.response_headers(), "X-Bastion-Problem": error.type}
        return problem_response(error.status, error.problem(), refusal)
    return _allowed(passage)
