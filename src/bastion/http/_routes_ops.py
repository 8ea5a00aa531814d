"""Operations endpoints: liveness, readiness, Prometheus metrics and the JWKS."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bastion.errors import StorageUnavailable
from bastion.http._deps import get_guard
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
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


async def jwks(request: Request) -> Response:
    """Current and previous public signing keys (publicly cacheable for 60 s, set by the
    secure-headers middleware)."""
    return JSONResponse(get_guard(request).keyring.jwks())
