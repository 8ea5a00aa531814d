"""Who is calling: one answer for an access token or an API key, used by ``/v1/verify``."""

from __future__ import annotations

from dataclasses import dataclass

from bastion.apikeys import ApiKeyPrincipal, ApiKeys
from bastion.errors import InvalidToken
from bastion.sessions import SessionService

__all__ = ["Principal", "authenticate", "bearer_token"]

API_KEY_PREFIX = "bst_"
_KEY_PRINCIPALS = 4096
_key_principals: dict[int, tuple[ApiKeyPrincipal, Principal]] = {}


def bearer_token(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer`` header (scheme case-insensitive), or None."""
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > 8192:
        return None
    return token


@dataclass(frozen=True, slots=True)
class Principal:
    """The subject (a user id, or ``service:<name>`` for a service's API key), its scopes, and
    the session or key it came through; ``rate`` is an API key's own rate limit, if it has one."""

    subject: str
    scopes: tuple[str, ...]
    session_id: str | None = None
    key_id: str | None = None
    rate: str | None = None


async def authenticate(
    sessions: SessionService,
    apikeys: ApiKeys,
    *,
    bearer: str | None,
    api_key: str | None,
    ip: str | None,
) -> Principal:
    """Verify a bearer access token, a bearer ``bst_`` API key or an ``X-API-Key`` header.

    Exactly one credential must be given; raises :class:`InvalidToken` (opaque, reason for the
    audit log) otherwise or when it does not verify. Fails closed.
    """
    if bearer is not None and api_key is not None:
        raise InvalidToken(reason="two_credentials")
    key = api_key if api_key is not None else bearer
    if key is None:
        raise InvalidToken(reason="missing")
    if key.startswith(API_KEY_PREFIX):
        return _of_key(await apikeys.verify(key, ip=ip))
    if api_key is not None:
        raise InvalidToken(reason="malformed")
    claims = sessions.verify_access_cached(key) or await sessions.verify_access(key)
    return Principal(claims.subject, claims.scopes, session_id=claims.session_id)


def _of_key(found: ApiKeyPrincipal) -> Principal:
    """The principal of a verified key. The key cache hands out the same (immutable) object
    on every hit, so the principal built from it is kept with it (held, so its id is not
    reused while the entry lives)."""
    known = _key_principals.get(id(found))
    if known is not None and known[0] is found:
        return known[1]
    owner = found.owner_user_id or f"service:{found.owner_service}"
    made = Principal(owner, tuple(sorted(found.scopes)), key_id=found.key_id, rate=found.rate)
    if len(_key_principals) >= _KEY_PRINCIPALS:
        _key_principals.clear()
    _key_principals[id(found)] = (found, made)
    return made
