"""The ``bastion`` command line. Every command has ``--help`` with an example."""

from __future__ import annotations

import typer

from bastion.cli import (
    _apikeys,
    _crypto,
    _inspect,
    _ops,
    _platforms,
    _scan,
    _serve,
    _users,
    _vault,
)
from bastion.infra import configure_logging as _configure_logging

__all__ = ["app", "main"]

app = typer.Typer(
    help="Bastion: login, sessions, tokens and audit for mini program backends.\n\n"
    "Start with `bastion serve` (creates ./bastion-data on first run), "
    "then see docs/quickstart.md.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def _setup() -> None:
    # Commands print results on stdout; logs go to stderr, warnings and above only.
    _configure_logging("WARNING", json=False)


app.command()(_serve.serve)
app.command()(_serve.init)
app.command()(_inspect.inspect)
app.add_typer(_ops.db_app, name="db")
app.add_typer(_users.app, name="users")
app.add_typer(_ops.keys_app, name="keys")
app.add_typer(_ops.audit_app, name="audit")
app.add_typer(_platforms.app, name="platforms")
app.add_typer(_apikeys.app, name="apikeys")
app.command()(_scan.scan)
app.add_typer(_crypto.app, name="crypto")
app.add_typer(_vault.app, name="vault")


def main() -> None:
    app()
