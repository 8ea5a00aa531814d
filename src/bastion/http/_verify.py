"""``GET|POST /v1/verify``: forward auth for nginx ``auth_request``, Traefik ForwardAuth and
Envoy ext_authz. Plain Starlette, no FastAPI machinery: a warm token costs a dict lookup.

Credentials: ``Authorization: Bearer <access token>``, ``Authorization: Bearer bst_...`` or
``X-API-Key: bst_...``. 200 with ``X-Bastion-Subject``, ``X-Bastion-Scopes`` and
``X-Bastion-Session`` (access token) or ``X-Bastion-Key`` (API key); 401 problem with
``WWW-Authenticate`` otherwise. Failures are audited (at most one event per reason and client
network every 10 s, with a count of the folded ones, so a flood of forged tokens cannot flood
the audit log); successes are counted in metrics.
"""

from __future__ import annotations

from prometheus_client import Counter
from starlette.requests import Request
from starlette.responses import Response

from bastion._principal import authenticate
from bastion.errors import InvalidToken
from bastion.http._deps import bearer_token, client_ip, get_guard
from bastion.http._problems import problem_response
from bastion.http._signing import check_forwarded_signature
from bastion.monitor import mask_ip
from bastion.sessions import AccessClaims

__all__ = ["verify_endpoint"]

VERIFY = Counter("bastion_verify_total", "Forward-auth decisions", ["outcome"])
_ALLOWED = VERIFY.labels("allowed")
_DENIED = VERIFY.labels("denied")


def _allowed(
    subject: str, scopes: tuple[str, ...], session: str | None, key: str | None
) -> Response:
    _ALLOWED.inc()
    headers = {"X-Bastion-Subject": subject, "X-Bastion-Scopes": " ".join(scopes)}
    if session is not None:
        headers["X-Bastion-Session"] = session
    if key is not None:
        headers["X-Bastion-Key"] = key
    return Response(status_code=200, headers=headers)


def _from_claims(claims: AccessClaims) -> Response:
    return _allowed(claims.subject, claims.scopes, claims.session_id, None)


async def verify_endpoint(request: Request) -> Response:
    # Request signatures (routes with require_signature) are checked in their own module.
    return await check_forwarded_signature(request, await _verify_credentials(request))


async def _verify_credentials(request: Request) -> Response:
    guard = get_guard(request)
    token = bearer_token(request.headers.get("authorization"))
    api_key = request.headers.get("x-api-key")
    if token is not None and api_key is None:
        claims = guard.sessions.verify_access_cached(token)
        if claims is not None:
            return _from_claims(claims)
    try:
        who = await authenticate(
            guard.sessions, guard.apikeys, bearer=token, api_key=api_key, ip=client_ip(request)
        )
        return _allowed(who.subject, who.scopes, who.session_id, who.key_id)
    except InvalidToken as exc:
        _DENIED.inc()
        reason, ip = exc.reason or "invalid", client_ip(request)
        await guard.audit.record_sampled(
            "verify.denied", "denied", key=f"{reason}:{mask_ip(ip, 'masked')}", reason=reason, ip=ip
        )
        return problem_response(exc.status, exc.problem(), exc.headers())
