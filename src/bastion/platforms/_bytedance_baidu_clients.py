"""Login-code exchanges of Douyin/ByteDance (``tt.login``) and Baidu (``swan.login``).

Guarantees (platforms.md section 4):

* A login code is single-use, so it is sent again only when the request provably never left
  (connect failure); a platform "system error" is reported, not retried.
* Platform errors map to the error tree with reason ``douyin:<err_no>`` / ``baidu:<error>``:
  a refused code -> :class:`PlatformCredentialInvalid`; a wrong app id/secret ->
  :class:`PlatformUnavailable` plus an error log ``platforms.<platform>.misconfigured``;
  platform busy -> :class:`PlatformUnavailable`; anything else, or a success without
  openid and session_key -> :class:`PlatformBadResponse`.
* Identity comes only from the exchange: Douyin's ``anonymous_openid`` is never used as the
  openid. The app secret, codes and session_key never reach a log line or an error message.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
from pydantic import SecretStr

from bastion.config import BaiduSettings, DouyinSettings
from bastion.infra import Clock
from bastion.platforms._errors import (
    PlatformBadResponse,
    PlatformCredentialInvalid,
    PlatformError,
    PlatformNotConfigured,
    PlatformUnavailable,
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

__all__ = ["BaiduClient", "DouyinClient"]

_DOUYIN_REFUSED = frozenset({40018, 40019})  # bad code, bad anonymous code
_DOUYIN_MISCONFIGURED = frozenset({40015, 40017})  # bad appid, bad secret
_BAIDU_REFUSED = frozenset({"invalid_grant"})
_BAIDU_MISCONFIGURED = frozenset({"invalid_client", "unauthorized_client", "10010100"})
_SAFE_ERROR = re.compile(r"^[A-Za-z0-9_]{1,40}$")


def _douyin_error(err_no: int) -> PlatformError:
    reason = f"douyin:{err_no}"
    if err_no in _DOUYIN_REFUSED:
        return PlatformCredentialInvalid(reason)
    if err_no in _DOUYIN_MISCONFIGURED:
        return misconfigured("douyin", "code2session", err_no)
    if err_no == -1:
        return PlatformUnavailable(reason)
    return PlatformBadResponse(reason)


class DouyinClient:
    """``POST {base_url}/api/apps/v2/jscode2session`` for one Douyin/Toutiao mini program."""

    def __init__(
        self,
        settings: DouyinSettings,
        http: httpx.AsyncClient,
        clock: Clock,
        *,
        retry_backoff: float = 0.2,
    ) -> None:
        self._settings = settings
        self._http = http
        self._clock = clock
        self._backoff = retry_backoff
        self._url = settings.base_url.rstrip("/") + "/api/apps/v2/jscode2session"

    async def code2session(self, code: str, anonymous_code: str | None = None) -> PlatformSession:
        """Exchange a ``tt.login`` code (plus, optionally, its ``anonymousCode`` for data
        sync) for the user's openid, session_key and unionid.

        ``code`` is required: an anonymous-only login yields no openid, so it is not a login.
        Raises :class:`PlatformCredentialInvalid` (``malformed``, 40018, 40019),
        :class:`PlatformUnavailable` (-1, timeouts, 5xx, 40015/40017 misconfiguration),
        :class:`PlatformBadResponse`, :class:`PlatformNotConfigured`.
        """
        cfg = self._settings
        secret = _secret("douyin", cfg.enabled and bool(cfg.app_id), cfg.app_secret)
        check_code(code)
        payload = {"appid": self._settings.app_id, "secret": secret, "code": code}
        if anonymous_code is not None:
            check_code(anonymous_code)
            payload["anonymous_code"] = anonymous_code
        body = await fetch_json(
            self._http,
            "POST",
            self._url,
            platform="douyin",
            api="code2session",
            time_limit=self._settings.timeout_seconds,
            json_body=payload,
            retry=Retry.CONNECT,
            backoff=self._backoff,
        )
        err_no = body.get("err_no")
        if type(err_no) is not int:
            raise PlatformBadResponse("douyin:bad_err_no")
        if err_no != 0:
            raise _douyin_error(err_no)
        data = body.get("data")
        if not isinstance(data, dict):
            raise PlatformBadResponse("douyin:incomplete")
        return PlatformSession(
            openid=required_text(data, "openid", "douyin", 128),
            session_key=required_text(data, "session_key", "douyin"),
            unionid=optional_text(data, "unionid", "douyin", 128),
        )


class BaiduClient:
    """``POST {base_url}/oauth/jscode2sessionkey`` (form) for one Baidu smart program."""

    def __init__(
        self,
        settings: BaiduSettings,
        http: httpx.AsyncClient,
        clock: Clock,
        *,
        retry_backoff: float = 0.2,
    ) -> None:
        self._settings = settings
        self._http = http
        self._clock = clock
        self._backoff = retry_backoff
        self._url = settings.base_url.rstrip("/") + "/oauth/jscode2sessionkey"

    async def code2session(self, code: str) -> PlatformSession:
        """Exchange a ``swan.login`` code for the user's openid and session_key (Baidu gives
        no unionid here).

        The form carries ``code``, ``client_id`` (the App Key) and ``sk`` (the App Secret).
        Errors come OAuth-style (``{errno, error, error_description}``, possibly with a 4xx).
        Raises :class:`PlatformCredentialInvalid` (``malformed``, ``invalid_grant``),
        :class:`PlatformUnavailable` (timeouts, 5xx, ``invalid_client`` and other
        misconfiguration), :class:`PlatformBadResponse`, :class:`PlatformNotConfigured`.
        """
        cfg = self._settings
        secret = _secret("baidu", cfg.enabled and bool(cfg.app_key), cfg.app_secret)
        check_code(code)
        body = await fetch_json(
            self._http,
            "POST",
            self._url,
            platform="baidu",
            api="jscode2sessionkey",
            time_limit=self._settings.timeout_seconds,
            form={"code": code, "client_id": self._settings.app_key, "sk": secret},
            retry=Retry.CONNECT,
            backoff=self._backoff,
            error_status_ok=True,
        )
        error = _baidu_error_code(body)
        if error is not None:
            raise _baidu_error(error)
        return PlatformSession(
            openid=required_text(body, "openid", "baidu", 128),
            session_key=required_text(body, "session_key", "baidu"),
            unionid=None,
        )


def _baidu_error_code(body: dict[str, Any]) -> str | None:
    """The error of a Baidu answer as a short token (``invalid_grant``, ``10010100``), or None
    on success. Free text is never carried over: an unexpected value becomes ``unexpected``."""
    errno, error = body.get("errno"), body.get("error")
    if errno in (None, 0) and error in (None, ""):
        return None
    if isinstance(error, str) and _SAFE_ERROR.fullmatch(error):
        return error
    if type(errno) is int and errno != 0:
        return str(errno)
    return "unexpected"


def _baidu_error(error: str) -> PlatformError:
    if error in _BAIDU_REFUSED:
        return PlatformCredentialInvalid(f"baidu:{error}")
    if error in _BAIDU_MISCONFIGURED:
        return misconfigured("baidu", "jscode2sessionkey", error)
    return PlatformBadResponse(f"baidu:{error}")


def _secret(platform: str, ready: bool, secret: SecretStr | None) -> str:
    if not ready or secret is None:
        raise PlatformNotConfigured(f"{platform}:not_configured")
    return secret.get_secret_value()
