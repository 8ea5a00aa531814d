"""Response headers, CORS and TRACE, judged on a few baseline responses: the root, an unknown
path and a rejected login (so error answers are covered too)."""

from __future__ import annotations

import re
import secrets

from bastion.scanner._client import Probe
from bastion.scanner._context import ScanContext
from bastion.scanner._model import Severity
from bastion.scanner._registry import Findings, check

__all__ = ["baseline"]

AREA = "headers"
_VERSION = re.compile(r"\d+\.\d+")


async def baseline(ctx: ScanContext) -> list[Probe]:
    async def make() -> list[Probe]:
        missing = f"/bscan-{secrets.token_hex(4)}"
        return [
            await ctx.send("GET", "/"),
            await ctx.send("GET", missing),
            await ctx.send("POST", ctx.options.login_path, json={}),
        ]

    probes: list[Probe] = await ctx.cached("baseline", make)
    return probes


@check(
    "headers.csp",
    area=AREA,
    title="Content-Security-Policy missing or weak",
    severity=Severity.MEDIUM,
    fix="Send `Content-Security-Policy: default-src 'none'; frame-ancestors 'none'` on API "
    "responses (pages: a policy with object-src 'none', base-uri 'none', no 'unsafe-inline').",
    order=10,
)
async def csp(ctx: ScanContext, out: Findings) -> None:
    for probe in await baseline(ctx):
        policy = probe.headers.get("content-security-policy")
        if policy is None:
            out.add(f"{probe.summary()}: no Content-Security-Policy header", probe.url)
            continue
        directives = {
            part.strip().split(" ")[0].lower(): part.strip()
            for part in policy.split(";")
            if part.strip()
        }
        script = directives.get("script-src") or directives.get("default-src")
        if script is None:
            out.add(
                f"{probe.summary()}: CSP without default-src/script-src", probe.url, Severity.LOW
            )
        elif "'unsafe-inline'" in script or "'unsafe-eval'" in script:
            out.add(f"{probe.summary()}: CSP allows {script!r}", probe.url, Severity.LOW)


@check(
    "headers.nosniff",
    area=AREA,
    title="X-Content-Type-Options: nosniff missing",
    severity=Severity.LOW,
    fix="Send `X-Content-Type-Options: nosniff` on every response, errors included.",
    order=11,
)
async def nosniff(ctx: ScanContext, out: Findings) -> None:
    for probe in await baseline(ctx):
        if probe.headers.get("x-content-type-options", "").strip().lower() != "nosniff":
            out.add(f"{probe.summary()}: X-Content-Type-Options is not nosniff", probe.url)


@check(
    "headers.frame",
    area=AREA,
    title="No frame protection (clickjacking)",
    severity=Severity.MEDIUM,
    fix="Send CSP `frame-ancestors 'none'` (and `X-Frame-Options: DENY` for old browsers).",
    order=12,
)
async def frame(ctx: ScanContext, out: Findings) -> None:
    for probe in await baseline(ctx):
        xfo = probe.headers.get("x-frame-options", "").strip().upper()
        csp_value = probe.headers.get("content-security-policy", "").lower()
        if xfo not in ("DENY", "SAMEORIGIN") and "frame-ancestors" not in csp_value:
            out.add(f"{probe.summary()}: neither frame-ancestors nor X-Frame-Options", probe.url)


@check(
    "headers.referrer-policy",
    area=AREA,
    title="Referrer-Policy missing or leaky",
    severity=Severity.LOW,
    fix="Send `Referrer-Policy: no-referrer` on APIs (`strict-origin-when-cross-origin` "
    "for pages).",
    order=13,
)
async def referrer(ctx: ScanContext, out: Findings) -> None:
    for probe in await baseline(ctx):
        value = probe.headers.get("referrer-policy", "").strip().lower()
        if not value or value in ("unsafe-url", "no-referrer-when-downgrade"):
            out.add(f"{probe.summary()}: Referrer-Policy {value or 'missing'}", probe.url)


@check(
    "headers.server-banner",
    area=AREA,
    title="Server software and version disclosed",
    severity=Severity.LOW,
    fix="Drop `X-Powered-By`/`X-AspNet-Version` and versions from `Server` (uvicorn: "
    "--no-server-header; nginx: server_tokens off).",
    order=14,
)
async def banner(ctx: ScanContext, out: Findings) -> None:
    seen: set[str] = set()
    for probe in await baseline(ctx):
        for name in ("server", "x-powered-by", "x-aspnet-version", "x-aspnetmvc-version"):
            value = probe.headers.get(name)
            if value is None or (name == "server" and not _VERSION.search(value)):
                continue
            if f"{name}: {value}" not in seen:
                seen.add(f"{name}: {value}")
                out.add(f"{probe.summary()}: {name}: {value}", probe.url)


@check(
    "cors.reflected-origin",
    area=AREA,
    title="CORS reflects an arbitrary Origin",
    severity=Severity.HIGH,
    fix="Allow an exact list of trusted origins; never echo the request's Origin or `null` "
    "(Bastion: [server] cors_origins).",
    order=15,
)
async def cors_reflected(ctx: ScanContext, out: Findings) -> None:
    for origin in (f"https://bscan-{secrets.token_hex(4)}.example", "null"):
        for probe in await _cors_probes(ctx, origin):
            allowed = probe.headers.get("access-control-allow-origin", "")
            creds = probe.headers.get("access-control-allow-credentials", "").lower() == "true"
            if allowed == origin:
                out.add(
                    f"{probe.summary()} with Origin: {origin} -> Access-Control-Allow-Origin: "
                    f"{allowed}, credentials {'allowed' if creds else 'not allowed'}",
                    probe.url,
                    None if creds else Severity.LOW,
                )


@check(
    "cors.wildcard-credentials",
    area=AREA,
    title="CORS wildcard origin together with credentials",
    severity=Severity.MEDIUM,
    fix="Never combine `Access-Control-Allow-Origin: *` with "
    "`Access-Control-Allow-Credentials: true`; list exact origins.",
    order=16,
)
async def cors_wildcard(ctx: ScanContext, out: Findings) -> None:
    origin = f"https://bscan-{secrets.token_hex(4)}.example"
    for probe in await _cors_probes(ctx, origin):
        allowed = probe.headers.get("access-control-allow-origin", "")
        creds = probe.headers.get("access-control-allow-credentials", "").lower() == "true"
        if allowed == "*" and creds:
            out.add(f"{probe.summary()}: ACAO * with Allow-Credentials: true", probe.url)


async def _cors_probes(ctx: ScanContext, origin: str) -> list[Probe]:
    preflight = {
        "origin": origin,
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization, content-type",
    }
    return [
        await ctx.send("GET", "/", headers={"origin": origin}),
        await ctx.send("OPTIONS", ctx.options.login_path, headers=preflight),
    ]


@check(
    "http.trace",
    area=AREA,
    title="HTTP TRACE enabled",
    severity=Severity.LOW,
    fix="Disable TRACE (and TRACK) at the server or proxy; answer 405.",
    order=17,
)
async def trace(ctx: ScanContext, out: Findings) -> None:
    marker = secrets.token_hex(8)
    probe = await ctx.send("TRACE", "/", headers={"x-bscan-trace": marker})
    if 200 <= probe.status < 300:
        echoed = "echoes the request headers" if marker in probe.text else "answers 2xx"
        out.add(f"{probe.summary()}: TRACE {echoed}", probe.url)
