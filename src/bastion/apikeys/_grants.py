"""Who may issue or manage which keys.

An administrator (a session with the ``admin`` scope) may issue keys with any scopes, owned
by a user or by a named service, and manage every key. Anyone else issues keys owned by
themselves, only with scopes they hold themselves (no escalation through a key), and manages
only their own keys.
"""

from __future__ import annotations

from collections.abc import Iterable

from bastion.apikeys._types import ApiKeyInfo
from bastion.errors import Forbidden, NotFound

__all__ = ["ADMIN_SCOPE", "check_issue", "check_manage", "visible_to"]

ADMIN_SCOPE = "admin"


def check_issue(
    caller_scopes: Iterable[str], requested: Iterable[str], *, owner_service: str | None
) -> None:
    """Raise :class:`Forbidden` naming the scopes the caller cannot grant."""
    held = set(caller_scopes)
    if ADMIN_SCOPE in held:
        return
    if owner_service is not None:
        raise Forbidden("Only an administrator can issue keys for a service.")
    missing = sorted(set(requested) - held)
    if missing:
        raise Forbidden(f"You cannot grant scopes you do not hold: {', '.join(missing)}.")


def check_manage(caller_id: str, caller_scopes: Iterable[str], key: ApiKeyInfo) -> None:
    """Raise :class:`NotFound` (not 403: no oracle for other users' key ids) unless the caller
    owns the key or is an administrator."""
    if ADMIN_SCOPE in set(caller_scopes) or key.owner_user_id == caller_id:
        return
    raise NotFound()


def visible_to(caller_id: str, caller_scopes: Iterable[str]) -> str | None:
    """The ``owner_user_id`` filter of ``ApiKeys.list`` for a caller: None (every key) for an
    administrator, else the caller's own id."""
    return None if ADMIN_SCOPE in set(caller_scopes) else caller_id
