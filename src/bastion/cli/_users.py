"""``bastion users``: create, list, lock, unlock, delete accounts."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.table import Table

from bastion._facade import Bastion
from bastion.cli._common import ConfigOpt, DataDirOpt, console, err_console, open_guard

__all__ = ["app"]

app = typer.Typer(help="Manage user accounts (operators).", no_args_is_help=True)


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = typer.prompt("Password", hide_input=True)
    if typer.prompt("Repeat password", hide_input=True) != first:
        err_console.print("[red]the passwords differ[/red]; run the command again.")
        raise typer.Exit(1)
    return str(first)


@app.command()
def create(
    username: str,
    admin: Annotated[
        bool, typer.Option("--admin", help="Give the account the admin scope.")
    ] = False,
    email: Annotated[str | None, typer.Option(help="Contact address (stored encrypted).")] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin.")
    ] = False,
    data_dir: DataDirOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Create an account; asks for the password twice (or reads one line with --password-stdin).

    Example: echo "$PASSWORD" | bastion users create alice --admin --password-stdin
    """
    password = _password(password_stdin)

    async def action(guard: Bastion) -> str:
        done = await guard.identity.register(
            username, password, email=email, is_admin=admin, reveal_taken=True
        )
        return done.user_id

    user_id = open_guard(data_dir, config, action)
    console.print(f"created {'admin ' if admin else ''}user [bold]{username}[/bold] ({user_id})")


@app.command("list")
def list_users(
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 100,
    offset: Annotated[int, typer.Option(min=0)] = 0,
    data_dir: DataDirOpt = None,
    config: ConfigOpt = None,
) -> None:
    """List accounts, oldest first."""

    async def action(guard: Bastion) -> None:
        table = Table("id", "username", "admin", "locked", "mfa", "failures", "created (UTC)")
        for u in await guard.admin.list(limit=limit, offset=offset):
            created = datetime.fromtimestamp(u.created_at, UTC).strftime("%Y-%m-%d %H:%M")
            table.add_row(
                u.id,
                u.username,
                "yes" if u.is_admin else "",
                "yes" if u.locked else "",
                "yes" if u.mfa_enabled else "",
                str(u.failed_logins),
                created,
            )
        console.print(table)

    open_guard(data_dir, config, action)


@app.command()
def lock(user: str, data_dir: DataDirOpt = None, config: ConfigOpt = None) -> None:
    """Lock an account (by username or id) and revoke all its sessions at once."""
    done = open_guard(data_dir, config, lambda g: g.admin.lock(user, actor="cli"))
    console.print(f"locked {done.username}; its sessions are revoked")


@app.command()
def unlock(user: str, data_dir: DataDirOpt = None, config: ConfigOpt = None) -> None:
    """Unlock an account and clear its failure counters (also lifts the 100-failure step-up)."""
    done = open_guard(data_dir, config, lambda g: g.admin.unlock(user, actor="cli"))
    console.print(f"unlocked {done.username}")


@app.command()
def delete(
    user: str,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    data_dir: DataDirOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Delete an account, its sessions, devices and recovery codes. Cannot be undone."""
    if not yes and not typer.confirm(f"Delete {user} and all its sessions?"):
        raise typer.Exit(1)
    done = open_guard(data_dir, config, lambda g: g.admin.delete(user, actor="cli"))
    console.print(f"deleted {done.username}")
