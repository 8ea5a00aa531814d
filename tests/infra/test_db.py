"""The database adapter: durable SQLite settings, URL handling, error translation."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from bastion.errors import ConfigError, StorageUnavailable
from bastion.infra import Database, current_revision, migrate
from bastion.infra._db import normalise_url


async def test_sqlite_is_durable(tmp_path: Path) -> None:
    """DESIGN 'nothing acknowledged is lost': WAL, synchronous=FULL, foreign keys on."""
    db = Database(f"sqlite:///{tmp_path / 'x.db'}")
    try:
        async with db.connect() as conn:
            assert (await conn.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
            assert (await conn.execute(text("PRAGMA synchronous"))).scalar() == 2
            assert (await conn.execute(text("PRAGMA foreign_keys"))).scalar() == 1
    finally:
        await db.close()


async def test_migrations_are_idempotent(any_db: Database) -> None:
    await migrate(any_db)
    await migrate(any_db)
    assert await current_revision(any_db) is not None


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://u@h/d", "postgresql+asyncpg://u@h/d"),
        ("postgresql://u@h/d", "postgresql+asyncpg://u@h/d"),
        ("sqlite:///x.db", "sqlite+aiosqlite:///x.db"),
        ("sqlite+aiosqlite:///x.db", "sqlite+aiosqlite:///x.db"),
    ],
)
def test_url_normalisation(given: str, expected: str) -> None:
    assert normalise_url(given) == expected


@pytest.mark.parametrize("url", ["mysql://u@h/d", "http://x", ""])
def test_unsupported_urls_are_config_errors(url: str) -> None:
    with pytest.raises(ConfigError):
        normalise_url(url)


async def test_unreachable_server_is_storage_unavailable() -> None:
    db = Database("postgresql://nobody@127.0.0.1:1/none")
    try:
        with pytest.raises(StorageUnavailable):
            await db.check()
    finally:
        await db.close()
