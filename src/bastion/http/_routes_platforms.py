"""``/v1/platforms/*``: mini program logins, account linking and platform data. Parse, call
the platforms capability, format."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from bastion.errors import InvalidInput
from bastion.http._deps import client_ip, device_info, get_guard, require_bearer
from bastion.http._models import DeviceId, LoginResponse
from bastion.sessions import AccessClaims

__all__ = ["router"]

router = APIRouter(prefix="/v1/platforms", tags=["platforms"])
Claims = Annotated[AccessClaims, Depends(require_bearer)]
Platform = Annotated[Literal["wechat", "telegram", "alipay", "douyin", "baidu"], Path()]
REQUIRED = {
    "wechat": "code",
    "douyin": "code",
    "baidu": "code",
    "alipay": "auth_code",
    "telegram": "init_data",
}
Code = Annotated[str, Field(min_length=1, max_length=256, pattern=r"^[A-Za-z0-9_.\-]+$")]


class Credential(BaseModel):
    """What the client got from the platform: WeChat/Douyin/Baidu ``code``, Alipay
    ``auth_code``, Telegram ``init_data`` (the raw ``Telegram.WebApp.initData`` string)."""

    model_config = ConfigDict(extra="forbid")
    code: Code | None = None
    anonymous_code: Code | None = None
    auth_code: Code | None = None
    init_data: Annotated[str, Field(min_length=1, max_length=8192)] | None = None
    device_id: DeviceId | None = None


class EncryptedData(BaseModel):
    model_config = ConfigDict(extra="forbid")
    encrypted_data: Annotated[str, Field(min_length=1, max_length=16384)]
    iv: Annotated[str, Field(min_length=1, max_length=64)]


class PhoneCode(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: Code


def _credential(platform: str, body: Credential) -> dict[str, str]:
    needed = REQUIRED[platform]
    values = {k: v for k, v in body.model_dump(exclude={"device_id"}).items() if v is not None}
    if needed not in values:
        raise InvalidInput(
            f"Invalid field(s): {needed}.", errors=[{"field": needed, "code": "missing"}]
        )
    return values


@router.post("/{platform}/login", response_model=LoginResponse)
async def platform_login(platform: Platform, body: Credential, request: Request) -> LoginResponse:
    """Sign in with a platform credential; the same token pair as a password login."""
    device = device_info(request, body.device_id, platform)
    guard = get_guard(request)
    pair = await guard.platforms.login(platform, _credential(platform, body), device)
    key = guard.signatures.session_key(pair.session_id)
    return LoginResponse(
        access_token=pair.access_token,
        refresh_token=pair.refresh_token,
        expires_in=pair.expires_in,
        session_id=pair.session_id,
        signing_key=key.encoded,
        signing_key_id=key.key_id,
    )


@router.post("/{platform}/link", status_code=201)
async def link(
    platform: Platform, body: Credential, claims: Claims, request: Request
) -> dict[str, str]:
    """Link a platform account to the signed-in user (needs a sign-in within 10 minutes)."""
    accounts = get_guard(request).platform_accounts
    identity = await accounts.link(
        claims.subject,
        claims.session_id,
        platform,
        _credential(platform, body),
        ip=client_ip(request),
    )
    return {"platform": identity.platform, "linked": "true"}


@router.delete("/{platform}/link", status_code=204, response_class=Response)
async def unlink(platform: Platform, claims: Claims, request: Request) -> Response:
    """Unlink; refused when it is the user's last way to sign in."""
    await get_guard(request).platform_accounts.unlink(claims.subject, claims.session_id, platform)
    return Response(status_code=204)


@router.get("/accounts")
async def accounts(claims: Claims, request: Request) -> dict[str, list[dict[str, Any]]]:
    """The platforms the signed-in user can sign in with (no identifiers are returned)."""
    found = await get_guard(request).platform_accounts.identities(claims.subject)
    return {"accounts": [{"platform": i.platform, "app_id": i.app_id} for i in found]}


@router.post("/wechat/phone")
async def wechat_phone(body: PhoneCode, claims: Claims, request: Request) -> dict[str, Any]:
    """Exchange a ``getPhoneNumber`` code; the number is stored encrypted."""
    return await get_guard(request).platform_accounts.wechat_phone(claims.subject, body.code)


class AlipayPhone(BaseModel):
    model_config = ConfigDict(extra="forbid")
    response: Annotated[str, Field(min_length=2, max_length=8192)]


@router.post("/alipay/phone")
async def alipay_phone(body: AlipayPhone, claims: Claims, request: Request) -> dict[str, Any]:
    """The ``response`` string of ``my.getPhoneNumber``: signature checked, then decrypted;
    the number is stored encrypted."""
    return await get_guard(request).platform_accounts.alipay_phone(claims.subject, body.response)


@router.post("/{platform}/decrypt")
async def decrypt(
    platform: Annotated[Literal["wechat", "douyin", "baidu"], Path()],
    body: EncryptedData,
    claims: Claims,
    request: Request,
) -> dict[str, Any]:
    """Decrypt ``encryptedData`` with the stored session key (watermark or App Key, and the
    openid, checked against the signed-in identity); the data is stored encrypted."""
    accounts = get_guard(request).platform_accounts
    return await accounts.decrypt(claims.subject, platform, body.encrypted_data, body.iv)
