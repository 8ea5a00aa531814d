"""Authentication: weak passwords at registration, session rotation at login, and login
throttling. User enumeration is in ``_checks_enum``."""

from __future__ import annotations

import secrets

from bastion.scanner._checks_cookies import parse_set_cookie
from bastion.scanner._checks_tokens import accepted
from bastion.scanner._context import Account, ScanContext, random_username, tokens_from
from bastion.scanner._model import Severity
from bastion.scanner._registry import Findings, NotApplicable, check

__all__ = ["throttled"]

AREA = "auth"
# Short, common and breached; the last two are long enough for length-only policies.
WEAK_PASSWORDS = ("123456", "password", "password123", "qwertyuiop123456", "passwordpassword")
THROTTLE_WORDS = ("captcha", "locked", "too many")


@check(
    "auth.weak-password",
    area=AREA,
    title="Weak or breached password accepted at registration",
    severity=Severity.MEDIUM,
    fix="Refuse passwords under 8 characters (15 without a second factor) and any on a "
    "breached-password list (NIST SP 800-63B).",
    order=55,
)
async def weak_password(ctx: ScanContext, out: Findings) -> None:
    if not ctx.options.register:
        raise NotApplicable("registration disabled (--no-register)")
    for password in WEAK_PASSWORDS:
        probe = await ctx.register(random_username(), password)
        if probe is None:
            raise NotApplicable("the scan's account limit is reached")
        if accepted(probe):
            out.add(f"registration with {password!r} answered {probe.status}", probe.url)
            return


def _session_cookies(raw: list[str]) -> dict[str, str]:
    cookies = (parse_set_cookie(r) for r in raw)
    return {c.name: c.value for c in cookies if c is not None and c.session_like and c.value}


@check(
    "auth.session-fixation",
    area=AREA,
    title="Session not renewed at login",
    severity=Severity.HIGH,
    fix="Issue a new session identifier (cookie and tokens) at every login; never promote a "
    "pre-login session.",
    order=53,
)
async def session_fixation(ctx: ScanContext, out: Findings) -> None:
    account = ctx.primary
    if account is None:
        raise NotApplicable("needs an account: --user and --password-env, or registration")
    before = _session_cookies((await ctx.send("GET", "/")).set_cookies)
    jar = "; ".join(f"{k}={v}" for k, v in before.items())
    first = await ctx.login(
        account.username, account.password, headers={"cookie": jar} if jar else None
    )
    second = await ctx.login(account.username, account.password)
    one, two = tokens_from(first), tokens_from(second)
    if one is None and not before:
        raise NotApplicable("login returned neither a token nor a session cookie")
    if one and two and one.access == two.access:
        out.add("two logins returned the same access token", first.url)
    renewed = _session_cookies(first.set_cookies)
    for name, value in before.items():
        if renewed.get(name, value) != value:
            continue
        # The pre-login cookie survived the login: is it now an authenticated session?
        probe = await ctx.send(
            "GET", ctx.options.protected_path, headers={"cookie": f"{name}={value}"}
        )
        if accepted(probe):
            out.add(
                f"cookie {name} set before login was kept and now authenticates: {probe.summary()}",
                probe.url,
            )


def throttled(status: int, text: str) -> bool:
    lowered = text.lower()
    return status in (423, 429, 503) or any(word in lowered for word in THROTTLE_WORDS)


@check(
    "auth.no-throttling",
    area=AREA,
    title="No throttling of failed logins",
    severity=Severity.HIGH,
    fix="Slow down or challenge an account after a few failures (progressive delay, no "
    "hard lockout) and limit failures per client IP (OWASP ASVS V6.3.1).",
    order=90,
)
async def no_throttling(ctx: ScanContext, out: Findings) -> None:
    account = ctx.test_account or ctx.primary or Account(random_username(), "", False)
    attempts = max(1, ctx.options.login_attempts)
    for _ in range(attempts):
        probe = await ctx.login(
            account.username, "Wrong-" + secrets.token_hex(8), retry_throttled=False
        )
        if throttled(probe.status, probe.text):
            return
        if accepted(probe):
            raise NotApplicable("a wrong password was accepted")
    out.add(
        f"{attempts} failed logins for one account in a row, none throttled "
        f"(last: {probe.summary()})",
        probe.url,
    )
