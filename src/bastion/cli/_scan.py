"""``bastion scan URL``: parse options, show the banner and progress, write the report and
set the exit code. The checks themselves live in :mod:`bastion.scanner`.

Exit codes: 0 no finding at or above ``--fail-on``; 1 such findings; 2 usage error or
safety refusal; 130 interrupted (Ctrl-C) after writing the partial report.
"""

from __future__ import annotations

import asyncio
import os
import ssl
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from bastion.cli._common import err_console
from bastion.cli._scan_output import banner, write_report
from bastion.errors import ScanRefused
from bastion.scanner import (
    CheckResult,
    Report,
    ScanOptions,
    Severity,
    check_target,
    plan,
    run_scan,
    trust_context,
)

__all__ = ["scan"]

EXIT_FINDINGS, EXIT_USAGE, EXIT_INTERRUPTED = 1, 2, 130
_FORMATS = ("table", "json", "sarif", "html")
Repeat = list[str] | None


def _env(name: str | None, what: str) -> str | None:
    if not name:
        return None
    value = os.environ.get(name)
    if not value:
        err_console.print(f"[red]{what}:[/red] environment variable {name} is not set")
        raise typer.Exit(EXIT_USAGE)
    return value


def _run(options: ScanOptions) -> Report:
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
        console=err_console, transient=True,
    ) as bar:  # fmt: skip
        task = bar.add_task("setting up", total=None)

        def progress(event: str, result: CheckResult | None, done: int, total: int) -> None:
            text = f"{event} {result.check_id}" if result else event
            bar.update(task, description=text, completed=done, total=total)

        return asyncio.run(run_scan(options, progress=progress))


def scan(
    url: Annotated[
        str, typer.Argument(help="The backend to test, e.g. https://staging.example.com")
    ],
    allow_host: Annotated[
        Repeat, typer.Option(help="A non-loopback host you own (repeat).")
    ] = None,
    login: Annotated[str, typer.Option(help="Login path.")] = "/v1/auth/login",
    register_path: Annotated[str, typer.Option(help="Registration path.")] = "/v1/auth/register",
    refresh_path: Annotated[str, typer.Option(help="Refresh path.")] = "/v1/auth/refresh",
    logout_path: Annotated[str, typer.Option(help="Logout path.")] = "/v1/auth/logout",
    jwks_path: Annotated[str, typer.Option(help="JWKS path.")] = "/.well-known/jwks.json",
    protected_path: Annotated[
        str, typer.Option(help="An endpoint that needs a token (tested with forged ones).")
    ] = "/v1/verify",
    user: Annotated[str | None, typer.Option(help="Username of an existing test account.")] = None,
    password_env: Annotated[str | None, typer.Option(help="Env var with its password.")] = None,
    token: Annotated[
        str | None, typer.Option(help="A valid access token (prefer --token-env).")
    ] = None,
    token_env: Annotated[
        str | None, typer.Option(help="Env var with a valid access token.")
    ] = None,
    register: Annotated[bool, typer.Option(help="Create up to 3 test accounts.")] = True,
    max_requests: Annotated[int, typer.Option(min=1, max=100_000, help="Hard request cap.")] = 2000,
    rate: Annotated[float, typer.Option(min=0.1, max=1000, help="Requests per second.")] = 50.0,
    timeout: Annotated[float, typer.Option(min=1, max=120, help="Seconds per request.")] = 10.0,
    login_attempts: Annotated[int, typer.Option(min=1, max=100, help="Failed logins tried.")] = 10,
    rate_limit_requests: Annotated[int, typer.Option(min=10, max=1000)] = 60,
    rate_limit_path: Annotated[
        Repeat, typer.Option(help="Endpoint to burst-test (repeat).")
    ] = None,
    timing_samples: Annotated[int, typer.Option(min=6, max=30)] = 12,
    xss_param: Annotated[Repeat, typer.Option(help="PATH?NAME to probe for XSS.")] = None,
    sqli_param: Annotated[Repeat, typer.Option(help="PATH?NAME to probe for SQL errors.")] = None,
    redirect_param: Annotated[Repeat, typer.Option(help="PATH?NAME for open redirects.")] = None,
    replay_request: Annotated[Path | None, typer.Option(help="JSON signed request.")] = None,
    jwt_wordlist: Annotated[
        Path | None, typer.Option(help="Weak HMAC secrets, one a line.")
    ] = None,
    signing_key_env: Annotated[str | None, typer.Option(help="Env var: the signing key.")] = None,
    only: Annotated[Repeat, typer.Option(help="Run only these check ids/prefixes.")] = None,
    skip: Annotated[Repeat, typer.Option(help="Skip these check ids/prefixes.")] = None,
    ca_file: Annotated[
        Path | None, typer.Option(help="Also trust the CA certificates in this PEM bundle.")
    ] = None,
    http_port: Annotated[
        int, typer.Option(min=1, max=65535, help="Port probed for the http:// redirect.")
    ] = 80,
    format: Annotated[str, typer.Option("--format", help="table, json, sarif or html.")] = "table",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Report file.")] = None,
    fail_on: Annotated[str, typer.Option(help="Exit 1 at this severity or above.")] = "high",
) -> None:
    """Actively test a backend you own for the mistakes Bastion prevents.

    Example:

        BASTION_SCAN_PASSWORD=... bastion scan https://staging.example.com \\
            --allow-host staging.example.com --user scanner --password-env BASTION_SCAN_PASSWORD \\
            --format sarif -o scan.sarif --fail-on high
    """
    if format not in _FORMATS:
        err_console.print(f"[red]--format:[/red] use one of {', '.join(_FORMATS)}")
        raise typer.Exit(EXIT_USAGE)
    try:
        threshold = Severity.parse(fail_on)
    except ValueError as exc:
        err_console.print(f"[red]--fail-on:[/red] {exc}")
        raise typer.Exit(EXIT_USAGE) from None
    if ca_file is not None:
        try:
            trust_context(str(ca_file))
        except (OSError, ssl.SSLError):
            err_console.print("[red]--ca-file:[/red] not a readable PEM bundle of CA certificates")
            raise typer.Exit(EXIT_USAGE) from None
    options = ScanOptions(
        target=url, allow_hosts=tuple(allow_host or ()), username=user,
        password=_env(password_env, "--password-env"),
        token=token or _env(token_env, "--token-env"), register=register,
        login_path=login, register_path=register_path, refresh_path=refresh_path,
        logout_path=logout_path, jwks_path=jwks_path, protected_path=protected_path,
        max_requests=max_requests, rate=rate, timeout=timeout, login_attempts=login_attempts,
        rate_limit_requests=rate_limit_requests, rate_limit_paths=tuple(rate_limit_path or ()),
        timing_samples=timing_samples, xss_params=tuple(xss_param or ()),
        sqli_params=tuple(sqli_param or ()), redirect_params=tuple(redirect_param or ()),
        replay_file=str(replay_request) if replay_request else None,
        jwt_wordlist=str(jwt_wordlist) if jwt_wordlist else None,
        signing_key=_env(signing_key_env, "--signing-key-env"),
        only=tuple(only or ()), skip=tuple(skip or ()),
        verify_tls=str(ca_file) if ca_file else True, http_port=http_port,
    )  # fmt: skip
    try:
        check_target(options.target, options.allow_hosts)
    except ScanRefused as exc:
        err_console.print(f"[red]refused:[/red] {exc.detail}")
        raise typer.Exit(EXIT_USAGE) from None
    banner(options, plan(options))
    report = _run(options)
    write_report(report, format, output)
    if report.interrupted:
        raise typer.Exit(EXIT_INTERRUPTED)
    raise typer.Exit(EXIT_FINDINGS if report.at_or_above(threshold) else 0)
