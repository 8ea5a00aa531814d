"""Token lifetime and session end: expired and not-yet-valid tokens (needs the signing key:
``--signing-key`` or a cracked weak secret), revocation at logout, refresh-token reuse, and
the refresh token after logout."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jwt

from bastion.scanner._checks_tokens import accepted, valid_token
from bastion.scanner._context import ScanContext, TokenPair
from bastion.scanner._jwt import UnverifiedToken, sign_hmac
from bastion.scanner._model import Severity
from bastion.scanner._registry import Findings, NotApplicable, check

__all__: list[str] = []

AREA = "tokens"
HOUR = 3600


def _signer(ctx: ScanContext, token: UnverifiedToken) -> Callable[[dict[str, Any]], str]:
    if ctx.signing_key is not None:
        alg, key = ctx.signing_key
    elif ctx.options.signing_key:
        alg, key = str(token.header.get("alg")), ctx.options.signing_key
    else:
        raise NotApplicable("needs the signing key (--signing-key-env) or a cracked weak secret")
    header = {k: v for k, v in token.header.items() if k in ("kid", "typ")}
    if alg.startswith("HS"):
        secret = key.encode() if isinstance(key, str) else key
        return lambda claims: sign_hmac({**header, "alg": alg}, claims, secret)
    return lambda claims: jwt.encode(claims, key, algorithm=alg, headers=header)


async def _signed_variant(ctx: ScanContext, **times: float) -> tuple[str, str]:
    """A control token (fresh times) and a variant with ``times``, both properly signed.
    The control must be accepted, else the key is not the target's."""
    token = await valid_token(ctx)
    sign = _signer(ctx, token)
    now = int(ctx.clock.now())
    fresh = {**token.payload, "iat": now, "nbf": now, "exp": now + 600}
    if "nbf" not in token.payload:
        del fresh["nbf"]
    try:
        control = sign(fresh)
    except (jwt.PyJWTError, ValueError, TypeError) as exc:
        raise NotApplicable(f"cannot sign with the given key ({type(exc).__name__})") from None
    if not accepted(await ctx.protected(control)):
        raise NotApplicable("a token signed with the given key is refused: wrong key?")
    variant = {**fresh, **{k: int(now + v) for k, v in times.items()}}
    return control, sign(variant)


@check(
    "token.expired-accepted",
    area=AREA,
    title="Expired token accepted",
    severity=Severity.HIGH,
    fix="Check `exp` on every verification (with at most a minute of leeway).",
    order=47,
)
async def expired(ctx: ScanContext, out: Findings) -> None:
    _, token = await _signed_variant(ctx, iat=-2 * HOUR, nbf=-2 * HOUR, exp=-HOUR)
    probe = await ctx.protected(token)
    if accepted(probe):
        out.add(f"a token that expired an hour ago: {probe.summary()}", probe.url)


@check(
    "token.not-yet-valid-accepted",
    area=AREA,
    title="Token used before its nbf accepted",
    severity=Severity.MEDIUM,
    fix="Check `nbf` (and a future `iat`) on every verification.",
    order=48,
)
async def not_yet_valid(ctx: ScanContext, out: Findings) -> None:
    _, token = await _signed_variant(ctx, iat=HOUR, nbf=HOUR, exp=2 * HOUR)
    probe = await ctx.protected(token)
    if accepted(probe):
        out.add(f"a token valid only an hour from now: {probe.summary()}", probe.url)


async def _session(ctx: ScanContext) -> TokenPair:
    if ctx.primary is None:
        raise NotApplicable("needs an account: --user and --password-env, or registration")
    pair = await ctx.new_session()
    if pair is None:
        raise NotApplicable("login did not return a token")
    if not accepted(await ctx.protected(pair.access)):
        raise NotApplicable(f"{ctx.options.protected_path} refused a fresh token")
    return pair


async def _logout(ctx: ScanContext, pair: TokenPair) -> None:
    probe = await ctx.send(
        "POST", ctx.options.logout_path, headers={"authorization": f"Bearer {pair.access}"}
    )
    if not accepted(probe):
        raise NotApplicable(f"logout answered {probe.status}")


@check(
    "token.revocation",
    area=AREA,
    title="Access token still accepted after logout",
    severity=Severity.HIGH,
    fix="Revoke the session at logout and check revocation on every verification (a deny "
    "list by session or token id, fanned out to every replica).",
    order=50,
)
async def revocation(ctx: ScanContext, out: Findings) -> None:
    pair = await _session(ctx)
    await _logout(ctx, pair)
    probe = await ctx.protected(pair.access)
    if accepted(probe):
        out.add(f"after logout the same access token: {probe.summary()}", probe.url)


async def _refresh(ctx: ScanContext, token: str) -> TokenPair | None:
    probe = await ctx.send("POST", ctx.options.refresh_path, json={"refresh_token": token})
    body = probe.json() if accepted(probe) else None
    if isinstance(body, dict) and isinstance(body.get("refresh_token"), str):
        ctx.redact.add(body["refresh_token"], body.get("access_token"))
        return TokenPair(str(body.get("access_token", "")), body["refresh_token"])
    return None


@check(
    "token.refresh-reuse",
    area=AREA,
    title="Used refresh token accepted again",
    severity=Severity.HIGH,
    fix="Rotate refresh tokens on every use; treat reuse of an old one as theft and revoke "
    "the whole session.",
    order=51,
)
async def refresh_reuse(ctx: ScanContext, out: Findings) -> None:
    pair = await _session(ctx)
    if pair.refresh is None:
        raise NotApplicable("login returned no refresh token")
    second = await _refresh(ctx, pair.refresh)
    third = await _refresh(ctx, second.refresh) if second and second.refresh else None
    if third is None or third.refresh is None:
        raise NotApplicable("refresh did not rotate twice")
    if await _refresh(ctx, pair.refresh) is not None:
        out.add("a refresh token two rotations old was accepted again", ctx.options.refresh_path)
    elif await _refresh(ctx, third.refresh) is not None:
        out.add(
            "after a reuse attempt the newest refresh token still works: the session was "
            "not revoked",
            ctx.options.refresh_path,
            Severity.MEDIUM,
        )


@check(
    "auth.logout",
    area="auth",
    title="Logout does not end the session (refresh token still works)",
    severity=Severity.HIGH,
    fix="Logout must invalidate the session server-side: its refresh token and cookies too.",
    order=52,
)
async def logout(ctx: ScanContext, out: Findings) -> None:
    pair = await _session(ctx)
    if pair.refresh is None:
        raise NotApplicable("login returned no refresh token")
    await _logout(ctx, pair)
    if await _refresh(ctx, pair.refresh) is not None:
        out.add("after logout the session's refresh token was accepted", ctx.options.refresh_path)
