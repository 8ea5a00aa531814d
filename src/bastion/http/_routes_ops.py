"""Operations endpoints: liveness, readiness, Prometheus metrics and the JWKS."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bastion._principal import bearer_token
from bastion.errors import InvalidToken, StorageUnavailable
from bastion.http._deps import client_ip, get_guard
from bastion.http._problems import problem_response

__all__ = ["healthz", "jwks", "metrics", "readyz"]


async def healthz(request: Request) -> Response:
    """Liveness: the process answers."""
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    """Readiness: the database (and Redis, when configured) answer."""
    try:
        checks = await get_guard(request).readiness()
    except StorageUnavailable as exc:
        return problem_response(exc.status, exc.problem(), exc.headers())
    return JSONResponse({"status": "ready", **checks})


async def metrics(request: Request) -> Response:
    """Prometheus metrics; with ``server.metrics_token`` set, only for the bearer of it."""
    guard = get_guard(request)
    reason = guard.metrics_access.check(bearer_token(request.headers.get("authorization")))
    if reason is not None:
        ip = client_ip(request)
        await guard.audit.record_denied("metrics.denied", reason=reason, ip=ip)
        exc = InvalidToken("The metrics need the scrape token.", reason=reason)
        return problem_response(exc.status, exc.problem(), exc.headers())
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


async def jwks(request: Request) -> Response:
    """Current and previous public signing keys (publicly cacheable for 60 s, set by the
    secure-headers middleware)."""
    return JSONResponse(get_guard(request).keyring.jwks())
