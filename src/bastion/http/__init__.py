"""HTTP adapters: the service application and its middleware. No security logic lives here."""

from bastion.http._app import create_app as create_app
from bastion.http._middleware import BodyGuardMiddleware as BodyGuardMiddleware
from bastion.http._middleware import RequestContextMiddleware as RequestContextMiddleware
from bastion.http._middleware import SecureHeadersMiddleware as SecureHeadersMiddleware
from bastion.http._protect import protect as protect
from bastion.http._sealed import SealedPayloadMiddleware as SealedPayloadMiddleware
from bastion.http._sealed import SignedResponseMiddleware as SignedResponseMiddleware

__all__ = [
    "BodyGuardMiddleware",
    "RequestContextMiddleware",
    "SealedPayloadMiddleware",
    "SecureHeadersMiddleware",
    "SignedResponseMiddleware",
    "create_app",
    "protect",
]
