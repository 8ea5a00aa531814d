"""``/v1/auth/*``: register, login, refresh, logout, MFA. Parse, call identity, format."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from bastion.errors import InvalidInput
from bastion.http._deps import client_ip, device_info, get_guard, require_bearer
from bastion.http._models import (
    CodeRequest,
    LoginRequest,
    LoginResponse,
    MfaChallengeResponse,
    MfaVerifyRequest,
    RefreshRequest,
    RegisterRequest,
    RegisterResponse,
    TotpEnrollResponse,
)
from bastion.identity import MfaChallenge
from bastion.sessions import AccessClaims, TokenPair

__all__ = ["router"]

router = APIRouter(prefix="/v1/auth", tags=["auth"])
Claims = Annotated[AccessClaims, Depends(require_bearer)]


def _pair(pair: TokenPair, request: Request) -> LoginResponse:
    key = get_guard(request).signatures.session_key(pair.session_id)
    return LoginResponse(
        access_token=pair.access_token,
        refresh_token=pair.refresh_token,
        expires_in=pair.expires_in,
        session_id=pair.session_id,
        signing_key=key.encoded,
        signing_key_id=key.key_id,
    )


@router.post("/register", status_code=201, response_model=RegisterResponse)
async def register(body: RegisterRequest, request: Request) -> RegisterResponse:
    """Create an account. A taken username gets the same answer as a new one (no enumeration)."""
    done = await get_guard(request).identity.register(
        body.username, body.password, email=body.email, ip=client_ip(request)
    )
    return RegisterResponse(user_id=done.user_id, password_strength=done.password_strength)


@router.post("/login", response_model=LoginResponse | MfaChallengeResponse)
async def login(body: LoginRequest, request: Request) -> LoginResponse | MfaChallengeResponse:
    """Password login: tokens, or ``mfa_required`` with an ``mfa_token`` for the second step."""
    result = await get_guard(request).identity.login(
        body.username, body.password, device_info(request, body.device_id, body.platform)
    )
    if isinstance(result, MfaChallenge):
        return MfaChallengeResponse(mfa_token=result.mfa_token, expires_in=result.expires_in)
    return _pair(result, request)


@router.post("/refresh", response_model=LoginResponse)
async def refresh(body: RefreshRequest, request: Request) -> LoginResponse:
    """Rotate the refresh token. Reusing an old one revokes the whole session."""
    pair = await get_guard(request).sessions.refresh(body.refresh_token, ip=client_ip(request))
    return _pair(pair, request)


@router.post("/logout", status_code=204, response_class=Response)
async def logout(claims: Claims, request: Request) -> Response:
    """End the current session; its access token is refused by ``/v1/verify`` at once."""
    await get_guard(request).sessions.revoke(claims.subject, claims.session_id, reason="logout")
    return Response(status_code=204)


@router.post("/mfa/totp/enroll", response_model=TotpEnrollResponse)
async def totp_enroll(claims: Claims, request: Request) -> TotpEnrollResponse:
    """Start TOTP enrolment: a secret and an ``otpauth://`` URI for an authenticator app."""
    enrolment = await get_guard(request).mfa.enroll_totp(claims.subject)
    return TotpEnrollResponse(secret=enrolment.secret, provisioning_uri=enrolment.provisioning_uri)


@router.post("/mfa/totp/confirm")
async def totp_confirm(body: CodeRequest, claims: Claims, request: Request) -> dict[str, list[str]]:
    """Prove the authenticator works; returns ten single-use recovery codes, shown once."""
    codes = await get_guard(request).mfa.confirm_totp(claims.subject, body.code)
    return {"recovery_codes": codes}


@router.post("/mfa/totp/verify", response_model=LoginResponse)
async def totp_verify(body: MfaVerifyRequest, request: Request) -> LoginResponse:
    """Second login step: ``mfa_token`` with a TOTP ``code`` or a ``recovery_code``."""
    guard, ip = get_guard(request), client_ip(request)
    if (body.code is None) == (body.recovery_code is None):
        raise InvalidInput(
            "Send exactly one of 'code' and 'recovery_code'.",
            errors=[{"field": "code", "code": "exactly_one"}],
        )
    if body.code is not None:
        return _pair(await guard.mfa.verify_totp(body.mfa_token, body.code, ip=ip), request)
    assert body.recovery_code is not None
    return _pair(
        await guard.mfa.verify_recovery(body.mfa_token, body.recovery_code, ip=ip), request
    )
