"""Shared pieces of the server-to-server platform clients: a bounded JSON fetch and the
login-exchange result.

:func:`fetch_json` sends one request over an injected :class:`httpx.AsyncClient` and returns
the decoded JSON object. Guarantees:

* **Bounded.** The whole exchange (connect, send, read) has a deadline of ``time_limit``
  seconds, and at most :data:`MAX_RESPONSE_BYTES` of body are read (streamed, checked against
  ``Content-Length`` first and then chunk by chunk), so a slow or huge answer cannot hold a
  login open or fill memory.
* **Typed failures.** Connect/read timeouts, transport errors, 429 and 5xx raise
  :class:`PlatformUnavailable`; non-JSON, a JSON value that is not an object, an oversized
  body or an unexpected status raise :class:`PlatformBadResponse`. The ``reason`` is
  ``"<platform>:<cause>"``.
* **Safe retries only.** :class:`Retry` says what may be sent again: ``NEVER``; ``CONNECT``
  (only when the request provably never left: a connect error or connect timeout, so a
  single-use login code was not consumed); ``IDEMPOTENT`` (also after a timeout, a transport
  error or a 5xx, for calls that change nothing). At most one resend.
* **Nothing secret is logged.** Log lines name the platform, the API and the cause, never the
  URL (it may carry an app secret or an access_token in its query), the body or a header.
"""

from __future__ import annotations

import asyncio
import enum
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import httpx
import structlog

from bastion.platforms._errors import (
    PlatformBadResponse,
    PlatformCredentialInvalid,
    PlatformUnavailable,
)

__all__ = [
    "MAX_CODE_LENGTH",
    "MAX_RESPONSE_BYTES",
    "PlatformSession",
    "Retry",
    "check_code",
    "fetch_json",
    "misconfigured",
    "optional_text",
    "required_text",
]

MAX_RESPONSE_BYTES = 64 * 1024
"""Largest response body read from a platform; the documented answers are well under 2 KiB."""

MAX_CODE_LENGTH = 512
"""Longest login/phone code sent to a platform (theirs are 32-64 characters)."""

_NOT_SENT = frozenset({"connect_failed", "connect_timeout"})
_ACCEPT = {"Accept": "application/json", "Accept-Encoding": "identity"}

log = structlog.get_logger("bastion.platforms.http")


class Retry(enum.Enum):
    """Which failures of one request may be answered by sending it again (once)."""

    NEVER = "never"
    CONNECT = "connect"
    IDEMPOTENT = "idempotent"

    def allows(self, failure: _Failed) -> bool:
        if self is Retry.CONNECT:
            return failure.cause in _NOT_SENT
        return self is Retry.IDEMPOTENT and isinstance(failure.error, PlatformUnavailable)


@dataclass(frozen=True, slots=True, repr=False)
class PlatformSession:
    """The result of a login-code exchange.

    ``openid`` identifies the user for this app; ``unionid`` across the developer's apps when
    the platform gives one. ``session_key`` is the per-user secret that decrypts and signs
    the user's data: store it encrypted, never send it to a client; ``repr`` masks it.
    """

    openid: str
    session_key: str | None
    unionid: str | None

    def __repr__(self) -> str:
        key = "None" if self.session_key is None else "'***'"
        return (
            f"PlatformSession(openid={self.openid!r}, session_key={key}, unionid={self.unionid!r})"
        )


class _Failed(Exception):
    """Internal: one attempt failed with ``error``; ``cause`` decides whether to resend."""

    def __init__(self, cause: str, error: PlatformUnavailable | PlatformBadResponse) -> None:
        super().__init__(cause)
        self.cause = cause
        self.error = error


async def fetch_json(
    http: httpx.AsyncClient,
    method: Literal["GET", "POST"],
    url: str,
    *,
    platform: str,
    api: str,
    time_limit: float,
    params: Mapping[str, str] | None = None,
    json_body: Mapping[str, Any] | None = None,
    form: Mapping[str, str] | None = None,
    retry: Retry = Retry.NEVER,
    backoff: float = 0.1,
    error_status_ok: bool = False,
) -> dict[str, Any]:
    """Send one request and return its JSON object, within ``time_limit`` seconds and 64 KiB.

    ``error_status_ok`` also accepts a 4xx answer whose body is a JSON object (for platforms
    that report errors OAuth-style with 400/401); otherwise a non-2xx status is an error.

    Raises :class:`PlatformUnavailable` (timeout, unreachable, 429, 5xx, a base URL that does
    not parse: ``<platform>:bad_url``, logged as misconfiguration) or
    :class:`PlatformBadResponse` (non-JSON, not an object, oversized, unexpected status).
    """
    try:
        request = http.build_request(
            method,
            url,
            params=params,
            json=json_body,
            data=form,
            headers=_ACCEPT,
            timeout=time_limit,
        )
    except httpx.InvalidURL:
        raise misconfigured(platform, api, "bad_url") from None
    for attempt in (1, 2):
        try:
            return await _attempt(http, request, platform, time_limit, error_status_ok)
        except _Failed as failed:
            log.warning(
                "platforms.http.failed",
                platform=platform,
                api=api,
                cause=failed.cause,
                attempt=attempt,
            )
            if attempt == 2 or not retry.allows(failed):
                raise failed.error from failed.__cause__
        await asyncio.sleep(backoff)
    raise AssertionError("unreachable")  # pragma: no cover


async def _attempt(
    http: httpx.AsyncClient,
    request: httpx.Request,
    platform: str,
    time_limit: float,
    error_status_ok: bool,
) -> dict[str, Any]:
    try:
        async with asyncio.timeout(time_limit):
            body = await _exchange(http, request, platform, error_status_ok)
    except TimeoutError as exc:
        raise _unavailable(platform, "timeout") from exc
    except httpx.ConnectTimeout as exc:
        raise _unavailable(platform, "connect_timeout") from exc
    except httpx.ConnectError as exc:
        raise _unavailable(platform, "connect_failed") from exc
    except httpx.TimeoutException as exc:
        raise _unavailable(platform, "timeout") from exc
    except httpx.DecodingError as exc:
        raise _bad(platform, "undecodable") from exc
    except httpx.TransportError as exc:
        raise _unavailable(platform, "transport") from exc
    return _parse(body, platform)


async def _exchange(
    http: httpx.AsyncClient,
    request: httpx.Request,
    platform: str,
    error_status_ok: bool,
) -> bytes:
    response = await http.send(request, stream=True, follow_redirects=False)
    try:
        status = response.status_code
        if status == 429 or status >= 500:
            raise _unavailable(platform, f"http_{status}")
        if not (200 <= status < 300 or (error_status_ok and 400 <= status < 500)):
            raise _bad(platform, f"http_{status}")
        return await _read_capped(response, platform)
    finally:
        await response.aclose()


async def _read_capped(response: httpx.Response, platform: str) -> bytes:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_RESPONSE_BYTES:
        raise _bad(platform, "oversized")
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > MAX_RESPONSE_BYTES:
            raise _bad(platform, "oversized")
        chunks.append(chunk)
    return b"".join(chunks)


def _parse(body: bytes, platform: str) -> dict[str, Any]:
    try:
        value = json.loads(body, parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:
        raise _bad(platform, "not_json") from exc
    if not isinstance(value, dict):
        raise _bad(platform, "not_object")
    return value


def _no_constant(name: str) -> Any:
    raise ValueError("NaN and Infinity are not JSON")


def _unavailable(platform: str, cause: str) -> _Failed:
    return _Failed(cause, PlatformUnavailable(f"{platform}:{cause}"))


def _bad(platform: str, cause: str) -> _Failed:
    return _Failed(cause, PlatformBadResponse(f"{platform}:{cause}"))


def check_code(code: str) -> None:
    """Refuse an empty, oversized or non-printable-ASCII code before any network call.

    Raises :class:`PlatformCredentialInvalid` with reason ``malformed``.
    """
    if not code or len(code) > MAX_CODE_LENGTH or not (code.isascii() and code.isprintable()):
        raise PlatformCredentialInvalid("malformed")


def required_text(body: Mapping[str, Any], name: str, platform: str, max_length: int = 256) -> str:
    """A non-empty string member of a platform answer, at most ``max_length`` characters.

    Raises :class:`PlatformBadResponse` ``<platform>:incomplete`` otherwise.
    """
    value = body.get(name)
    if not isinstance(value, str) or not value or len(value) > max_length:
        raise PlatformBadResponse(f"{platform}:incomplete")
    return value


def optional_text(
    body: Mapping[str, Any], name: str, platform: str, max_length: int = 256
) -> str | None:
    """Like :func:`required_text`, but an absent, null or empty member gives None."""
    if body.get(name) in (None, ""):
        return None
    return required_text(body, name, platform, max_length)


def misconfigured(platform: str, api: str, code: int | str) -> PlatformUnavailable:
    """Log ``platforms.<platform>.misconfigured`` at error level (operators must fix the app
    id, secret or IP allowlist) and return the 503 the client gets."""
    log.error(f"platforms.{platform}.misconfigured", platform=platform, api=api, errcode=code)
    return PlatformUnavailable(f"{platform}:{code}")
