"""``/v1/sessions``: a user's own sessions: list, revoke one, revoke all others."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response

from bastion.http._deps import get_guard, require_bearer
from bastion.http._models import SessionOut, SessionsOut
from bastion.sessions import AccessClaims

__all__ = ["router"]

router = APIRouter(prefix="/v1/sessions", tags=["sessions"])
Claims = Annotated[AccessClaims, Depends(require_bearer)]
SessionId = Annotated[str, Path(min_length=32, max_length=32, pattern=r"^[0-9a-f]{32}$")]


@router.get("", response_model=SessionsOut)
async def list_sessions(claims: Claims, request: Request) -> SessionsOut:
    """The caller's live sessions, newest first; ``current`` marks this one."""
    infos = await get_guard(request).sessions.list(claims.subject, current=claims.session_id)
    return SessionsOut(sessions=[_out(i) for i in infos])


def _out(info: object) -> SessionOut:
    fields = {name: getattr(info, name) for name in SessionOut.model_fields}
    fields["amr"] = list(fields["amr"])
    return SessionOut(**fields)


@router.delete("/{session_id}", status_code=204, response_class=Response)
async def revoke_session(session_id: SessionId, claims: Claims, request: Request) -> Response:
    """Revoke one of the caller's sessions (404 for anyone else's)."""
    await get_guard(request).sessions.revoke(claims.subject, session_id, reason="user")
    return Response(status_code=204)


@router.delete("", response_model=dict[str, int])
async def revoke_others(claims: Claims, request: Request) -> dict[str, int]:
    """Sign out everywhere else: revoke every session of the caller except this one."""
    count = await get_guard(request).sessions.revoke_all(
        claims.subject, except_session=claims.session_id, reason="sign_out_others"
    )
    return {"revoked": count}
