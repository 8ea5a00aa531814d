"""Request and response bodies. Requests forbid unknown fields (no mass assignment) and
bound every field; messages name the field, never echo the value."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from bastion.identity import username_problem

__all__ = [
    "CodeRequest",
    "LoginRequest",
    "LoginResponse",
    "MfaChallengeResponse",
    "MfaVerifyRequest",
    "RefreshRequest",
    "RegisterRequest",
    "RegisterResponse",
    "SessionOut",
    "SessionsOut",
    "TotpEnrollResponse",
]

_EMAIL = re.compile(
    r"^[^@\s\x00-\x1f\x7f]{1,63}@[^@\s\x00-\x1f\x7f]{1,252}\.[^@\s\x00-\x1f\x7f.]{1,63}$"
)


def _username(value: str) -> str:
    problem = username_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


def _password_bytes(value: str) -> str:
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text") from None
    if size > 1024:
        raise ValueError("must be at most 1024 bytes")
    return value


def _email(value: str) -> str:
    if len(value) > 254 or not _EMAIL.match(value):
        raise ValueError("must be an e-mail address (at most 254 characters)")
    return value


Username = Annotated[str, Field(min_length=1, max_length=256), AfterValidator(_username)]
Password = Annotated[str, Field(min_length=1, max_length=1024), AfterValidator(_password_bytes)]
DeviceId = Annotated[str, Field(min_length=8, max_length=128, pattern=r"^[A-Za-z0-9._:-]+$")]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class RegisterRequest(_In):
    username: Username
    password: Password
    email: Annotated[str, Field(max_length=254), AfterValidator(_email)] | None = None


class RegisterResponse(BaseModel):
    user_id: str
    password_strength: dict[str, Any]


class LoginRequest(_In):
    username: Username
    password: Password
    device_id: DeviceId | None = None
    platform: Annotated[str, Field(max_length=64, pattern=r"^[A-Za-z0-9._ -]*$")] | None = None


class LoginResponse(BaseModel):
    access_token: str
    refresh_token: str
    token_type: str = "Bearer"  # noqa: S105 - a scheme name, not a secret
    expires_in: int
    session_id: str
    signing_key: str | None = None
    """Base64url secret for HTTP message signatures (``docs/signing.md``); keep it like the
    refresh token. The same for the whole session."""
    signing_key_id: str | None = None
    """The ``keyid`` to sign with: ``s:<session_id>``."""


class MfaChallengeResponse(BaseModel):
    mfa_required: bool = True
    mfa_token: str
    expires_in: int


class RefreshRequest(_In):
    refresh_token: Annotated[str, Field(min_length=1, max_length=256)]


class CodeRequest(_In):
    code: Annotated[str, Field(min_length=6, max_length=10)]


class MfaVerifyRequest(_In):
    mfa_token: Annotated[str, Field(min_length=16, max_length=128)]
    code: Annotated[str, Field(min_length=6, max_length=10)] | None = None
    recovery_code: Annotated[str, Field(min_length=20, max_length=64)] | None = None


class TotpEnrollResponse(BaseModel):
    secret: str
    provisioning_uri: str


class SessionOut(BaseModel):
    id: str
    created_at: float
    last_seen_at: float
    expires_at: float
    idle_expires_at: float
    user_agent: str | None
    platform: str | None
    device_id: str | None
    first_ip: str | None
    amr: list[str]
    current: bool


class SessionsOut(BaseModel):
    sessions: list[SessionOut]
