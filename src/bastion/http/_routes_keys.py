"""``GET /.well-known/bastion-keys``: the public sealing and response-signing keys."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bastion.http._deps import get_guard

__all__ = ["bastion_keys"]


async def bastion_keys(request: Request) -> Response:
    """The current (and previous) X25519 sealing and Ed25519 response-signing keys as a JWK
    set (``docs/sealed.md``); publicly cacheable for 5 minutes, set by the secure-headers
    middleware."""
    return JSONResponse(get_guard(request).sealing.document())
