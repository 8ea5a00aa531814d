"""WeChat server-to-server client: ``code2Session``, the stable access_token, getPhoneNumber.

Guarantees (platforms.md 1.1, 1.2, 1.6, 1.7):

* A login code is sent at most once per server answer: only a connect failure (the request
  never left) or WeChat's ``-1`` ("system busy, not processed") lets it be sent again, once.
  ``40029`` (used, expired or foreign code) is never retried.
* Every documented errcode maps to the error tree with reason ``wechat:<errcode>``:
  40029 -> :class:`PlatformCredentialInvalid`, 45011 -> :class:`PlatformRateLimited`,
  40226 -> :class:`PlatformUserBlocked`, -1 -> :class:`PlatformUnavailable`, configuration
  errors (40013, 40125, 41002, 41004, 41008, IP allowlist 40164/61004, 48001) ->
  :class:`PlatformUnavailable` plus an error log ``platforms.wechat.misconfigured``;
  anything else -> :class:`PlatformBadResponse`.
* The access_token comes from ``stable_token`` (secret in a POST body, never in a URL), is
  cached in :class:`HotState` for ``expires_in`` minus a safety margin, and is refreshed by
  one caller at a time: an in-process shared future plus a short cross-replica lock
  (``add_once``), so N concurrent callers on M replicas make one token request.
* The app secret, the access_token, login codes and session_key never reach a log line or an
  exception message.
"""

from __future__ import annotations

import asyncio
import functools
import hmac
from typing import Any

import httpx
import structlog

from bastion.config import WeChatSettings
from bastion.infra import Clock, HotState
from bastion.platforms._errors import (
    PlatformBadResponse,
    PlatformCredentialInvalid,
    PlatformDataInvalid,
    PlatformError,
    PlatformNotConfigured,
    PlatformRateLimited,
    PlatformUnavailable,
    PlatformUserBlocked,
)
from bastion.platforms._http import (
    PlatformSession,
    Retry,
    check_code,
    fetch_json,
    misconfigured,
    optional_text,
    required_text,
)

__all__ = ["TOKEN_SAFETY_MARGIN", "WeChatClient"]

TOKEN_SAFETY_MARGIN = 120.0
"""Seconds before WeChat's ``expires_in`` at which a cached access_token is dropped."""

_P = "wechat"
_MISCONFIGURED = frozenset({40013, 40125, 41002, 41004, 41008, 40164, 61004, 48001})
_TOKEN_REJECTED = frozenset({40001, 40014, 42001})
_BUSY = frozenset({-1, 45009})
_USER_ERRORS: dict[int, type[PlatformError]] = {
    40029: PlatformCredentialInvalid,
    45011: PlatformRateLimited,
    40226: PlatformUserBlocked,
}
_MAX_TOKEN = 2048
_MAX_EXPIRES_IN = 86400

log = structlog.get_logger("bastion.platforms.wechat")


def _errcode(body: dict[str, Any]) -> int:
    value = body.get("errcode", 0)
    if type(value) is not int:
        raise PlatformBadResponse(f"{_P}:bad_errcode")
    return value


def _login_error(errcode: int, api: str) -> PlatformError:
    kind = _USER_ERRORS.get(errcode)
    return kind(f"{_P}:{errcode}") if kind is not None else _service_error(errcode, api)


def _service_error(errcode: int, api: str) -> PlatformError:
    if errcode in _BUSY or errcode == 45011:
        return PlatformUnavailable(f"{_P}:{errcode}")
    if errcode in _MISCONFIGURED or errcode in _TOKEN_REJECTED:
        return misconfigured(_P, api, errcode)
    return PlatformBadResponse(f"{_P}:{errcode}")


class WeChatClient:
    """Calls WeChat's server APIs for one mini program (``settings.app_id``)."""

    def __init__(
        self,
        settings: WeChatSettings,
        http: httpx.AsyncClient,
        hot: HotState,
        clock: Clock,
        *,
        retry_backoff: float = 0.2,
        token_poll_interval: float = 0.02,
        token_wait_seconds: float | None = None,
    ) -> None:
        self._settings = settings
        self._hot = hot
        self._clock = clock
        self._backoff = retry_backoff
        base = settings.base_url.rstrip("/")
        self._login_url = f"{base}/sns/jscode2session"
        self._token_url = f"{base}/cgi-bin/stable_token"
        self._phone_url = f"{base}/wxa/business/getuserphonenumber"
        self._timeout = settings.timeout_seconds
        self._token_key = f"wechat:access_token:{settings.app_id}"
        self._lock_key = f"wechat:access_token_lock:{settings.app_id}"
        self._lock_ttl = 2 * self._timeout + retry_backoff + 2.0
        self._poll = token_poll_interval
        self._wait = self._lock_ttl if token_wait_seconds is None else token_wait_seconds
        self._refresh: asyncio.Future[str] | None = None
        self._fetch = functools.partial(
            fetch_json, http, platform=_P, time_limit=self._timeout, backoff=retry_backoff
        )

    def _secret(self) -> str:
        secret = self._settings.app_secret
        if not (self._settings.enabled and self._settings.app_id and secret is not None):
            raise PlatformNotConfigured(f"{_P}:not_configured")
        return secret.get_secret_value()

    async def code2session(self, code: str) -> PlatformSession:
        """Exchange a ``wx.login`` code for the user's openid, session_key and unionid.

        Sent again only after a connect failure or an errcode -1 (once, after a short
        backoff). Raises :class:`PlatformCredentialInvalid` (``malformed``, 40029),
        :class:`PlatformRateLimited` (45011), :class:`PlatformUserBlocked` (40226),
        :class:`PlatformUnavailable` (-1, timeouts, 5xx, misconfiguration),
        :class:`PlatformBadResponse` (garbage, unknown errcode, missing openid/session_key),
        :class:`PlatformNotConfigured`.
        """
        secret = self._secret()
        check_code(code)
        params = {
            "appid": self._settings.app_id,
            "secret": secret,
            "js_code": code,
            "grant_type": "authorization_code",
        }
        body: dict[str, Any] = {}
        for attempt in (1, 2):
            body = await self._fetch(
                "GET", self._login_url, api="code2session", retry=Retry.CONNECT, params=params
            )
            if _errcode(body) != -1 or attempt == 2:
                break
            await asyncio.sleep(self._backoff)
        errcode = _errcode(body)
        if errcode != 0:
            raise _login_error(errcode, "code2session")
        openid = required_text(body, "openid", _P, 128)
        session_key = required_text(body, "session_key", _P)
        unionid = optional_text(body, "unionid", _P, 128)
        return PlatformSession(openid=openid, session_key=session_key, unionid=unionid)

    async def access_token(self) -> str:
        """The app's access_token, from the shared cache or one ``stable_token`` call.

        Concurrent callers in this process share one refresh; callers on other replicas
        wait (bounded) for the replica holding the lock. Raises :class:`PlatformUnavailable`
        (platform down, misconfigured, or the other replica's refresh did not land in time),
        :class:`PlatformBadResponse`, :class:`PlatformNotConfigured`.
        """
        secret = self._secret()
        cached = await self._cached_token()
        if cached is not None:
            return cached
        if self._refresh is None or self._refresh.done():
            self._refresh = asyncio.ensure_future(self._refresh_token(secret))
            self._refresh.add_done_callback(_retrieve)
        return await asyncio.shield(self._refresh)

    async def _cached_token(self) -> str | None:
        raw = await self._hot.get(self._token_key)
        if raw is None:
            return None
        return raw.decode("ascii", "ignore") or None

    async def _refresh_token(self, secret: str) -> str:
        if not await self._hot.add_once(self._lock_key, self._lock_ttl):
            return await self._await_other_replica()
        try:
            cached = await self._cached_token()
            if cached is not None:
                return cached
            token, ttl = await self._stable_token(secret)
            await self._hot.put(self._token_key, token.encode("ascii"), ttl)
            return token
        finally:
            await self._hot.delete(self._lock_key)

    async def _await_other_replica(self) -> str:
        waited, delay = 0.0, self._poll
        while waited < self._wait:
            await asyncio.sleep(delay)
            waited += delay
            cached = await self._cached_token()
            if cached is not None:
                return cached
            delay = min(delay * 2, 0.25)
        log.warning("platforms.wechat.token_wait_exhausted", waited=round(waited, 3))
        raise PlatformUnavailable(f"{_P}:token_wait")

    async def _stable_token(self, secret: str) -> tuple[str, float]:
        request = {
            "grant_type": "client_credential",
            "appid": self._settings.app_id,
            "secret": secret,
            "force_refresh": False,
        }
        body = await self._fetch(
            "POST", self._token_url, api="stable_token", retry=Retry.IDEMPOTENT, json_body=request
        )
        errcode = _errcode(body)
        if errcode != 0:
            raise _service_error(errcode, "stable_token")
        token = required_text(body, "access_token", _P, _MAX_TOKEN)
        expires_in = body.get("expires_in")
        if not (token.isascii() and token.isprintable() and " " not in token):
            raise PlatformBadResponse(f"{_P}:incomplete")
        if type(expires_in) is not int or not 0 < expires_in <= _MAX_EXPIRES_IN:
            raise PlatformBadResponse(f"{_P}:incomplete")
        log.info("platforms.wechat.token_refreshed", expires_in=expires_in)
        return token, max(expires_in - TOKEN_SAFETY_MARGIN, expires_in / 2)

    async def _drop_token(self, token: str) -> None:
        cached = await self._hot.get(self._token_key)
        if cached is not None and hmac.compare_digest(cached, token.encode("ascii")):
            await self._hot.delete(self._token_key)

    async def phone_number(self, code: str, *, openid: str | None = None) -> dict[str, Any]:
        """Exchange a getPhoneNumber button code for ``phone_info`` (phoneNumber,
        purePhoneNumber, countryCode, watermark).

        With ``openid`` WeChat also checks that the code belongs to that user (bind the phone
        to the logged-in session). On 40001/40014/42001 the cached access_token is dropped
        and the call made once more with a fresh one. ``watermark.appid`` must be ours.

        Raises :class:`PlatformCredentialInvalid` (``malformed``, 40029),
        :class:`PlatformRateLimited` (45011), :class:`PlatformDataInvalid`
        (``appid_mismatch``), :class:`PlatformUnavailable`, :class:`PlatformBadResponse`,
        :class:`PlatformNotConfigured`.
        """
        self._secret()
        check_code(code)
        payload = {"code": code}
        if openid is not None:
            if not openid or len(openid) > 128:
                raise PlatformCredentialInvalid("malformed")
            payload["openid"] = openid
        body: dict[str, Any] = {}
        for attempt in (1, 2):
            token = await self.access_token()
            body = await self._fetch(
                "POST",
                self._phone_url,
                api="getuserphonenumber",
                retry=Retry.CONNECT,
                params={"access_token": token},
                json_body=payload,
            )
            if _errcode(body) not in _TOKEN_REJECTED or attempt == 2:
                break
            await self._drop_token(token)
        errcode = _errcode(body)
        if errcode != 0:
            raise _login_error(errcode, "getuserphonenumber")
        return self._phone_info(body)

    def _phone_info(self, body: dict[str, Any]) -> dict[str, Any]:
        info = body.get("phone_info")
        if not isinstance(info, dict):
            raise PlatformBadResponse(f"{_P}:incomplete")
        required_text(info, "phoneNumber", _P, 64)
        watermark = info.get("watermark")
        appid = watermark.get("appid") if isinstance(watermark, dict) else None
        if not isinstance(appid, str):
            raise PlatformBadResponse(f"{_P}:incomplete")
        if not hmac.compare_digest(appid.encode(), self._settings.app_id.encode()):
            raise PlatformDataInvalid("appid_mismatch")
        return info


def _retrieve(future: asyncio.Future[str]) -> None:
    """Mark a refresh's exception as seen even when every waiter was cancelled."""
    if not future.cancelled():
        future.exception()
