"""The ``bastion`` command line. Every command has ``--help`` with an example."""

from __future__ import annotations

import typer

from bastion.cli._ops import audit_app, db_app, keys_app
from bastion.cli._serve import init, serve
from bastion.cli._users import app as users_app
from bastion.infra import configure_logging

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
    configure_logging("WARNING", json=False)


app.command()(serve)
app.command()(init)
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
app.add_typer(keys_app, name="keys")
app.add_typer(audit_app, name="audit")


def main() -> None:
    app()
