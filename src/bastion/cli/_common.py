"""What every command shares: the --data-dir/--config options, opening Bastion, and turning
errors into one line that says what to do next plus an exit code."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

from bastion._facade import Bastion
from bastion.config import Settings, load_settings
from bastion.errors import BastionError, ConfigError, StorageUnavailable

__all__ = [
    "ConfigOpt",
    "DataDirOpt",
    "console",
    "err_console",
    "open_guard",
    "run",
    "settings_from",
]

T = TypeVar("T")
console = Console()
err_console = Console(stderr=True)

DataDirOpt = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        envvar="BASTION_DATA_DIR",
        help="Where the SQLite file and master key live.",
        show_default="./bastion-data",
    ),
]
ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config", envvar="BASTION_CONFIG", help="TOML settings file (see docs/configuration.md)."
    ),
]

EXIT_ERROR = 1
EXIT_CONFIG = 2
EXIT_UNAVAILABLE = 3


def settings_from(data_dir: Path | None, config: Path | None, **overrides: Any) -> Settings:
    return load_settings(config, data_dir=data_dir, **overrides)


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a command's coroutine; map Bastion errors to a clear message and exit code."""
    try:
        return asyncio.run(coro)
    except ConfigError as exc:
        err_console.print(f"[red]configuration error:[/red] {exc.detail}")
        raise typer.Exit(EXIT_CONFIG) from None
    except StorageUnavailable:
        err_console.print(
            "[red]storage unavailable:[/red] the database or Redis did not answer; "
            "check database.url / redis.url and that the servers run."
        )
        raise typer.Exit(EXIT_UNAVAILABLE) from None
    except BastionError as exc:
        err_console.print(f"[red]error:[/red] {exc.detail}")
        for item in exc.extra.get("errors", []):
            err_console.print(f"  - {item.get('message') or item.get('code')}", markup=False)
        raise typer.Exit(EXIT_ERROR) from None


async def with_guard(settings: Settings, action: Callable[[Bastion], Awaitable[T]]) -> T:
    guard = await Bastion.open(settings)
    try:
        return await action(guard)
    finally:
        await guard.close()


def open_guard(
    data_dir: Path | None, config: Path | None, action: Callable[[Bastion], Awaitable[T]]
) -> T:
    """Load settings (errors name the bad key), open Bastion, run ``action``, close."""
    try:
        settings = settings_from(data_dir, config)
    except ConfigError as exc:
        err_console.print(f"[red]configuration error:[/red] {exc.detail}")
        raise typer.Exit(EXIT_CONFIG) from None
    return run(with_guard(settings, action))
