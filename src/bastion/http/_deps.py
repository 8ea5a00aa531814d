"""Request-scoped helpers shared by the routes: the Bastion instance, client info, bearer."""

from __future__ import annotations

from fastapi import Request

from bastion._facade import Bastion
from bastion._principal import bearer_token
from bastion.errors import InvalidToken
from bastion.sessions import AccessClaims, DeviceInfo

__all__ = ["bearer_token", "client_ip", "device_info", "get_guard", "require_bearer"]


def get_guard(request: Request) -> Bastion:
    guard: Bastion = request.app.state.bastion
    return guard


def client_ip(request: Request) -> str | None:
    ip = request.scope.get("state", {}).get("client_ip")
    return str(ip) if ip else None


def device_info(
    request: Request, device_id: str | None = None, platform: str | None = None
) -> DeviceInfo:
    return DeviceInfo(
        user_agent=request.headers.get("user-agent", "")[:512] or None,
        platform=platform,
        device_id=device_id,
        ip=client_ip(request),
    )


async def require_bearer(request: Request) -> AccessClaims:
    """FastAPI dependency: the verified claims of a live session, else 401 (audited)."""
    guard = get_guard(request)
    token = bearer_token(request.headers.get("authorization"))
    try:
        if token is None:
            raise InvalidToken(reason="missing")
        return await guard.sessions.verify_access(token)
    except InvalidToken as exc:
        reason, ip = exc.reason or "invalid", client_ip(request)
        await guard.audit.record_denied("auth.token.rejected", reason=reason, ip=ip)
        raise
