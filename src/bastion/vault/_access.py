"""Who may do what in the vault. The one place this is decided; adapters only pass the caller.

- ``vault:write`` puts and deletes single fields; ``vault:lookup`` searches by blind index;
  ``vault:erase`` erases a whole subject (irreversible, so a scope of its own);
  ``vault:read`` reads any subject's fields.
- Self read: with ``vault.self_read`` on (the default), a signed-in user may read the fields of
  their own subject (subject == token subject) without ``vault:read``, to see what is stored
  about them. Only through an access token of a session: an API key acts with its scopes
  alone, so a narrowly scoped key of a user cannot read that user's vault.
- A caller of ``None`` is the operator (CLI, library code): trusted, but still audited.
"""

from __future__ import annotations

from typing import Literal

from bastion._principal import Principal
from bastion._require import MissingScope

__all__ = ["SCOPES", "Operation", "denial", "missing_scope"]

Operation = Literal["read", "write", "lookup", "erase"]
SCOPES: dict[str, str] = {
    "read": "vault:read",
    "write": "vault:write",
    "lookup": "vault:lookup",
    "erase": "vault:erase",
}


def missing_scope(
    caller: Principal | None, operation: Operation, subject: str | None, *, self_read: bool
) -> str | None:
    """The scope ``caller`` lacks for ``operation`` on ``subject``, or None when allowed."""
    if caller is None:
        return None
    scope = SCOPES[operation]
    if scope in caller.scopes:
        return None
    is_own = subject is not None and subject == caller.subject
    if operation == "read" and self_read and is_own and caller.session_id is not None:
        return None
    return scope


def denial(scope: str) -> MissingScope:
    """The 403 ``missing-scope`` problem for ``scope``, as ``guard.require`` answers it."""
    return MissingScope(f"This route needs the scope(s): {scope}.", missing=[scope])
