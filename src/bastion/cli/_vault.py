"""``bastion vault``: the encrypted personal-data vault for operators. Values are read from
stdin and never taken as arguments (arguments end up in shell history and ``ps``)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from bastion.cli._common import ConfigOpt, DataDirOpt, console, err_console, open_guard

__all__ = ["app", "read_value"]

app = typer.Typer(help="Store, read, find and erase encrypted personal data.", no_args_is_help=True)
STDIN_CAP = 65536 + 2


def read_value() -> str:
    """The value on stdin, without one trailing newline (``\\n`` or ``\\r\\n``); a usage error
    (exit 2) when it is not UTF-8 or larger than any vault value can be."""
    data = sys.stdin.buffer.read(STDIN_CAP + 1)
    if len(data) > STDIN_CAP:
        err_console.print("the value on stdin is too large (at most 64 KiB)")
        raise typer.Exit(2)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        err_console.print("the value on stdin is not UTF-8 text")
        raise typer.Exit(2) from None
    for ending in ("\r\n", "\n"):
        if text.endswith(ending):
            return text[: -len(ending)]
    return text


@app.command()
def put(subject: str, field: str, data_dir: DataDirOpt = None, config: ConfigOpt = None) -> None:
    """Store SUBJECT's FIELD encrypted; the value is read from stdin.

    Example:

        printf '%s' '+86 138 0013 8000' | bastion vault put 3f2a9c phone
    """
    value = read_value()
    entry = open_guard(data_dir, config, lambda g: g.vault.put(subject, field, value))
    console.print(f"stored {subject}/{field} (version {entry.version})", markup=False)


@app.command()
def get(subject: str, field: str, data_dir: DataDirOpt = None, config: ConfigOpt = None) -> None:
    """Print SUBJECT's FIELD, decrypted, on stdout (the read is audited).

    Example:

        bastion vault get 3f2a9c phone
    """
    value = open_guard(data_dir, config, lambda g: g.vault.get(subject, field))
    typer.echo(value)


@app.command()
def delete(subject: str, field: str, data_dir: DataDirOpt = None, config: ConfigOpt = None) -> None:
    """Delete SUBJECT's FIELD (its ciphertext and blind index)."""
    open_guard(data_dir, config, lambda g: g.vault.delete(subject, field))
    console.print(f"deleted {subject}/{field}", markup=False)


@app.command()
def lookup(field: str, data_dir: DataDirOpt = None, config: ConfigOpt = None) -> None:
    """Print the subjects whose FIELD equals the value on stdin, one per line.

    Example:

        printf '%s' '13800138000' | bastion vault lookup phone
    """
    value = read_value()
    for subject in open_guard(data_dir, config, lambda g: g.vault.lookup(field, value)):
        typer.echo(subject)


@app.command()
def erase(
    subject: str,
    yes: Annotated[bool, typer.Option("--yes", help="Confirm: this cannot be undone.")] = False,
    data_dir: DataDirOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Erase SUBJECT for good: shred its data key, remove its fields and blind indexes.

    Example:

        bastion vault erase 3f2a9c --yes
    """
    if not yes:
        err_console.print("erasing cannot be undone; add --yes to confirm")
        raise typer.Exit(2)
    rows = open_guard(data_dir, config, lambda g: g.vault.delete_subject(subject))
    console.print(f"erased {subject} ({rows} fields removed, data key shredded)", markup=False)


@app.command()
def reindex(data_dir: DataDirOpt = None, config: ConfigOpt = None) -> None:
    """Recompute every blind index, after changing vault.lookup_fields (each value is decrypted
    once). Re-encryption under new data keys is `bastion crypto reencrypt`."""
    changed = open_guard(data_dir, config, lambda g: g.vault.reindex())
    console.print(f"{changed} blind indexes changed", markup=False)
