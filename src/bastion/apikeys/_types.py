"""What the API key service hands out: a key's description and a verified principal."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ApiKeyInfo", "ApiKeyPrincipal"]


@dataclass(frozen=True, slots=True)
class ApiKeyInfo:
    """Everything about a key except its secret (which is never stored) and its hash."""

    id: str
    env: str
    name: str
    description: str
    scopes: tuple[str, ...]
    owner_user_id: str | None
    owner_service: str | None
    rate: str | None
    ip_allow: tuple[str, ...]
    created_at: float
    expires_at: float | None
    revoked_at: float | None
    rotated_from: str | None
    overlap_until: float | None
    last_used_at: float | None


@dataclass(frozen=True, slots=True)
class ApiKeyPrincipal:
    """Who a verified key speaks for and what it may do."""

    key_id: str
    env: str
    name: str
    scopes: frozenset[str]
    owner_user_id: str | None
    owner_service: str | None
    rate: str | None
