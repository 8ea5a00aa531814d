"""The ASGI application: ``create_app()`` builds it; ``bastion serve`` runs it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware

from bastion import __version__
from bastion._facade import Bastion
from bastion.config import Settings, load_settings
from bastion.http._client import ClientIP
from bastion.http._limits import RequestLimitsMiddleware
from bastion.http._middleware import (
    BodyGuardMiddleware,
    ErrorBoundaryMiddleware,
    RequestContextMiddleware,
    SecureHeadersMiddleware,
)
from bastion.http._problems import register_problem_handlers
from bastion.http._ratelimit import RateLimitMiddleware
from bastion.http._routes_apikeys import router as apikeys_router
from bastion.http._routes_auth import router as auth_router
from bastion.http._routes_keys import bastion_keys
from bastion.http._routes_ops import healthz, jwks, metrics, readyz
from bastion.http._routes_platforms import router as platforms_router
from bastion.http._routes_sessions import router as sessions_router
from bastion.http._routes_vault import router as vault_router
from bastion.http._sealed import SignedResponseMiddleware
from bastion.http._verify import verify_endpoint
from bastion.infra import Clock
from bastion.inspect import warm_up

__all__ = ["create_app"]

FORWARDED_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def create_app(
    settings: Settings | None = None, *, guard: Bastion | None = None, clock: Clock | None = None
) -> FastAPI:
    """Build the service. With ``guard`` the caller owns its lifecycle; otherwise the app opens
    one from ``settings`` at start-up and closes it at shutdown."""
    settings = settings or (guard.settings if guard else load_settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if guard is not None:
            app.state.bastion = guard
            yield
            return
        opened = await Bastion.open(settings, clock=clock, background=True)
        warm_up()  # compile the inspection prefilter now, not on the first inspected request
        app.state.bastion = opened
        await opened.audit.record("service.start", "success", details={"version": __version__})
        try:
            yield
        finally:
            await opened.audit.record("service.stop", "success")
            await opened.close()

    app = FastAPI(
        title="Bastion",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json" if settings.server.openapi else None,
    )
    if guard is not None:
        app.state.bastion = guard
    register_problem_handlers(app)
    # The hot paths first: routing tries routes in order, so forward auth and the probes are
    # matched before the API routers.
    app.add_route("/v1/verify", verify_endpoint, methods=["GET", "POST"], include_in_schema=False)
    # Envoy's HTTP ext_authz sends the original method and path below a prefix.
    app.add_route(
        "/v1/verify/{path:path}",
        verify_endpoint,
        methods=list(FORWARDED_METHODS),
        include_in_schema=False,
    )
    for path, endpoint in (
        ("/healthz", healthz),
        ("/readyz", readyz),
        ("/metrics", metrics),
        ("/.well-known/jwks.json", jwks),
        ("/.well-known/bastion-keys", bastion_keys),
    ):
        app.add_route(path, endpoint, methods=["GET"], include_in_schema=False)
    app.include_router(auth_router)
    app.include_router(sessions_router)
    app.include_router(platforms_router)
    app.include_router(apikeys_router)
    app.include_router(vault_router)
    _add_middleware(app, settings)
    if settings.sealing.sign_service_responses:
        app.add_middleware(SignedResponseMiddleware, applies=lambda method, path: True)
    return app


def _add_middleware(app: FastAPI, settings: Settings) -> None:
    options: dict[str, Any] = {
        "limit": settings.server.auth_body_limit,
        "exempt": ("/v1/verify",),
        "max_json_depth": settings.server.max_json_depth,
    }
    app.add_middleware(ErrorBoundaryMiddleware)
    app.add_middleware(BodyGuardMiddleware, **options)
    app.add_middleware(RateLimitMiddleware)
    app.add_middleware(RequestLimitsMiddleware, settings=settings.server)
    app.add_middleware(
        SecureHeadersMiddleware,
        cacheable={
            "/.well-known/jwks.json": b"public, max-age=60",
            "/.well-known/bastion-keys": b"public, max-age=300",
        },
    )
    if settings.server.cors_origins:  # exact allow-list; never a reflected origin
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.server.cors_origins),
            allow_credentials=settings.server.cors_allow_credentials,
            allow_methods=["GET", "POST", "PUT", "DELETE"],
            allow_headers=["authorization", "content-type", "x-api-key", "x-request-id"],
            max_age=600,
        )
    app.add_middleware(
        RequestContextMiddleware,
        client_ip=ClientIP(settings.server.trusted_proxies),
        access_log=settings.server.access_log,
    )
