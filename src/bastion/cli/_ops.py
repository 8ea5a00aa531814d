"""``bastion db``, ``bastion keys`` and ``bastion audit``."""

from __future__ import annotations

import contextlib
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn
from rich.table import Table

from bastion._facade import Bastion
from bastion.cli._common import ConfigOpt, DataDirOpt, console, err_console, open_guard
from bastion.monitor import ChainReport

__all__ = ["audit_app", "db_app", "keys_app"]

db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
keys_app = typer.Typer(help="Token-signing keys.", no_args_is_help=True)
audit_app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)


@db_app.command()
def upgrade(data_dir: DataDirOpt = None, config: ConfigOpt = None) -> None:
    """Apply pending schema migrations (also done at every start). Safe to repeat."""
    from bastion.infra import current_revision

    async def action(guard: Bastion) -> str | None:
        return await current_revision(guard.db)

    revision = open_guard(data_dir, config, action)
    console.print(f"database at revision [bold]{revision}[/bold]")


@keys_app.command("rotate-signing")
def rotate_signing(data_dir: DataDirOpt = None, config: ConfigOpt = None) -> None:
    """Start signing with a new key. No downtime: the previous key stays in the JWKS and keeps
    verifying until every token it signed has expired; replicas pick the new key up within
    tokens.key_refresh_seconds."""

    async def action(guard: Bastion) -> str:
        return await guard.keyring.rotate()

    kid = open_guard(data_dir, config, action)
    console.print(f"new signing key [bold]{kid}[/bold]")


@audit_app.command()
def verify(data_dir: DataDirOpt = None, config: ConfigOpt = None) -> None:
    """Check the whole hash chain; exit 1 and name the first broken link if it was altered."""

    async def action(guard: Bastion) -> ChainReport:
        with Progress(
            SpinnerColumn(),
            TextColumn("checking the audit chain..."),
            console=err_console,
            transient=True,
        ) as progress:
            progress.add_task("verify", total=None)
            return await guard.audit.verify()

    report = open_guard(data_dir, config, action)
    if report.ok:
        console.print(f"[green]audit chain intact[/green]: {report.checked} events")
        return
    err_console.print(
        f"[red]audit chain broken[/red] at event #{report.broken_seq}: {report.problem} "
        f"({report.checked} events before it verified)"
    )
    raise typer.Exit(1)


@audit_app.command()
def tail(
    lines: Annotated[
        int, typer.Option("-n", "--lines", min=1, max=10_000, help="How many events.")
    ] = 20,
    action_filter: Annotated[
        str | None, typer.Option("--action", help="Only this action, e.g. auth.login")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
    data_dir: DataDirOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Print the most recent audit events, oldest first."""

    async def action(guard: Bastion) -> None:
        events = await guard.audit.tail(lines, action=action_filter)
        if as_json:
            for e in events:
                typer.echo(json.dumps({k: getattr(e, k) for k in e.__slots__}, sort_keys=True))
            return
        table = Table("#", "time (UTC)", "action", "outcome", "subject", "reason", "ip", "request")
        for e in events:
            when = datetime.fromtimestamp(e.ts, UTC).strftime("%Y-%m-%d %H:%M:%S")
            table.add_row(
                str(e.seq),
                when,
                e.action,
                e.outcome,
                e.subject or "",
                e.reason or "",
                e.ip or "",
                e.request_id or "",
            )
        console.print(table)

    open_guard(data_dir, config, action)


@audit_app.command()
def export(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File to write; default stdout.")
    ] = None,
    data_dir: DataDirOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Write every audit event as JSON lines (oldest first), e.g. to ship to a separate store.

    Example: bastion audit export -o audit-2026-12.jsonl
    """

    async def action(guard: Bastion) -> int:
        count = 0
        with output.open("w") if output else contextlib.nullcontext(sys.stdout) as sink:
            async for event in guard.audit.iterate():
                sink.write(
                    json.dumps({k: getattr(event, k) for k in event.__slots__}, sort_keys=True)
                    + "\n"
                )
                count += 1
        return count

    count = open_guard(data_dir, config, action)
    err_console.print(f"exported {count} events")
