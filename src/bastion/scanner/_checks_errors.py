"""Errors: what the target tells a client who sends malformed requests. Each check reads
the same set of probes (cached) with its own patterns."""

from __future__ import annotations

import re
import secrets

from bastion.scanner._client import Probe
from bastion.scanner._context import ScanContext
from bastion.scanner._model import Severity
from bastion.scanner._registry import Findings, check

__all__ = ["SQL_ERRORS"]

AREA = "errors"
STACK = re.compile(
    r"Traceback \(most recent call last\)|\bat [\w$.]+\([\w$]+\.(?:java|kt|scala):\d+\)"
    r"|Exception in thread \"|\.(?:py|rb|php)\"?,? line \d+|\bat .+ \(.+\.[cm]?js:\d+:\d+\)"
    r"|goroutine \d+ \[running\]|System\.\w+Exception:"
)
DEBUG = re.compile(
    r"Werkzeug Debugger|DEBUG = True|Whoops! There was an error|Django Version:"
    r"|Action Controller: Exception caught|traceback-container|<title>[^<]*Debug[^<]*</title>"
    r"|Symfony\\Component\\Debug|Laravel[^\n]{0,40}Exception",
    re.I,
)
SQL_ERRORS = re.compile(
    r"You have an error in your SQL syntax|sqlite3?\.OperationalError|unrecognized token:"
    r"|psycopg2?\.errors|SQLSTATE\[|ORA-\d{5}|syntax error at or near"
    r"|Unclosed quotation mark|quoted string not properly terminated|near \".*\": syntax error",
    re.I,
)
PATHS = re.compile(
    r"(?:/home/[\w.-]+|/usr/(?:local/)?lib/|/var/www/|/srv/|/opt/|/app/|site-packages/"
    r"|[A-Z]:\\\\?(?:Users|inetpub|Program Files))[\w./\\-]*\.(?:py|rb|php|js|ts|java|go|cs)\b"
)


async def _probes(ctx: ScanContext) -> list[Probe]:
    async def make() -> list[Probe]:
        login = ctx.options.login_path
        json_type = {"content-type": "application/json"}
        quote = "bscan'\"`)--"
        return [
            await ctx.send("POST", login, content='{"username": ', headers=json_type),
            await ctx.send("POST", login, json={"username": [quote], "password": {"$gt": ""}}),
            await ctx.send("POST", login, json={"username": quote, "password": quote}),
            await ctx.send(
                "POST", login, content="<x>&bscan;</x>", headers={"content-type": "text/xml"}
            ),
            await ctx.send("GET", f"/bscan-{secrets.token_hex(3)}%00'%22.json"),
            await ctx.send("GET", "/", params={"id": "1'\"", "page": "-1e999"}),
            await ctx.protected("eyJ'\".bscan.%%%"),
        ]

    probes: list[Probe] = await ctx.cached("error_probes", make)
    return probes


async def _scan(ctx: ScanContext, out: Findings, pattern: re.Pattern[str], what: str) -> None:
    for probe in await _probes(ctx):
        match = pattern.search(probe.text)
        if match:
            start = max(0, match.start() - 40)
            snippet = probe.text[start : match.end() + 80].replace("\n", " ")
            out.add(f"{probe.summary()}: {what}: ...{snippet}...", probe.url)
            return  # one example is enough


@check(
    "errors.stack-trace",
    area=AREA,
    title="Stack trace in an error response",
    severity=Severity.MEDIUM,
    fix="Answer unexpected errors with a generic problem (status, request id); log the "
    "traceback on the server only.",
    order=30,
)
async def stack_trace(ctx: ScanContext, out: Findings) -> None:
    await _scan(ctx, out, STACK, "stack trace")


@check(
    "errors.debug-page",
    area=AREA,
    title="Framework debug page enabled",
    severity=Severity.HIGH,
    fix="Turn debug mode off in every deployed environment (DEBUG=False, debug=False).",
    order=31,
)
async def debug_page(ctx: ScanContext, out: Findings) -> None:
    await _scan(ctx, out, DEBUG, "debug page")


@check(
    "errors.sql-error",
    area=AREA,
    title="Database error text in a response",
    severity=Severity.MEDIUM,
    fix="Use parameterised queries and map database errors to a generic problem.",
    order=32,
)
async def sql_error(ctx: ScanContext, out: Findings) -> None:
    await _scan(ctx, out, SQL_ERRORS, "SQL error")


@check(
    "errors.internal-path",
    area=AREA,
    title="Internal file path in a response",
    severity=Severity.LOW,
    fix="Keep file system paths out of responses; log them on the server only.",
    order=33,
)
async def internal_path(ctx: ScanContext, out: Findings) -> None:
    await _scan(ctx, out, PATHS, "server path")
