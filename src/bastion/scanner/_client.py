"""The one HTTP client of a scan: a request budget and a request rate, enforced centrally.

Every probe goes through :meth:`ScanClient.send`, which refuses a request past the budget
(:class:`BudgetExhausted`), spaces requests to at most ``rate`` per second, never follows
redirects, and sends only to the target's host (or to hosts explicitly added, such as the
scanner's own loopback callback server). The transport is injectable (``httpx.MockTransport``
or ``httpx.ASGITransport`` in tests).
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from bastion.infra import Clock, SystemClock

__all__ = ["BudgetExhausted", "Probe", "ScanClient", "trust_context"]

USER_AGENT = "bastion-scan/0.1 (security self-test)"
BODY_LIMIT = 256 * 1024
MAX_THROTTLE_WAIT = 5.0


def trust_context(ca_file: str | None = None) -> ssl.SSLContext:
    """A verifying TLS client context: the system's trust store, plus the CA certificates in
    ``ca_file`` (a PEM bundle, e.g. a staging environment's private CA) when given.
    Verification is never switched off; an unreadable or malformed bundle raises
    ``OSError`` or ``ssl.SSLError``."""
    context = ssl.create_default_context()
    if ca_file:
        context.load_verify_locations(cafile=ca_file)
    return context


class BudgetExhausted(Exception):
    """The scan's request cap is reached: no further request is sent."""


@dataclass(frozen=True)
class Probe:
    """One request and its answer (body capped at 256 KiB)."""

    method: str
    url: str
    status: int
    headers: httpx.Headers
    text: str
    elapsed: float

    @property
    def path(self) -> str:
        return httpx.URL(self.url).raw_path.decode("ascii", "replace")

    def json(self) -> Any:
        import json

        try:
            return json.loads(self.text)
        except ValueError:
            return None

    @property
    def set_cookies(self) -> list[str]:
        return self.headers.get_list("set-cookie")

    def summary(self) -> str:
        return f"{self.method} {self.path} -> {self.status}"


class ScanClient:
    """Budgeted, rate-limited access to one target. ``sent`` counts every request."""

    def __init__(
        self,
        base_url: httpx.URL,
        *,
        max_requests: int,
        rate: float,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Clock | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        verify: bool | str = True,
    ) -> None:
        if max_requests < 1 or not 0 < rate <= 1000:
            raise ValueError("max_requests must be >= 1 and rate in (0, 1000]")
        self.base_url = base_url
        self.max_requests = max_requests
        self.rate = rate
        self.sent = 0
        self._clock = clock or SystemClock()
        self._sleep = sleep
        self._next_slot = 0.0
        self._lock = asyncio.Lock()
        self._hosts = {base_url.host.lower()}
        self._client = httpx.AsyncClient(
            base_url=base_url,
            transport=transport,
            timeout=timeout,
            follow_redirects=False,
            verify=trust_context(verify) if isinstance(verify, str) else verify,
            headers={"user-agent": USER_AGENT},
        )

    def allow_host(self, host: str) -> None:
        self._hosts.add(host.lower())

    async def aclose(self) -> None:
        await self._client.aclose()

    async def take_slot(self) -> None:
        """Count one request (or TLS handshake) against the budget and wait for its slot."""
        async with self._lock:
            if self.sent >= self.max_requests:
                raise BudgetExhausted
            self.sent += 1
            now = self._clock.monotonic()
            wait = self._next_slot - now
            self._next_slot = max(now, self._next_slot) + 1.0 / self.rate
        if wait > 0:
            await self._sleep(wait)

    async def send(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        json: Any = None,
        content: bytes | str | None = None,
        params: Mapping[str, str] | None = None,
        retry_throttled: bool = True,
    ) -> Probe:
        """Send one request within budget and rate. A 429/503 with a short ``Retry-After``
        is waited out and retried (each try counts) unless ``retry_throttled`` is false, so
        probes that look for throttling see it."""
        request = self._client.build_request(
            method, url, headers=headers, json=json, content=content, params=params
        )
        if request.url.host.lower() not in self._hosts:
            raise ValueError("a scan only sends requests to its target")
        while True:
            probe = await self._send_once(request)
            delay = _retry_after(probe)
            if not retry_throttled or delay is None or delay > MAX_THROTTLE_WAIT:
                return probe
            await self._sleep(delay)

    async def _send_once(self, request: httpx.Request) -> Probe:
        await self.take_slot()
        started = self._clock.monotonic()
        response = await self._client.send(request, stream=True)
        try:
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) >= BODY_LIMIT:
                    break
        finally:
            await response.aclose()
            self._client.cookies.clear()  # probes set their own cookies; no jar between them
        elapsed = self._clock.monotonic() - started
        text = bytes(body[:BODY_LIMIT]).decode(response.encoding or "utf-8", "replace")
        return Probe(
            request.method, str(request.url), response.status_code, response.headers, text, elapsed
        )


def _retry_after(probe: Probe) -> float | None:
    if probe.status not in (429, 503):
        return None
    value = probe.headers.get("retry-after", "")
    return float(value) if value.strip().isdigit() else None
