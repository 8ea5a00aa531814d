"""Cookie flags, judged on every ``Set-Cookie`` the scan has seen (baseline, logins, ...)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bastion.scanner._context import ScanContext
from bastion.scanner._model import Severity
from bastion.scanner._registry import Findings, NotApplicable, check

__all__ = ["SESSION_NAME", "parse_set_cookie"]

AREA = "cookies"
ORDER = 80  # after the logins, so their cookies are seen
SESSION_NAME = re.compile(r"(?i)sess|sid|token|auth|jwt|login|remember")


@dataclass(frozen=True)
class Cookie:
    name: str
    value: str
    attrs: dict[str, str]
    path: str

    @property
    def deleted(self) -> bool:
        return self.attrs.get("max-age", "1").strip() in ("0", "-1") or not self.value

    @property
    def session_like(self) -> bool:
        return bool(SESSION_NAME.search(self.name))


def parse_set_cookie(raw: str, path: str = "/") -> Cookie | None:
    """Name, value and lower-cased attributes of one ``Set-Cookie`` value."""
    first, *rest = raw.split(";")
    if "=" not in first:
        return None
    name, value = first.split("=", 1)
    attrs = {}
    for item in rest:
        key, _, val = item.strip().partition("=")
        if key:
            attrs[key.lower()] = val
    return Cookie(name.strip(), value.strip(), attrs, path)


def _cookies(ctx: ScanContext) -> list[Cookie]:
    seen = [parse_set_cookie(raw, path) for path, raw in ctx.cache.get("cookies", [])]
    cookies = [c for c in seen if c is not None and not c.deleted]
    if not cookies:
        raise NotApplicable("no cookies were set during the scan")
    unique: dict[str, Cookie] = {}
    for cookie in cookies:
        unique.setdefault(cookie.name, cookie)
    return list(unique.values())


def _where(cookie: Cookie) -> str:
    return f"Set-Cookie {cookie.name}=... (on {cookie.path})"


@check(
    "cookie.secure",
    area=AREA,
    title="Cookie without Secure",
    severity=Severity.MEDIUM,
    fix="Set `Secure` on every cookie so it never travels over plain HTTP.",
    order=ORDER,
)
async def secure(ctx: ScanContext, out: Findings) -> None:
    for cookie in _cookies(ctx):
        if "secure" not in cookie.attrs:
            out.add(f"{_where(cookie)} has no Secure attribute", cookie.path)


@check(
    "cookie.httponly",
    area=AREA,
    title="Session cookie readable by scripts (no HttpOnly)",
    severity=Severity.MEDIUM,
    fix="Set `HttpOnly` on session and token cookies.",
    order=ORDER,
)
async def httponly(ctx: ScanContext, out: Findings) -> None:
    for cookie in _cookies(ctx):
        if cookie.session_like and "httponly" not in cookie.attrs:
            out.add(f"{_where(cookie)} has no HttpOnly attribute", cookie.path)


@check(
    "cookie.samesite",
    area=AREA,
    title="Cookie without SameSite",
    severity=Severity.LOW,
    fix="Set `SameSite=Lax` (or `Strict`); `SameSite=None` only with `Secure` and a reason.",
    order=ORDER,
)
async def samesite(ctx: ScanContext, out: Findings) -> None:
    for cookie in _cookies(ctx):
        value = cookie.attrs.get("samesite", "").strip().lower()
        if value not in ("lax", "strict") and not (value == "none" and "secure" in cookie.attrs):
            out.add(f"{_where(cookie)} has SameSite={value or 'missing'}", cookie.path)


@check(
    "cookie.host-prefix",
    area=AREA,
    title="Session cookie without the __Host- prefix",
    severity=Severity.INFO,
    fix="Name session cookies `__Host-...` (with Secure, Path=/ and no Domain) so no "
    "subdomain can set or shadow them.",
    order=ORDER,
)
async def host_prefix(ctx: ScanContext, out: Findings) -> None:
    for cookie in _cookies(ctx):
        if cookie.session_like and not cookie.name.startswith("__Host-"):
            out.add(f"{_where(cookie)} is a session cookie without __Host-", cookie.path)
