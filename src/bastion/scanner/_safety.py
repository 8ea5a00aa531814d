"""Safety rules: which targets may be scanned, and keeping secrets out of evidence.

A target is scanned only when its host is loopback (``localhost``, ``127.0.0.0/8``, ``::1``)
or named exactly with ``--allow-host`` (the user asserts they own it). Every request of a
scan goes to the target's host; redirects are never followed.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable

import httpx

from bastion.errors import ScanRefused

__all__ = ["Redactor", "check_target", "is_loopback"]

_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*")
_BEARER = re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{8,}")


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback IP literals (no name resolution)."""
    name = host.strip("[]").lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def check_target(url: str, allow_hosts: Iterable[str] = ()) -> httpx.URL:
    """The parsed target URL, or :class:`ScanRefused` when the scan is not allowed: a scheme
    other than http/https, credentials in the URL, no host, or a host that is neither
    loopback nor listed in ``allow_hosts`` (compared exactly, case-insensitively)."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as exc:
        raise ScanRefused("The target is not a valid URL.") from exc
    if parsed.scheme not in ("http", "https"):
        raise ScanRefused("The target must be an http:// or https:// URL.")
    if parsed.userinfo:
        raise ScanRefused("Put credentials in --user/--password-env, not in the URL.")
    host = parsed.host
    if not host:
        raise ScanRefused("The target URL has no host.")
    allowed = {h.strip().lower().rstrip(".") for h in allow_hosts if h.strip()}
    if not is_loopback(host) and host.lower().rstrip(".") not in allowed:
        raise ScanRefused(
            f"Refusing to scan {host}: only loopback targets, or hosts you own named with "
            f"--allow-host {host}."
        )
    return parsed.copy_with(query=None, fragment=None)


class Redactor:
    """Removes known secrets (passwords, tokens) and anything token-shaped from evidence."""

    def __init__(self) -> None:
        self._secrets: set[str] = set()

    def add(self, *secrets: str | None) -> None:
        self._secrets.update(s for s in secrets if s and len(s) >= 4)

    def __call__(self, text: str, limit: int = 600) -> str:
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, "[redacted]")
        text = _JWT.sub(lambda m: m.group(0)[:12] + "...[redacted]", text)
        text = _BEARER.sub(r"\1[redacted]", text)
        return text if len(text) <= limit else text[:limit] + "..."
