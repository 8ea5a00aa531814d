"""``bastion crypto``: key-encryption key rotation, re-encryption, retirement, status and
crypto-shredding, as an operator."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from bastion._facade import Bastion
from bastion.cli._common import ConfigOpt, DataDirOpt, console, err_console, open_guard
from bastion.crypto.data import ReencryptReport, RotationReport, Status, load_reencrypt_sources

__all__ = ["app"]

app = typer.Typer(
    help="Data encryption keys: rotate, reencrypt, retire, status, shred.", no_args_is_help=True
)


@app.command()
def status(data_dir: DataDirOpt = None, config: ConfigOpt = None) -> None:
    """Show the KEK versions (where each lives, how many data keys it wraps), data keys by
    state, tombstones, and whether a re-encryption is under way.

    Example:

        bastion crypto status
    """

    async def action(guard: Bastion) -> Status:
        for source in load_reencrypt_sources(guard):
            guard.crypto.register(source)
        return await guard.crypto.status()

    found = open_guard(data_dir, config, action)
    table = Table("KEK", "state", "where", "data keys")
    for kek in found.keks:
        mark = " (current)" if kek["version"] == found.current_kek else ""
        table.add_row(
            f"{kek['version']}{mark}", str(kek["state"]), str(kek["where"]), str(kek["deks"])
        )
    console.print(table)
    states = ", ".join(f"{n} {s}" for s, n in sorted(found.deks.items())) or "none"
    console.print(f"data keys: {states}")
    console.print(f"shredded subjects (tombstones): {found.tombstones}")
    console.print(f"re-encryption sources: {', '.join(found.sources) or 'none registered'}")
    if found.reencrypt_in_progress:
        console.print(
            "[yellow]a re-encryption was interrupted[/yellow]: run "
            "`bastion crypto reencrypt` to finish it"
        )


@app.command()
def rotate(
    batch: Annotated[
        int, typer.Option(min=1, max=100_000, help="Data keys per transaction.")
    ] = 1000,
    data_dir: DataDirOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Add a KEK version and re-wrap every data key under it, with no downtime (reads work
    throughout). Interrupted? Run it again: it finishes the same rotation first.

    Example:

        bastion crypto rotate
    """

    async def action(guard: Bastion) -> RotationReport:
        with Progress(
            TextColumn("re-wrapping data keys"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=err_console,
            transient=False,
        ) as bar:
            task = bar.add_task("rewrap", total=None)

            def show(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            return await guard.crypto.rotate(batch=batch, progress=show, actor="cli")

    report = open_guard(data_dir, config, action)
    verb = "finished the rotation to" if report.resumed else "rotated to"
    console.print(
        f"{verb} KEK version [bold]{report.version}[/bold]: {report.rewrapped} data keys re-wrapped"
    )
    if report.failed or report.remaining:
        err_console.print(
            f"[yellow]{report.remaining} data keys are still wrapped by older versions[/yellow] "
            f"({report.failed} could not be unwrapped); see `bastion crypto status`"
        )
        raise typer.Exit(1)


@app.command()
def reencrypt(data_dir: DataDirOpt = None, config: ConfigOpt = None) -> None:
    """Re-encrypt stored values under new data keys. It reaches only values stored through
    Bastion's registered sources (the vault, and encrypted columns named in
    crypto.reencrypt_sources); any other ciphertext keeps its old, still readable data key.

    Example:

        bastion crypto reencrypt
    """

    async def action(guard: Bastion) -> ReencryptReport:
        for source in load_reencrypt_sources(guard):
            guard.crypto.register(source)
        if not guard.crypto.sources:
            err_console.print(
                "no re-encryption sources are registered: nothing to re-encrypt "
                "(see crypto.reencrypt_sources)"
            )

        def show(name: str, count: int) -> None:
            err_console.print(f"  {name}: {count} values rewritten")

        return await guard.crypto.reencrypt(progress=show, actor="cli")

    report = open_guard(data_dir, config, action)
    console.print(
        f"re-encrypted {report.rewritten} values ({report.current} already current, "
        f"{report.shredded} of shredded subjects skipped); "
        f"{report.retired_deks} old data keys now decrypt only"
    )
    if report.failed:
        err_console.print(
            f"[red]{report.failed} values could not be decrypted[/red] and were left "
            "as they are; see the audit log (crypto.decrypt)"
        )
        raise typer.Exit(1)


@app.command()
def retire(
    version: Annotated[int, typer.Argument(min=1, help="The KEK version to retire.")],
    data_dir: DataDirOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Retire an old KEK version once no data key is wrapped by it; otherwise say what still
    uses it. Afterwards its key file, variable or token key can be destroyed.

    Example:

        bastion crypto retire 1
    """

    async def action(guard: Bastion) -> None:
        await guard.crypto.retire(version, actor="cli")

    open_guard(data_dir, config, action)
    console.print(f"KEK version {version} retired; nothing refers to it any more")


@app.command()
def shred(
    subject: Annotated[str, typer.Argument(help="The subject id (e.g. a user id).")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    data_dir: DataDirOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Destroy every data key of SUBJECT: all of its encrypted values become unreadable for
    good, in backups too. Cannot be undone.

    Example:

        bastion crypto shred 3f2a9c... --yes
    """
    if not yes and not typer.confirm(f"Erase every encrypted value of {subject} for good?"):
        raise typer.Exit(1)

    async def action(guard: Bastion) -> int:
        return await guard.crypto.shred(subject, actor="cli")

    destroyed = open_guard(data_dir, config, action)
    console.print(f"shredded: {destroyed} data keys destroyed; the subject's data is unreadable")
