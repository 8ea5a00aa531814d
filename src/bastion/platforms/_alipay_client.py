"""Alipay login: exchange a mini program ``authCode`` with ``alipay.system.oauth.token`` (3.1).

Guarantees:

* The request is signed with the app's RSA2 key (3.2); the answer is accepted only after its
  RSA2 signature over the exact node text verifies with Alipay's public key (3.3). An error
  answer without a signature is honoured only as a refusal: it can deny a login, never grant one.
* The auth code is single-use, so it is re-sent (once) only when the connection could not be
  opened (nothing left the host); never after a timeout, a transport error or a 5xx.
* Bounded: ``timeout_seconds`` per attempt for the whole exchange, 64 KiB of body at most.
* The code, the tokens and the keys never reach a log line or an exception message.

Errors (``PlatformError.reason``):

* :class:`PlatformCredentialInvalid`: ``malformed`` (no request sent), or
  ``alipay:<sub_code>`` for a refused code (``isv.code-invalid``; the 20001 family; 40004);
* :class:`PlatformUnavailable`: ``alipay:timeout``, ``alipay:connect_failed``,
  ``alipay:connect_timeout``, ``alipay:transport``, ``alipay:http_<429|5xx>``, 20000 / ``isp.*``
  (busy), and our own misconfiguration (40001, other 40002, 40006; logged at error level as
  ``platforms.alipay.misconfigured``);
* :class:`PlatformBadResponse`: ``signature_missing``, ``signature_invalid``,
  ``alipay:oversized``, ``alipay:not_json`` (non-UTF-8 or not the documented JSON shape),
  ``alipay:undecodable``, ``alipay:http_<status>``, ``alipay:incomplete`` (ids or token
  missing), ``alipay:<sub_code>`` for an unknown refusal;
* :class:`PlatformNotConfigured` (``alipay:not_configured``) when the platform is disabled.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx

from bastion.config import AlipaySettings
from bastion.crypto.platform import (
    RsaPrivateKey,
    RsaPublicKey,
    load_rsa_private_key,
    load_rsa_public_key,
)
from bastion.errors import ConfigError
from bastion.infra import Clock
from bastion.platforms._alipay import (
    refusal_reason,
    sign_request,
    unverified_response,
    verify_signed_response,
)
from bastion.platforms._errors import (
    PlatformBadResponse,
    PlatformCredentialInvalid,
    PlatformError,
    PlatformNotConfigured,
    PlatformUnavailable,
)
from bastion.platforms._http import (
    MAX_RESPONSE_BYTES,
    check_code,
    misconfigured,
    optional_text,
    required_text,
)

__all__ = ["BEIJING", "LOGIN_METHOD", "AlipayClient", "AlipayToken"]

LOGIN_METHOD = "alipay.system.oauth.token"
BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")
"""China Standard Time: UTC+8 all year (no daylight saving since 1991)."""

_P = "alipay"
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout)
_ACCEPT = {"Accept": "application/json", "Accept-Encoding": "identity"}
_CREDENTIAL_CODES = frozenset({"20001", "40004"})
_CREDENTIAL_SUB_CODES = frozenset({"isv.code-invalid"})
_MISCONFIGURED_CODES = frozenset({"40001", "40002", "40006"})
_MAX_ID = 128
_MAX_TOKEN = 512
_MAX_SECONDS = 10 * 366 * 86400


@dataclass(frozen=True, slots=True)
class AlipayToken:
    """The verified answer of ``alipay.system.oauth.token``; at least one id is present."""

    user_id: str | None
    """Legacy ``2088…`` user id; empty for apps moved to ``open_id``."""
    open_id: str | None
    """App-scoped user id (newer apps)."""
    access_token: str = field(repr=False)
    expires_in: int
    refresh_token: str | None = field(default=None, repr=False)
    re_expires_in: int | None = None

    @property
    def subject(self) -> str:
        """The identity to store with the app id: ``open_id`` if given, else ``user_id``."""
        return self.open_id or self.user_id or ""


def _seconds(node: dict[str, Any], name: str, *, required: bool) -> int | None:
    value = node.get(name)
    if value in (None, "") and not required:
        return None
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 12:
        value = int(value)
    if type(value) is not int or not 0 < value <= _MAX_SECONDS:
        raise PlatformBadResponse(f"{_P}:incomplete")
    return value


def _token(node: dict[str, Any]) -> AlipayToken:
    user_id = optional_text(node, "user_id", _P, _MAX_ID)
    open_id = optional_text(node, "open_id", _P, _MAX_ID)
    if user_id is None and open_id is None:
        raise PlatformBadResponse(f"{_P}:incomplete")
    return AlipayToken(
        user_id=user_id,
        open_id=open_id,
        access_token=required_text(node, "access_token", _P, _MAX_TOKEN),
        expires_in=_seconds(node, "expires_in", required=True) or 0,
        refresh_token=optional_text(node, "refresh_token", _P, _MAX_TOKEN),
        re_expires_in=_seconds(node, "re_expires_in", required=False),
    )


def _refusal(node: dict[str, Any]) -> PlatformError:
    """Map an ``error_response`` (or a node whose ``code`` is not 10000) onto the error tree."""
    code, sub_code = str(node.get("code", "")), str(node.get("sub_code", ""))
    reason = refusal_reason(node)
    if sub_code in _CREDENTIAL_SUB_CODES or code in _CREDENTIAL_CODES:
        return PlatformCredentialInvalid(reason)
    if code == "20000" or sub_code.startswith(("isp.", "aop.unknow")):
        return PlatformUnavailable(reason)
    if code in _MISCONFIGURED_CODES:
        return misconfigured(_P, LOGIN_METHOD, reason.removeprefix(f"{_P}:"))
    return PlatformBadResponse(reason)


async def _read_capped(response: httpx.Response) -> bytes:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_RESPONSE_BYTES:
        raise PlatformBadResponse(f"{_P}:oversized")
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) > MAX_RESPONSE_BYTES:
            raise PlatformBadResponse(f"{_P}:oversized")
    return bytes(body)


@dataclass(frozen=True, slots=True)
class _Keys:
    app_id: str
    private_key: RsaPrivateKey
    public_key: RsaPublicKey


def _load_keys(settings: AlipaySettings) -> _Keys:
    """Check an enabled platform's settings; ``ConfigError`` names the setting, never a key."""
    if not settings.app_id:
        raise ConfigError("platforms.alipay.app_id is required when alipay is enabled")
    if settings.app_private_key is None:
        raise ConfigError("platforms.alipay.app_private_key is required when alipay is enabled")
    if not settings.alipay_public_key.strip():
        raise ConfigError("platforms.alipay.alipay_public_key is required when alipay is enabled")
    url = httpx.URL(settings.gateway_url)
    if url.scheme != "https" and url.host not in ("127.0.0.1", "localhost", "::1"):
        raise ConfigError("platforms.alipay.gateway_url must be an https URL")
    return _Keys(
        app_id=settings.app_id,
        private_key=load_rsa_private_key(
            settings.app_private_key.get_secret_value(), name="platforms.alipay.app_private_key"
        ),
        public_key=load_rsa_public_key(
            settings.alipay_public_key, name="platforms.alipay.alipay_public_key"
        ),
    )


class AlipayClient:
    """Server-to-server calls to the Alipay OpenAPI gateway for one app.

    When ``settings.enabled``, the settings and both RSA keys are checked here, once:
    ``ConfigError`` if ``app_id``, ``app_private_key`` or ``alipay_public_key`` is missing or
    unusable, a key is under 2048 bits, or ``gateway_url`` is not https. A disabled platform
    loads nothing and every call raises ``PlatformNotConfigured``.
    """

    def __init__(
        self,
        settings: AlipaySettings,
        http: httpx.AsyncClient,
        clock: Clock,
        *,
        retry_backoff: float = 0.2,
    ) -> None:
        self._keys = _load_keys(settings) if settings.enabled else None
        self._url = settings.gateway_url
        self._timeout = settings.timeout_seconds
        self._http = http
        self._clock = clock
        self._backoff = retry_backoff

    async def oauth_token(self, auth_code: str) -> AlipayToken:
        """Exchange ``auth_code`` (from ``my.getAuthCode``) for the user's ids and tokens.

        Guarantees the identity comes from a response whose RSA2 signature verified with the
        configured Alipay key, and that the code is sent at most once unless the connection
        could not be opened. Raises the errors listed in the module docstring.
        """
        if self._keys is None:
            raise PlatformNotConfigured(f"{_P}:not_configured")
        check_code(auth_code)
        body = await self._send(self._form(self._keys, auth_code))
        try:
            response = unverified_response(body.decode("utf-8"), LOGIN_METHOD)
        except (UnicodeDecodeError, PlatformBadResponse):
            raise PlatformBadResponse(f"{_P}:not_json") from None
        if response.is_error and not response.sign:
            raise _refusal(response.node)  # unsigned: it can only refuse, never grant
        verify_signed_response(response, self._keys.public_key)
        if response.is_error or response.node.get("code", "10000") != "10000":
            raise _refusal(response.node)
        return _token(response.node)

    def _form(self, keys: _Keys, auth_code: str) -> dict[str, str]:
        when = datetime.fromtimestamp(self._clock.now(), BEIJING)
        params = {
            "app_id": keys.app_id,
            "method": LOGIN_METHOD,
            "format": "JSON",
            "charset": "utf-8",
            "sign_type": "RSA2",
            "timestamp": when.strftime("%Y-%m-%d %H:%M:%S"),
            "version": "1.0",
            "grant_type": "authorization_code",
            "code": auth_code,
        }
        params["sign"] = sign_request(params, keys.private_key)
        return params

    async def _send(self, form: dict[str, str]) -> bytes:
        request = self._http.build_request(
            "POST", self._url, data=form, headers=_ACCEPT, timeout=self._timeout
        )
        try:
            return await self._attempt(request)
        except _NOT_SENT:
            pass  # the connection never opened, so the code was not sent: one resend is safe
        await asyncio.sleep(self._backoff)
        try:
            return await self._attempt(request)
        except httpx.ConnectTimeout as exc:
            raise PlatformUnavailable(f"{_P}:connect_timeout") from exc
        except httpx.ConnectError as exc:
            raise PlatformUnavailable(f"{_P}:connect_failed") from exc

    async def _attempt(self, request: httpx.Request) -> bytes:
        """One exchange within ``timeout_seconds``; connect failures propagate unchanged."""
        try:
            async with asyncio.timeout(self._timeout):
                return await self._exchange(request)
        except _NOT_SENT:
            raise
        except (httpx.TimeoutException, TimeoutError) as exc:
            raise PlatformUnavailable(f"{_P}:timeout") from exc
        except httpx.DecodingError as exc:
            raise PlatformBadResponse(f"{_P}:undecodable") from exc
        except httpx.TransportError as exc:
            raise PlatformUnavailable(f"{_P}:transport") from exc

    async def _exchange(self, request: httpx.Request) -> bytes:
        response = await self._http.send(request, stream=True, follow_redirects=False)
        try:
            status = response.status_code
            if status == 429 or status >= 500:
                raise PlatformUnavailable(f"{_P}:http_{status}")
            if status != 200:
                raise PlatformBadResponse(f"{_P}:http_{status}")
            return await _read_capped(response)
        finally:
            await response.aclose()
