"""``/v1/apikeys``: issue, list, show, rotate and revoke API keys. Parse, call, format; the
grant rules live in ``bastion.apikeys``."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from bastion.apikeys import ApiKeyInfo, check_issue, check_manage, parse_key, visible_to
from bastion.http._deps import get_guard, require_bearer
from bastion.sessions import AccessClaims

__all__ = ["router"]

router = APIRouter(prefix="/v1/apikeys", tags=["apikeys"])
Claims = Annotated[AccessClaims, Depends(require_bearer)]
KeyId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[0-9a-f]+$")]
Scope = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9:._-]+$")]


class CreateKey(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Annotated[str, Field(min_length=1, max_length=100)]
    scopes: Annotated[list[Scope], Field(min_length=1, max_length=50)]
    expires_in_seconds: Annotated[int, Field(ge=60, le=5 * 365 * 86400)] | None = None
    rate: Annotated[str, Field(max_length=40)] | None = None
    ip_allow: Annotated[list[Annotated[str, Field(max_length=64)]], Field(max_length=50)] = []
    description: Annotated[str, Field(max_length=500)] = ""
    owner_service: (
        Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")] | None
    ) = None
    env: Annotated[str, Field(pattern=r"^(live|test)$")] = "live"


class RotateKey(BaseModel):
    model_config = ConfigDict(extra="forbid")
    overlap_seconds: Annotated[int, Field(ge=0, le=30 * 86400)] = 86400


def _out(info: ApiKeyInfo) -> dict[str, Any]:
    return dataclasses.asdict(info)


@router.post("", status_code=201)
async def create_key(body: CreateKey, claims: Claims, request: Request) -> dict[str, Any]:
    """Issue a key; the full key is in this answer only, never again."""
    check_issue(claims.scopes, body.scopes, owner_service=body.owner_service)
    full, info = await get_guard(request).apikeys.create(
        body.name,
        body.scopes,
        owner_user_id=None if body.owner_service else claims.subject,
        owner_service=body.owner_service,
        env=body.env,
        expires_in=body.expires_in_seconds,
        rate=body.rate,
        ip_allow=body.ip_allow,
        description=body.description,
        actor=claims.subject,
    )
    signing = get_guard(request).signatures.api_key_key(info.id)
    return {
        "key": full,
        "signing_key": signing.encoded,
        "signing_key_id": signing.key_id,
        **_out(info),
    }


@router.get("")
async def list_keys(claims: Claims, request: Request) -> dict[str, list[dict[str, Any]]]:
    """The caller's keys (an administrator: every key)."""
    owner = visible_to(claims.subject, claims.scopes)
    found = await get_guard(request).apikeys.list(owner_user_id=owner)
    return {"keys": [_out(k) for k in found]}


@router.get("/{key_id}")
async def show_key(key_id: KeyId, claims: Claims, request: Request) -> dict[str, Any]:
    info = await get_guard(request).apikeys.show(key_id)
    check_manage(claims.subject, claims.scopes, info)
    return _out(info)


@router.post("/{key_id}/rotate", status_code=201)
async def rotate_key(
    key_id: KeyId, body: RotateKey, claims: Claims, request: Request
) -> dict[str, Any]:
    """A new key with the same settings; the old one works for ``overlap_seconds`` more."""
    apikeys = get_guard(request).apikeys
    check_manage(claims.subject, claims.scopes, await apikeys.show(key_id))
    full = await apikeys.rotate(key_id, overlap_seconds=body.overlap_seconds, actor=claims.subject)
    signing = get_guard(request).signatures.api_key_key(parse_key(full).unverified_id)
    return {"key": full, "signing_key": signing.encoded, "signing_key_id": signing.key_id}


@router.delete("/{key_id}", status_code=204, response_class=Response)
async def revoke_key(key_id: KeyId, claims: Claims, request: Request) -> Response:
    """Revoke at once, on every replica within a second."""
    apikeys = get_guard(request).apikeys
    check_manage(claims.subject, claims.scopes, await apikeys.show(key_id))
    await apikeys.revoke(key_id, actor=claims.subject)
    return Response(status_code=204)
