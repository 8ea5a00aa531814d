"""Alembic environment: runs on the connection Bastion hands it (see ``infra._migrate``)."""

from __future__ import annotations

from alembic import context

from bastion.infra.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - offline SQL generation is not supported
    raise RuntimeError("run migrations through 'bastion db upgrade'")
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
