"""Errors of the platform logins.

::

    PlatformError (BastionError)
    +-- PlatformCredentialInvalid   401 a code/initData/signature the platform or we refuse
    +-- PlatformDataInvalid         422 encrypted or signed user data fails a check
    +-- PlatformUserBlocked         403 the platform's risk engine blocks this user (40226)
    +-- PlatformRateLimited         429 the platform's per-user quota is spent (45011)
    +-- PlatformNotConfigured       404 this platform is not enabled here
    +-- PlatformBadResponse         502 the platform answered garbage (non-JSON, oversized)
    +-- PlatformUnavailable         503 the platform is busy, slow or unreachable

Every instance carries ``reason``: the most specific cause, using the error kinds of the
shared platform vectors (``decrypt_failed``, ``appid_mismatch``, ``stale``, ``expired``,
``signature_invalid``, ``hash_missing``, ``malformed``, ...) or a platform error code such as
``wechat:40029``. The reason goes to the audit log and the offline checker, never into the
problem body, so clients get no padding or signature oracle.
"""

from __future__ import annotations

from bastion.errors import BastionError

__all__ = [
    "PlatformBadResponse",
    "PlatformCredentialInvalid",
    "PlatformDataInvalid",
    "PlatformError",
    "PlatformNotConfigured",
    "PlatformRateLimited",
    "PlatformUnavailable",
    "PlatformUserBlocked",
]


class PlatformError(BastionError):
    type = "platform-error"
    status = 400
    title = "Platform login failed"

    def __init__(self, reason: str, detail: str | None = None) -> None:
        super().__init__(detail)
        self.reason = reason


class PlatformCredentialInvalid(PlatformError):
    type = "platform-credential-invalid"
    status = 401
    title = "Platform credential refused"
    default_detail = (
        "The login credential from the platform is invalid, expired or already used; get a new one."
    )


class PlatformDataInvalid(PlatformError):
    type = "platform-data-invalid"
    status = 422
    title = "Platform data refused"
    default_detail = "The signed or encrypted data from the platform did not pass verification."


class PlatformUserBlocked(PlatformError):
    type = "platform-user-blocked"
    status = 403
    title = "Blocked by the platform"
    default_detail = "The platform refused this user's login (risk control)."


class PlatformRateLimited(PlatformError):
    type = "platform-rate-limited"
    status = 429
    title = "Platform quota reached"
    default_detail = "The platform's quota for this user is spent; retry after the delay."

    def headers(self) -> dict[str, str]:
        return {"Retry-After": "60"}


class PlatformNotConfigured(PlatformError):
    type = "platform-not-configured"
    status = 404
    title = "Platform not enabled"
    default_detail = "This platform login is not enabled on this server."


class PlatformBadResponse(PlatformError):
    type = "platform-bad-response"
    status = 502
    title = "Bad answer from the platform"
    default_detail = "The platform's server gave an answer that could not be used; try again later."


class PlatformUnavailable(PlatformError):
    type = "platform-unavailable"
    status = 503
    title = "Platform unavailable"
    default_detail = "The platform's server is busy or unreachable; try again shortly."

    def headers(self) -> dict[str, str]:
        return {"Retry-After": "5"}
