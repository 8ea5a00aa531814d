"""Abuse: rate limits on login and chosen endpoints, reflected XSS and SQL error probes and
open redirects on the parameters the user names (``PATH?NAME``), and replay of a signed
request the user supplies."""

from __future__ import annotations

import asyncio
import json
import secrets
from pathlib import Path
from typing import Any

import httpx

from bastion.scanner._checks_errors import SQL_ERRORS
from bastion.scanner._checks_tokens import accepted
from bastion.scanner._client import Probe
from bastion.scanner._context import ScanContext, random_username
from bastion.scanner._model import Severity
from bastion.scanner._registry import Findings, NotApplicable, check

__all__ = ["parse_param"]

AREA = "abuse"
BATCH = 10


def parse_param(spec: str) -> tuple[str, str]:
    """``/search?q`` -> (``/search``, ``q``)."""
    path, _, name = spec.partition("?")
    name = name.split("=", 1)[0]
    if not path.startswith("/") or not name:
        raise ValueError(f"parameter {spec!r}: write PATH?NAME, e.g. /search?q")
    return path, name


def _params(specs: tuple[str, ...], what: str) -> list[tuple[str, str]]:
    if not specs:
        raise NotApplicable(f"no parameters given ({what})")
    return [parse_param(s) for s in specs]


async def _burst(ctx: ScanContext, send: Any) -> list[Probe]:
    """Up to ``rate_limit_requests`` requests (capped by the budget left), in concurrent
    batches, stopping at the first throttled answer."""
    left = ctx.client.max_requests - ctx.client.sent - 5
    total = min(ctx.options.rate_limit_requests, left)
    if total < 10:
        raise NotApplicable("not enough request budget left for a burst")
    probes: list[Probe] = []
    while len(probes) < total:
        batch = await asyncio.gather(*(send() for _ in range(min(BATCH, total - len(probes)))))
        probes.extend(batch)
        if any(p.status == 429 for p in batch):
            break
    return probes


@check(
    "ratelimit.login",
    area=AREA,
    title="No rate limit on login",
    severity=Severity.MEDIUM,
    fix="Rate-limit the login route per client IP (Bastion: the default [ratelimit] auth "
    "policy) and answer 429 with Retry-After.",
    order=95,
)
async def login_rate(ctx: ScanContext, out: Findings) -> None:
    async def send() -> Probe:
        body = {"username": random_username(), "password": "Wrong-" + secrets.token_hex(8)}
        return await ctx.send("POST", ctx.options.login_path, json=body, retry_throttled=False)

    probes = await _burst(ctx, send)
    if not any(p.status == 429 for p in probes):
        out.add(f"{len(probes)} login requests in a burst, none answered 429", probes[-1].url)


@check(
    "ratelimit.endpoint",
    area=AREA,
    title="No rate limit on a chosen endpoint",
    severity=Severity.MEDIUM,
    fix="Put a per-client (or per-key) rate limit on the endpoint; answer 429 with Retry-After.",
    order=96,
)
async def endpoint_rate(ctx: ScanContext, out: Findings) -> None:
    if not ctx.options.rate_limit_paths:
        raise NotApplicable("no endpoint given (--rate-limit-path)")
    auth = {"authorization": f"Bearer {ctx.token}"} if ctx.token else {}
    for path in ctx.options.rate_limit_paths:

        async def send(path: str = path) -> Probe:
            return await ctx.send("GET", path, headers=auth, retry_throttled=False)

        probes = await _burst(ctx, send)
        if not any(p.status == 429 for p in probes):
            out.add(f"{len(probes)} GET {path} in a burst, none answered 429", probes[-1].url)


@check(
    "inject.xss",
    area=AREA,
    title="Reflected cross-site scripting",
    severity=Severity.HIGH,
    fix="Encode output for its context (HTML-escape in templates); send a strict CSP.",
    order=70,
)
async def xss(ctx: ScanContext, out: Findings) -> None:
    for path, name in _params(ctx.options.xss_params, "--xss-param"):
        marker = f"bscan{secrets.token_hex(4)}"
        payload = f"\"'><{marker} x=1>"
        probe = await ctx.send("GET", path, params={name: payload})
        html = "html" in probe.headers.get("content-type", "")
        if f"<{marker} x=1>" in probe.text and html:
            out.add(f"{probe.summary()}: `{name}` is reflected unencoded in HTML", probe.url)


@check(
    "inject.sql-error",
    area=AREA,
    title="SQL error provoked through a parameter",
    severity=Severity.HIGH,
    fix="Use parameterised queries (bound parameters) for every value from a request.",
    order=71,
)
async def sql_error(ctx: ScanContext, out: Findings) -> None:
    for path, name in _params(ctx.options.sqli_params, "--sqli-param"):
        base = await ctx.send("GET", path, params={name: "1"})
        if SQL_ERRORS.search(base.text):
            continue  # errors without any payload: not caused by us
        for payload in ("'", '"', "1')", "1' OR '1'='1"):
            probe = await ctx.send("GET", path, params={name: payload})
            match = SQL_ERRORS.search(probe.text)
            if match:
                out.add(f"{probe.summary()} with {name}={payload!r}: {match.group(0)}", probe.url)
                break


@check(
    "redirect.open",
    area=AREA,
    title="Open redirect",
    severity=Severity.MEDIUM,
    fix="Redirect only to relative paths or an allow-list of your own hosts.",
    order=72,
)
async def open_redirect(ctx: ScanContext, out: Findings) -> None:
    for path, name in _params(ctx.options.redirect_params, "--redirect-param"):
        host = f"bscan-{secrets.token_hex(4)}.example"
        for payload in (f"https://{host}/", f"//{host}/", f"/\\{host}/"):
            probe = await ctx.send("GET", path, params={name: payload})
            location = probe.headers.get("location", "")
            target = httpx.URL(location.replace("\\", "/")) if location else None
            if 300 <= probe.status < 400 and target is not None and target.host == host:
                out.add(f"{probe.summary()}: Location {location}", probe.url)
                break


@check(
    "replay.signed",
    area=AREA,
    title="Signed request accepted twice (replay)",
    severity=Severity.HIGH,
    fix="Sign a timestamp and a nonce, refuse old timestamps and remember nonces for the "
    "window (Bastion: request signatures).",
    order=73,
)
async def replay(ctx: ScanContext, out: Findings) -> None:
    if not ctx.options.replay_file:
        raise NotApplicable("no signed request given (--replay-request FILE)")
    path = Path(ctx.options.replay_file)
    spec = json.loads(await asyncio.to_thread(path.read_text, encoding="utf-8"))
    body = spec.get("body")
    content = body if isinstance(body, str) else json.dumps(body) if body is not None else None
    args: dict[str, Any] = {"headers": spec.get("headers", {}), "content": content}
    first = await ctx.send(spec.get("method", "POST"), spec["path"], **args)
    if not accepted(first):
        raise NotApplicable(f"the signed request itself was refused ({first.status})")
    second = await ctx.send(spec.get("method", "POST"), spec["path"], **args)
    if accepted(second):
        out.add(f"the same signed request twice: {first.status} then {second.status}", second.url)
