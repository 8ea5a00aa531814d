"""``bastion serve`` and ``bastion init``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bastion.cli._common import (
    ConfigOpt,
    DataDirOpt,
    console,
    err_console,
    open_guard,
    settings_from,
)
from bastion.errors import ConfigError
from bastion.infra import configure_logging

__all__ = ["init", "serve"]


def serve(
    host: Annotated[
        str | None, typer.Option(help="Interface to listen on.", show_default="127.0.0.1")
    ] = None,
    port: Annotated[int | None, typer.Option(help="TCP port.", show_default="8080")] = None,
    data_dir: DataDirOpt = None,
    config: ConfigOpt = None,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
) -> None:
    """Run the HTTP service: auth API, sessions, /v1/verify forward auth, JWKS, health and metrics.

    On first start it creates the data directory, the master key (mode 0600), the SQLite
    database and a token-signing key. Example:

        bastion serve --port 8080 --data-dir ./bastion-data
    """
    import uvicorn

    from bastion.http import create_app

    try:
        overrides = {"server": {"host": host, "port": port}} if host or port else {}
        settings = settings_from(data_dir, config)
        if overrides:
            server = settings.server.model_copy(
                update={k: v for k, v in overrides["server"].items() if v}
            )
            settings = settings.model_copy(update={"server": server})
    except ConfigError as exc:
        err_console.print(f"[red]configuration error:[/red] {exc.detail}")
        raise typer.Exit(2) from None
    configure_logging(log_level.upper())
    err_console.print(
        f"Bastion listening on http://{settings.server.host}:{settings.server.port} "
        f"(data in {settings.data_dir}, hot state: {'redis' if settings.redis_url else 'memory'})"
    )
    uvicorn.run(
        create_app(settings),
        host=settings.server.host,
        port=settings.server.port,
        server_header=False,
        date_header=True,
        log_level=log_level.lower(),
        access_log=False,
        proxy_headers=False,
        lifespan="on",
    )


def init(
    data_dir: DataDirOpt = None,
    config: ConfigOpt = None,
    write_config: Annotated[
        Path | None, typer.Option(help="Also write a commented settings file here.")
    ] = None,
) -> None:
    """Prepare a data directory: master key (0600), database schema and a signing key.

    Safe to run again: nothing that exists is replaced.
    """

    async def action(guard: object) -> None:
        return None

    open_guard(data_dir, config, action)
    if write_config is not None:
        if write_config.exists():
            err_console.print(f"{write_config} exists; left unchanged.")
        else:
            write_config.write_text(SAMPLE_CONFIG)
            console.print(f"wrote {write_config}")
    console.print(
        "[green]ready.[/green] Next: [bold]bastion serve[/bold], then "
        "[bold]bastion users create NAME --admin[/bold] for an operator account."
    )


SAMPLE_CONFIG = """\
# Bastion settings. Every key can also be set as BASTION_<SECTION>__<KEY>, e.g.
# BASTION_TOKENS__ACCESS_TTL_SECONDS=600. Unknown keys stop start-up.

# data_dir = "./bastion-data"

[server]
# host = "127.0.0.1"
# port = 8080
# trusted_proxies = ["10.0.0.0/8"]   # whose X-Forwarded-For is believed

[database]
# url = "postgresql://bastion@db/bastion"   # default: SQLite in data_dir

[redis]
# url = "redis://127.0.0.1:6379/0"          # default: hot state in memory (one process)

[passwords]
# argon2_memory_kib = 19456
# argon2_time_cost = 2
# min_length_single_factor = 15

[tokens]
# algorithm = "EdDSA"        # or "ES256"
# access_ttl_seconds = 900

[sessions]
# idle_timeout_seconds = 1800
# absolute_lifetime_seconds = 43200

[audit]
# ip = "masked"              # full | masked | none
"""
