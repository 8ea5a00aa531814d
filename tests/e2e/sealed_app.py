"""A small app behind the sealed-payload and signed-response middlewares, for the end-to-end
test to run under uvicorn in its own process: ``uvicorn tests.e2e.sealed_app:create --factory``.

Its Bastion is opened from the environment (``BASTION_DATA_DIR``, ``BASTION_MASTER_KEY``) like
``bastion serve``; ``/api/*`` is sealed and signed, ``/.well-known/bastion-keys`` is public.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bastion import Bastion, load_settings
from bastion.http import (
    RequestContextMiddleware,
    SealedPayloadMiddleware,
    SignedResponseMiddleware,
)
from bastion.http._client import ClientIP
from bastion.http._routes_keys import bastion_keys


def _api(method: str, path: str) -> bool:
    return path.startswith("/api/")


async def orders(request: Request) -> Response:
    order = await request.json()
    return JSONResponse(
        {"accepted": order, "content_type": request.headers["content-type"]}, status_code=201
    )


def create() -> Starlette:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        guard = await Bastion.open(load_settings())
        app.state.bastion = guard
        try:
            yield
        finally:
            await guard.close()

    return Starlette(
        routes=[
            Route("/api/orders", orders, methods=["POST"]),
            Route("/.well-known/bastion-keys", bastion_keys, methods=["GET"]),
        ],
        middleware=[
            Middleware(SignedResponseMiddleware, applies=_api),
            Middleware(RequestContextMiddleware, client_ip=ClientIP(())),
            Middleware(SealedPayloadMiddleware, applies=_api),
        ],
        lifespan=lifespan,
    )
