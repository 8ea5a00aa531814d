"""Exposed files and endpoints: directory listings, ``.git/``, ``.env``, backup files,
metrics and API descriptions. A path counts only when its answer has the content such a
file has and differs from the answer for a random path (soft-404 pages)."""

from __future__ import annotations

import re
import secrets

from bastion.scanner._client import Probe
from bastion.scanner._context import ScanContext
from bastion.scanner._model import Severity
from bastion.scanner._registry import Findings, check

__all__: list[str] = []

AREA = "exposure"
_LISTING = re.compile(r"(?i)<title>\s*(index of|directory listing for)|<h1>\s*index of /")
_ENV_LINE = re.compile(r"(?m)^\s*(?:export\s+)?([A-Z][A-Z0-9_]{1,63})\s*=")
_SQL_DUMP = re.compile(r"(?i)\b(create table|insert into|-- mysql dump|postgresql database dump)")
LISTING_PATHS = ("/", "/static/", "/uploads/", "/files/", "/assets/", "/backup/")
ENV_PATHS = ("/.env", "/.env.local", "/.env.production", "/.env.bak")
BACKUP_PATHS = (
    "/backup.zip", "/backup.tar.gz", "/backup.sql", "/dump.sql", "/db.sql",
    "/database.sqlite", "/app.py.bak", "/config.bak", "/settings.py.bak", "/site.tar.gz",
)  # fmt: skip


async def _soft404(ctx: ScanContext) -> str | None:
    async def make() -> str | None:
        probe = await ctx.send("GET", f"/bscan-{secrets.token_hex(6)}.txt")
        return probe.text if probe.status == 200 else None

    value: str | None = await ctx.cached("soft404", make)
    return value


async def _found(ctx: ScanContext, path: str) -> Probe | None:
    probe = await ctx.send("GET", path)
    if probe.status != 200 or not probe.text.strip():
        return None
    if probe.text == await _soft404(ctx):
        return None
    return probe


@check(
    "exposure.directory-listing",
    area=AREA,
    title="Directory listing enabled",
    severity=Severity.MEDIUM,
    fix="Turn off autoindex/directory listing; serve only named files.",
    order=20,
)
async def listing(ctx: ScanContext, out: Findings) -> None:
    for path in LISTING_PATHS:
        probe = await _found(ctx, path)
        if probe and _LISTING.search(probe.text):
            out.add(f"{probe.summary()}: the body is a directory index", probe.url)


@check(
    "exposure.git",
    area=AREA,
    title="Git repository exposed (.git/)",
    severity=Severity.HIGH,
    fix="Never deploy the .git folder; deny `/.git` at the proxy.",
    order=21,
)
async def git(ctx: ScanContext, out: Findings) -> None:
    head = await _found(ctx, "/.git/HEAD")
    if head and re.match(r"ref: refs/|[0-9a-f]{40}\s*$", head.text):
        out.add(f"{head.summary()}: {head.text.strip()[:40]}", head.url)
    config = await _found(ctx, "/.git/config")
    if config and "[core]" in config.text:
        out.add(f"{config.summary()}: a git config file", config.url)


@check(
    "exposure.env",
    area=AREA,
    title="Environment file exposed (.env)",
    severity=Severity.HIGH,
    fix="Keep .env files out of the web root and the image; rotate every secret it held.",
    order=22,
)
async def env(ctx: ScanContext, out: Findings) -> None:
    for path in ENV_PATHS:
        probe = await _found(ctx, path)
        names = _ENV_LINE.findall(probe.text) if probe else []
        if probe and len(names) >= 2:
            # Evidence names the variables, never their values.
            out.add(f"{probe.summary()}: defines {', '.join(names[:8])}", probe.url)


@check(
    "exposure.backup",
    area=AREA,
    title="Backup or dump file downloadable",
    severity=Severity.HIGH,
    fix="Remove backups and dumps from anything the server serves; store them elsewhere.",
    order=23,
)
async def backup(ctx: ScanContext, out: Findings) -> None:
    for path in BACKUP_PATHS:
        probe = await _found(ctx, path)
        if probe is None:
            continue
        kind = _backup_kind(path, probe)
        if kind:
            out.add(f"{probe.summary()}: {kind}, {len(probe.text)} characters", probe.url)


def _backup_kind(path: str, probe: Probe) -> str | None:
    text = probe.text
    if text.startswith("PK\x03\x04"):
        return "a zip archive"
    if text.startswith("\x1f"):
        return "a gzip archive"
    if text.startswith("SQLite format 3"):
        return "an SQLite database"
    if _SQL_DUMP.search(text[:4096]):
        return "an SQL dump"
    html = "html" in probe.headers.get("content-type", "") or "<html" in text[:512].lower()
    if path.endswith(".bak") and not html:
        return "a backup copy of a file"
    return None


@check(
    "exposure.metrics",
    area=AREA,
    title="Metrics endpoint readable without authentication",
    severity=Severity.LOW,
    fix="Serve /metrics on an internal port or network only, or require a token (Bastion: set "
    "[server] metrics_token).",
    order=24,
)
async def metrics(ctx: ScanContext, out: Findings) -> None:
    probe = await _found(ctx, "/metrics")
    if probe and ("# HELP " in probe.text or "# TYPE " in probe.text):
        out.add(f"{probe.summary()}: Prometheus metrics are public", probe.url)


@check(
    "exposure.openapi",
    area=AREA,
    title="API description published",
    severity=Severity.INFO,
    fix="If the API is not public, serve /openapi.json and /docs only to authenticated "
    "users or internal networks.",
    order=25,
)
async def openapi(ctx: ScanContext, out: Findings) -> None:
    for path in ("/openapi.json", "/swagger.json", "/v3/api-docs", "/docs"):
        probe = await _found(ctx, path)
        if probe is None:
            continue
        body = probe.json()
        if (isinstance(body, dict) and ("openapi" in body or "swagger" in body)) or (
            "swagger-ui" in probe.text
        ):
            out.add(f"{probe.summary()}: the API description is public", probe.url)
