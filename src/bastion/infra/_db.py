"""The database: an async SQLAlchemy engine for SQLite (default) or PostgreSQL.

SQLite runs in WAL mode with ``synchronous=FULL`` so an acknowledged write survives a crash,
``foreign_keys=ON`` and a busy timeout. Driver errors are translated into
:class:`~bastion.errors.StorageUnavailable` here and never escape.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from bastion.errors import ConfigError, StorageUnavailable

__all__ = ["Database", "normalise_url"]


def normalise_url(url: str) -> str:
    """Accept ``postgres://``, ``postgresql://`` and ``sqlite://`` and pick the async driver."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+asyncpg://" + url[len("postgresql://") :]
    if url.startswith("sqlite://"):
        url = "sqlite+aiosqlite://" + url[len("sqlite://") :]
    if not (url.startswith("postgresql+asyncpg://") or url.startswith("sqlite+aiosqlite://")):
        raise ConfigError("database.url must be a sqlite:// or postgresql:// URL")
    return url


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # SQLAlchemy emits BEGIN itself (see _sqlite_begin), not the driver.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


def _sqlite_begin(conn: Any) -> None:
    immediate = conn.get_execution_options().get("bastion_immediate", False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


class Database:
    """Owns the engine. Use :meth:`begin` for a transaction, :meth:`connect` for reads."""

    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self.url = normalise_url(url)
        parsed = make_url(self.url)
        self.dialect = parsed.get_backend_name()
        if self.dialect == "sqlite":
            db = parsed.database
            if db and db != ":memory:":
                Path(db).parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            self.engine: AsyncEngine = create_async_engine(self.url)
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
            event.listen(self.engine.sync_engine, "begin", _sqlite_begin)
        else:
            self.engine = create_async_engine(
                self.url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True
            )

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[AsyncConnection]:
        """A transaction: committed on success, rolled back on any exception.

        On SQLite it starts with ``BEGIN IMMEDIATE``: writers queue for the write lock up
        front instead of failing when a read snapshot cannot be upgraded.
        """
        try:
            async with self.engine.connect() as conn:
                if self.is_sqlite:
                    await conn.execution_options(bastion_immediate=True)
                async with conn.begin():
                    yield conn
        except (OperationalError, DBAPIError, OSError) as exc:
            if _is_integrity(exc):
                raise
            raise StorageUnavailable from exc

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[AsyncConnection]:
        try:
            async with self.engine.connect() as conn:
                yield conn
        except (OperationalError, DBAPIError, OSError) as exc:
            if _is_integrity(exc):
                raise
            raise StorageUnavailable from exc

    async def check(self) -> None:
        """Raise :class:`StorageUnavailable` unless a trivial query succeeds."""
        async with self.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def close(self) -> None:
        await self.engine.dispose()


def _is_integrity(exc: BaseException) -> bool:
    from sqlalchemy.exc import IntegrityError

    return isinstance(exc, IntegrityError)
