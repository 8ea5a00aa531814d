"""Values the session layer hands out: device info, token pairs, session listings."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DeviceInfo", "SessionInfo", "TokenPair", "scopes_for_user"]


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    user_agent: str | None = None
    platform: str | None = None
    device_id: str | None = None
    ip: str | None = None


@dataclass(frozen=True, slots=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    session_id: str
    token_type: str = "Bearer"  # noqa: S105 - a scheme name, not a secret


@dataclass(frozen=True, slots=True)
class SessionInfo:
    id: str
    created_at: float
    last_seen_at: float
    expires_at: float
    idle_expires_at: float
    user_agent: str | None
    platform: str | None
    device_id: str | None
    first_ip: str | None
    amr: tuple[str, ...]
    current: bool


def scopes_for_user(is_admin: bool) -> tuple[str, ...]:
    """The scopes a user session carries: ``user``, plus ``admin`` for administrators."""
    return ("user", "admin") if is_admin else ("user",)
