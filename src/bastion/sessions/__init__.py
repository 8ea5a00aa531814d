"""Sessions and tokens: signing keys and JWKS, access tokens, refresh rotation, revocation."""

from bastion.sessions._keys import SigningKeyring as SigningKeyring
from bastion.sessions._revocation import Revocations as Revocations
from bastion.sessions._service import SessionService as SessionService
from bastion.sessions._tokens import AccessClaims as AccessClaims
from bastion.sessions._tokens import TokenService as TokenService
from bastion.sessions._types import DeviceInfo as DeviceInfo
from bastion.sessions._types import SessionInfo as SessionInfo
from bastion.sessions._types import TokenPair as TokenPair
from bastion.sessions._types import scopes_for_user as scopes_for_user

__all__ = [
    "AccessClaims",
    "DeviceInfo",
    "Revocations",
    "SessionInfo",
    "SessionService",
    "SigningKeyring",
    "TokenPair",
    "TokenService",
    "scopes_for_user",
]
