"""``bastion apikeys``: issue and manage API keys as an operator."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.table import Table

from bastion._facade import Bastion
from bastion.apikeys import parse_key
from bastion.cli._common import ConfigOpt, DataDirOpt, console, err_console, open_guard

__all__ = ["app", "parse_duration"]

app = typer.Typer(help="Issue and manage API keys (operators).", no_args_is_help=True)
_DURATION = re.compile(r"^(\d{1,6})(s|m|h|d)$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> int:
    """``90s``, ``15m``, ``12h``, ``30d`` -> seconds; anything else is a usage error."""
    found = _DURATION.match(text.strip())
    if not found:
        err_console.print(f"not a duration: {text!r}; use a number and s, m, h or d (e.g. 30d)")
        raise typer.Exit(2)
    return int(found.group(1)) * _UNIT[found.group(2)]


SigningOpt = Annotated[
    bool,
    typer.Option(
        "--signing-key", help="Also print the key's request-signing key id and secret (once)."
    ),
]


def _signing_line(guard: Bastion, api_key_id: str) -> str:
    """``<keyid> <secret>``: what a client needs to sign requests with this key."""
    issued = guard.signatures.api_key_key(api_key_id)
    return f"{issued.key_id} {issued.encoded}"


def _when(ts: float | None) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M") if ts else ""


@app.command()
def create(
    name: Annotated[str, typer.Option("--name", help="What the key is for, e.g. 'partner-acme'.")],
    scopes: Annotated[
        str, typer.Option("--scopes", help="Comma-separated scopes, e.g. orders:read,orders:write.")
    ],
    expires: Annotated[str | None, typer.Option("--expires", help="Lifetime, e.g. 30d.")] = None,
    rate: Annotated[
        str | None, typer.Option("--rate", help="Per-key rate limit, e.g. 100/min.")
    ] = None,
    service: Annotated[str | None, typer.Option("--service", help="Owning service name.")] = None,
    user: Annotated[str | None, typer.Option("--user", help="Owning user (name or id).")] = None,
    ip: Annotated[
        list[str] | None, typer.Option("--ip", help="Allowed client network (repeat).")
    ] = None,
    description: Annotated[str, typer.Option(help="Free text.")] = "",
    env: Annotated[str, typer.Option(help="live or test (part of the key).")] = "live",
    signing_key: SigningOpt = False,
    data_dir: DataDirOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Issue a key and print it ONCE; store it in your secret manager now. With
    ``--signing-key`` a second line gives its request-signing key id and secret.

    Example:

        bastion apikeys create --name partner-acme --scopes orders:read \\
            --expires 30d --rate 100/min --service acme
    """
    scope_list = [s.strip() for s in scopes.split(",") if s.strip()]
    lifetime = parse_duration(expires) if expires else None
    if (service is None) == (user is None):
        err_console.print("give exactly one owner: --service NAME or --user NAME")
        raise typer.Exit(2)

    async def action(guard: Bastion) -> tuple[str, str, str]:
        owner_id = (await guard.admin.find(user)).id if user else None
        full, info = await guard.apikeys.create(
            name,
            scope_list,
            owner_user_id=owner_id,
            owner_service=service,
            env=env,
            expires_in=lifetime,
            rate=rate,
            ip_allow=ip or (),
            description=description,
            actor="cli",
        )
        return full, info.id, _signing_line(guard, info.id) if signing_key else ""

    full, key_id, signing = open_guard(data_dir, config, action)
    err_console.print(f"key {key_id} created; it is shown once:")
    typer.echo(full)
    if signing:
        typer.echo(signing)


@app.command("list")
def list_keys(
    revoked: Annotated[bool, typer.Option("--revoked", help="Include revoked keys.")] = False,
    data_dir: DataDirOpt = None,
    config: ConfigOpt = None,
) -> None:
    """List keys (never their secrets)."""

    async def action(guard: Bastion) -> None:
        table = Table("id", "name", "owner", "scopes", "expires", "last used", "revoked")
        for k in await guard.apikeys.list(include_revoked=revoked):
            owner = (k.owner_service and f"service:{k.owner_service}") or (k.owner_user_id or "")
            table.add_row(
                k.id,
                k.name,
                owner,
                " ".join(k.scopes),
                _when(k.expires_at),
                _when(k.last_used_at),
                _when(k.revoked_at),
            )
        console.print(table)

    open_guard(data_dir, config, action)


@app.command()
def show(key_id: str, data_dir: DataDirOpt = None, config: ConfigOpt = None) -> None:
    """Everything about one key except its secret."""

    async def action(guard: Bastion) -> None:
        info = await guard.apikeys.show(key_id)
        for field in info.__dataclass_fields__:
            console.print(f"[bold]{field}[/bold]: {getattr(info, field)}", soft_wrap=True)

    open_guard(data_dir, config, action)


@app.command()
def rotate(
    key_id: str,
    overlap: Annotated[
        str, typer.Option("--overlap", help="How long the old key keeps working.")
    ] = "1d",
    signing_key: SigningOpt = False,
    data_dir: DataDirOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Issue a successor with the same settings and print it ONCE; the old key stops after
    the overlap. ``--signing-key`` adds the successor's request-signing line."""
    seconds = parse_duration(overlap)

    async def action(guard: Bastion) -> tuple[str, str]:
        full = await guard.apikeys.rotate(key_id, overlap_seconds=seconds, actor="cli")
        new_id = parse_key(full).unverified_id
        return full, _signing_line(guard, new_id) if signing_key else ""

    full, signing = open_guard(data_dir, config, action)
    err_console.print(
        f"rotated {key_id}; the old key works for {overlap} more. New key, shown once:"
    )
    typer.echo(full)
    if signing:
        typer.echo(signing)


@app.command()
def revoke(key_id: str, data_dir: DataDirOpt = None, config: ConfigOpt = None) -> None:
    """Revoke a key at once (every replica within a second)."""
    open_guard(data_dir, config, lambda g: g.apikeys.revoke(key_id, actor="cli"))
    console.print(f"revoked {key_id}")
