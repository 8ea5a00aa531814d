"""Where vault rows live: the :class:`VaultStore` protocol and its SQL implementation (SQLite
and PostgreSQL, table ``vault_entries``). The store sees ciphertexts and blind indexes only.

Each write runs in one transaction together with its ``then`` hook (the audit event), so a
change is never committed unaudited. Driver errors become
:class:`~bastion.errors.StorageUnavailable` in :class:`~bastion.infra.Database`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from bastion.infra import Database, new_id
from bastion.infra.schema import vault_entries
from bastion.vault._types import StoredEntry, VaultEntry

__all__ = ["SqlVaultStore", "Then", "VaultStore"]

Then = Callable[[AsyncConnection, int], Awaitable[None]]
"""Called inside the write's transaction with the new version (put) or the rows removed."""

T = vault_entries


class VaultStore(Protocol):
    async def put(
        self,
        subject: str,
        field: str,
        ciphertext: bytes,
        blind_index: str | None,
        now: float,
        then: Then,
    ) -> VaultEntry: ...

    async def get(self, subject: str, field: str) -> StoredEntry | None: ...

    async def delete(self, subject: str, field: str, then: Then) -> bool: ...

    async def delete_subject(self, subject: str, then: Then) -> int: ...

    async def find(self, field: str, blind_index: str, limit: int) -> list[str]: ...

    async def entries(self, subject: str) -> list[VaultEntry]: ...

    async def batch(self, after: str, limit: int) -> list[StoredEntry]: ...

    async def replace(
        self, row_id: str, version: int, ciphertext: bytes, blind_index: str | None
    ) -> bool: ...


def _entry(row: Any) -> VaultEntry:
    return VaultEntry(
        subject=row.subject,
        field=row.field,
        version=int(row.version),
        created_at=float(row.created_at),
        updated_at=float(row.updated_at),
        indexed=row.blind_index is not None,
    )


def _stored(row: Any) -> StoredEntry:
    return StoredEntry(row.id, _entry(row), bytes(row.ciphertext), row.blind_index)


class SqlVaultStore:
    """:class:`VaultStore` on the main database."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._insert = postgresql.insert if not db.is_sqlite else sqlite.insert

    async def put(
        self,
        subject: str,
        field: str,
        ciphertext: bytes,
        blind_index: str | None,
        now: float,
        then: Then,
    ) -> VaultEntry:
        """Insert or replace the value of ``subject``/``field`` in one atomic statement; the
        version starts at 1 and grows by one with each replacement."""
        values = {"ciphertext": ciphertext, "blind_index": blind_index, "updated_at": now}
        statement = (
            self._insert(T)
            .values(id=new_id(), subject=subject, field=field, version=1, created_at=now, **values)
            .on_conflict_do_update(
                index_elements=[T.c.subject, T.c.field], set_={**values, "version": T.c.version + 1}
            )
            .returning(*T.c)
        )
        async with self._db.begin() as conn:
            row = (await conn.execute(statement)).one()
            entry = _entry(row)
            await then(conn, entry.version)
        return entry

    async def get(self, subject: str, field: str) -> StoredEntry | None:
        query = select(T).where(T.c.subject == subject, T.c.field == field)
        async with self._db.connect() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else _stored(row)

    async def delete(self, subject: str, field: str, then: Then) -> bool:
        async with self._db.begin() as conn:
            gone = await conn.execute(delete(T).where(T.c.subject == subject, T.c.field == field))
            if gone.rowcount != 1:
                return False
            await then(conn, 1)
        return True

    async def delete_subject(self, subject: str, then: Then) -> int:
        """Remove every row of ``subject`` (ciphertexts and blind indexes) in one transaction."""
        async with self._db.begin() as conn:
            gone = await conn.execute(delete(T).where(T.c.subject == subject))
            count = int(gone.rowcount)
            await then(conn, count)
        return count

    async def find(self, field: str, blind_index: str, limit: int) -> list[str]:
        """Subjects whose ``field`` has this blind index (uses the (field, blind_index) index;
        reads no ciphertext)."""
        query = (
            select(T.c.subject)
            .where(T.c.field == field, T.c.blind_index == blind_index)
            .order_by(T.c.subject)
            .limit(limit)
        )
        async with self._db.connect() as conn:
            return [r.subject for r in (await conn.execute(query)).all()]

    async def entries(self, subject: str) -> list[VaultEntry]:
        query = (
            select(T.c.subject, T.c.field, T.c.version, T.c.created_at, T.c.updated_at)
            .add_columns(T.c.blind_index)
            .where(T.c.subject == subject)
            .order_by(T.c.field)
        )
        async with self._db.connect() as conn:
            return [_entry(r) for r in (await conn.execute(query)).all()]

    async def batch(self, after: str, limit: int) -> list[StoredEntry]:
        """Rows with ``id > after`` in id order: the walk that re-encryption and re-indexing
        take through the table."""
        query = select(T).where(T.c.id > after).order_by(T.c.id).limit(limit)
        async with self._db.connect() as conn:
            return [_stored(r) for r in (await conn.execute(query)).all()]

    async def replace(
        self, row_id: str, version: int, ciphertext: bytes, blind_index: str | None
    ) -> bool:
        """Swap the ciphertext and index of a row unless it was written since it was read
        (``version`` differs); the version and times stay, since the value did not change."""
        async with self._db.begin() as conn:
            done = await conn.execute(
                update(T)
                .where(T.c.id == row_id, T.c.version == version)
                .values(ciphertext=ciphertext, blind_index=blind_index)
            )
        return int(done.rowcount) == 1

    async def count(self) -> int:
        async with self._db.connect() as conn:
            return int((await conn.execute(select(func.count()).select_from(T))).scalar_one())
