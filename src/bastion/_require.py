"""``guard.require(scopes=[...])``: a FastAPI dependency (any callable taking a Starlette
``Request``) that authenticates the caller and checks scopes.

It decides nothing by itself: credentials go to :func:`bastion._principal.authenticate`
(access token or API key), and the result is compared with the required scopes.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from starlette.requests import Request

from bastion._principal import Principal, authenticate, bearer_token
from bastion.errors import Forbidden, InvalidToken

if TYPE_CHECKING:
    from bastion._facade import Bastion

__all__ = ["MissingScope", "Requirement"]


class MissingScope(Forbidden):
    type = "missing-scope"
    title = "Missing scope"
    default_detail = "The credential lacks a scope this route needs."


class Requirement:
    """Callable dependency: returns the :class:`Principal`, or raises ``InvalidToken`` (401)
    or :class:`MissingScope` (403, naming the missing scopes). Every refusal is audited."""

    def __init__(self, guard: Bastion, scopes: Iterable[str] = ()) -> None:
        self._guard = guard
        self.scopes = frozenset(scopes)

    async def __call__(self, request: Request) -> Principal:
        ip = request.scope.get("state", {}).get("client_ip") or (
            request.client.host if request.client else None
        )
        try:
            who = await authenticate(
                self._guard.sessions,
                self._guard.apikeys,
                bearer=bearer_token(request.headers.get("authorization")),
                api_key=request.headers.get("x-api-key"),
                ip=ip,
            )
        except InvalidToken as exc:
            await self._guard.audit.record_denied("auth.token.rejected", reason=exc.reason, ip=ip)
            raise
        missing = sorted(self.scopes - set(who.scopes))
        if missing:
            await self._guard.audit.record(
                "authz.denied",
                "denied",
                subject=who.subject,
                reason="missing_scope",
                ip=ip,
                details={"missing": " ".join(missing), "path": request.url.path[:128]},
            )
            raise MissingScope(
                f"This route needs the scope(s): {', '.join(missing)}.", missing=missing
            )
        return who
