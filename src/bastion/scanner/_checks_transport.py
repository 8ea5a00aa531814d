"""Transport: plain HTTP, the HTTPS redirect, HSTS, TLS protocol versions and the
certificate's trust and expiry (the last three only for https targets)."""

from __future__ import annotations

import asyncio
import re
import socket
import ssl
import warnings

import httpx

from bastion.scanner._client import trust_context
from bastion.scanner._context import ScanContext
from bastion.scanner._model import Severity
from bastion.scanner._registry import Findings, NotApplicable, check
from bastion.scanner._safety import is_loopback

__all__: list[str] = []

AREA = "transport"
YEAR = 31_536_000
_MAX_AGE = re.compile(r"max-age\s*=\s*\"?(\d+)", re.I)


def _https_only(ctx: ScanContext) -> httpx.URL:
    url = ctx.client.base_url
    if url.scheme != "https":
        raise NotApplicable("the target is plain http")
    return url


@check(
    "transport.plain-http",
    area=AREA,
    title="Served over plain HTTP",
    severity=Severity.HIGH,
    fix="Serve only over HTTPS (TLS 1.2+), redirect http:// to https:// and send HSTS.",
    order=1,
)
async def plain_http(ctx: ScanContext, out: Findings) -> None:
    url = ctx.client.base_url
    if url.scheme == "https":
        return
    if is_loopback(url.host):
        raise NotApplicable("loopback target over http: scan the public https:// URL for TLS")
    out.add(f"{url} answers over plain HTTP", str(url))


@check(
    "transport.https-redirect",
    area=AREA,
    title="http:// does not redirect to https://",
    severity=Severity.MEDIUM,
    fix="Answer every http:// request with a 301/308 to the https:// URL (or do not listen "
    "on port 80 at all).",
    order=2,
)
async def https_redirect(ctx: ScanContext, out: Findings) -> None:
    url = _https_only(ctx)
    port = ctx.options.http_port
    plain = url.copy_with(scheme="http", port=None if port == 80 else port)
    try:
        probe = await ctx.send("GET", str(plain.copy_with(path="/")))
    except httpx.TransportError:
        return  # nothing listens on plain http: fine
    location = probe.headers.get("location", "")
    if not (300 <= probe.status < 400 and location.startswith("https://")):
        out.add(f"{probe.summary()} (Location: {location or '-'})", str(plain))


@check(
    "transport.hsts",
    area=AREA,
    title="Strict-Transport-Security missing or short",
    severity=Severity.MEDIUM,
    fix="Send `Strict-Transport-Security: max-age=63072000; includeSubDomains` on every "
    "https response.",
    order=3,
)
async def hsts(ctx: ScanContext, out: Findings) -> None:
    _https_only(ctx)
    probe = await ctx.send("GET", "/")
    value = probe.headers.get("strict-transport-security")
    if value is None:
        out.add(f"{probe.summary()}: no Strict-Transport-Security header", probe.url)
        return
    match = _MAX_AGE.search(value)
    if match is None or int(match.group(1)) < YEAR:
        out.add(
            f"{probe.summary()}: HSTS {value!r} (max-age under a year)", probe.url, Severity.LOW
        )


def _handshake(host: str, port: int, context: ssl.SSLContext) -> dict[str, object]:
    with (
        socket.create_connection((host, port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname=host) as tls,
    ):
        return {"version": tls.version(), "cert": tls.getpeercert()}


@check(
    "transport.tls-version",
    area=AREA,
    title="Obsolete TLS version accepted",
    severity=Severity.HIGH,
    fix="Accept TLS 1.2 and 1.3 only (nginx: ssl_protocols TLSv1.2 TLSv1.3).",
    order=4,
)
async def tls_versions(ctx: ScanContext, out: Findings) -> None:
    url = _https_only(ctx)
    port = url.port or 443
    for version in (ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1):
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        try:
            with warnings.catch_warnings():
                # Offering the deprecated versions is the point of this probe.
                warnings.simplefilter("ignore", DeprecationWarning)
                context.minimum_version = version
                context.maximum_version = version
            context.set_ciphers("ALL:@SECLEVEL=0")
        except (ValueError, ssl.SSLError):
            continue  # this OpenSSL cannot offer it; nothing to learn
        await ctx.client.take_slot()
        try:
            done = await asyncio.to_thread(_handshake, url.host, port, context)
        except (OSError, ssl.SSLError):
            continue
        out.add(f"handshake with {done['version']} succeeded", f"{url.host}:{port}")


@check(
    "transport.certificate",
    area=AREA,
    title="Certificate untrusted, expired or about to expire",
    severity=Severity.HIGH,
    fix="Serve a publicly trusted certificate and renew it automatically (ACME) well "
    "before expiry.",
    order=5,
)
async def certificate(ctx: ScanContext, out: Findings) -> None:
    url = _https_only(ctx)
    port = url.port or 443
    verify = ctx.options.verify_tls
    context = trust_context(verify if isinstance(verify, str) else None)
    await ctx.client.take_slot()
    try:
        done = await asyncio.to_thread(_handshake, url.host, port, context)
    except ssl.SSLCertVerificationError as exc:
        out.add(f"certificate not trusted: {exc.verify_message}", f"{url.host}:{port}")
        return
    except (OSError, ssl.SSLError) as exc:
        raise NotApplicable(f"TLS handshake failed ({type(exc).__name__})") from None
    cert = done["cert"]
    assert isinstance(cert, dict)
    not_after = ssl.cert_time_to_seconds(str(cert["notAfter"]))
    days = (not_after - ctx.clock.now()) / 86400
    if days < 14:
        out.add(
            f"certificate expires in {days:.0f} days ({cert['notAfter']})",
            f"{url.host}:{port}",
            Severity.MEDIUM if days >= 0 else Severity.HIGH,
        )
    elif days < 30:
        out.add(
            f"certificate expires in {days:.0f} days ({cert['notAfter']})",
            f"{url.host}:{port}",
            Severity.LOW,
        )
