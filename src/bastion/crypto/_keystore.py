"""The key store: wrapped data keys, KEK versions and tombstones, in their own database.

Every operation is one transaction; SQL errors become :class:`StorageUnavailable` in
:class:`~bastion.infra.Database` and never escape. Reservations of encryption counts are an
atomic update, so the per-key message cap holds across processes and replicas.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, insert, select, text, update
from sqlalchemy.exc import IntegrityError, ProgrammingError
from sqlalchemy.ext.asyncio import AsyncConnection

from bastion.crypto._keystore_records import KeyStoreRecords
from bastion.crypto._keystore_schema import SCHEMA_VERSION, deks, keks, meta, metadata
from bastion.errors import ConfigError, StorageUnavailable
from bastion.infra import Database

__all__ = ["DekRow", "KekRow", "KeyStore"]

_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_DEK_COLUMNS = (
    deks.c.id,
    deks.c.subject_key,
    deks.c.purpose,
    deks.c.kek_version,
    deks.c.wrapped,
    deks.c.state,
    deks.c.reserved,
    deks.c.created_at,
)


@dataclass(frozen=True, slots=True)
class DekRow:
    id: str
    subject_key: str
    purpose: str
    kek_version: int
    wrapped: bytes
    state: str
    reserved: int
    created_at: float


@dataclass(frozen=True, slots=True)
class KekRow:
    version: int
    source: str
    check_value: bytes
    state: str
    created_at: float
    retired_at: float | None


def _dek(row: Any) -> DekRow:
    return DekRow(
        str(row.id),
        str(row.subject_key),
        str(row.purpose),
        int(row.kek_version),
        bytes(row.wrapped),
        str(row.state),
        int(row.reserved),
        float(row.created_at),
    )


class KeyStore(KeyStoreRecords):
    """Async access to the key store tables (created here, with a schema version row)."""

    def __init__(self, db: Database, *, schema: str | None = None) -> None:
        if schema is not None and not _SCHEMA_NAME.match(schema):
            raise ConfigError("crypto.keystore_schema must be a lower-case SQL identifier")
        self.db = db
        self._schema = schema if not db.is_sqlite else None

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[AsyncConnection]:
        async with self.db.begin() as conn:
            if self._schema:
                await conn.execution_options(schema_translate_map={None: self._schema})
            yield conn

    async def start(self) -> None:
        """Create the schema and tables if absent; refuse a newer key store layout."""
        for attempt in range(3):
            try:
                async with self.begin() as conn:
                    if self._schema:
                        await conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{self._schema}"'))
                    await conn.run_sync(metadata.create_all)
                    await self._check_version(conn)
                return
            except (IntegrityError, ProgrammingError, StorageUnavailable):
                if attempt == 2:  # another process creating the same tables: try again
                    raise

    async def _check_version(self, conn: AsyncConnection) -> None:
        found = (
            await conn.execute(select(meta.c.value).where(meta.c.name == "schema_version"))
        ).scalar()
        if found is None:
            await conn.execute(
                insert(meta).values(name="schema_version", value=str(SCHEMA_VERSION))
            )
        elif int(found) > SCHEMA_VERSION:
            raise ConfigError(
                f"the key store has layout version {found}, newer than this Bastion supports "
                f"({SCHEMA_VERSION}); upgrade Bastion"
            )

    async def close(self) -> None:
        await self.db.close()

    # --- KEK versions ------------------------------------------------------------------------

    async def keks(self) -> list[KekRow]:
        async with self.begin() as conn:
            rows = (await conn.execute(select(keks).order_by(keks.c.version))).all()
        return [
            KekRow(
                int(r.version), r.source, bytes(r.check_value), r.state, r.created_at, r.retired_at
            )
            for r in rows
        ]

    async def add_kek(self, version: int, source: str, check_value: bytes, now: float) -> bool:
        """Record a new KEK version; False when another process recorded it first."""
        try:
            async with self.begin() as conn:
                await conn.execute(
                    insert(keks).values(
                        version=version,
                        source=source,
                        check_value=check_value,
                        state="active",
                        created_at=now,
                    )
                )
        except IntegrityError:
            return False
        return True

    async def retire_kek(self, version: int, now: float) -> int:
        """Mark ``version`` retired unless DEKs still use it; returns how many still do."""
        async with self.begin() as conn:
            using = await self._count(conn, deks.c.kek_version == version)
            if using == 0:
                await conn.execute(
                    update(keks)
                    .where(keks.c.version == version)
                    .values(state="retired", retired_at=now)
                )
        return using

    # --- data keys ---------------------------------------------------------------------------

    async def dek(self, dek_id: str) -> DekRow | None:
        async with self.begin() as conn:
            row = (await conn.execute(select(*_DEK_COLUMNS).where(deks.c.id == dek_id))).first()
        return _dek(row) if row is not None else None

    async def usable_dek(self, subject_key: str, purpose: str, cap: int) -> DekRow | None:
        """The newest active DEK of (subject, purpose) with encryptions left, if any."""
        query = (
            select(*_DEK_COLUMNS)
            .where(
                deks.c.subject_key == subject_key,
                deks.c.purpose == purpose,
                deks.c.state == "active",
                deks.c.reserved < cap,
            )
            .order_by(deks.c.created_at.desc())
            .limit(1)
        )
        async with self.begin() as conn:
            row = (await conn.execute(query)).first()
        return _dek(row) if row is not None else None

    async def add_dek(self, row: DekRow) -> None:
        async with self.begin() as conn:
            await conn.execute(
                insert(deks).values(
                    id=row.id,
                    subject_key=row.subject_key,
                    purpose=row.purpose,
                    kek_version=row.kek_version,
                    wrapped=row.wrapped,
                    state=row.state,
                    reserved=row.reserved,
                    created_at=row.created_at,
                )
            )

    async def add_deks(self, rows: Iterable[DekRow]) -> None:
        """Bulk insert (benchmarks and imports)."""
        values = [
            {
                "id": r.id,
                "subject_key": r.subject_key,
                "purpose": r.purpose,
                "kek_version": r.kek_version,
                "wrapped": r.wrapped,
                "state": r.state,
                "reserved": r.reserved,
                "created_at": r.created_at,
            }
            for r in rows
        ]
        if values:
            async with self.begin() as conn:
                await conn.execute(insert(deks), values)

    async def reserve(self, dek_id: str, block: int, cap: int) -> tuple[int, int] | None:
        """Atomically reserve up to ``block`` more encryptions of an active DEK below ``cap``:
        returns ``(start, end)``, or None (and marks the key full) when none are left."""
        async with self.begin() as conn:
            query = select(deks.c.reserved).where(deks.c.id == dek_id, deks.c.state == "active")
            if not self.db.is_sqlite:
                query = query.with_for_update()
            reserved = (await conn.execute(query)).scalar()
            if reserved is None:
                return None
            if reserved >= cap:
                await conn.execute(update(deks).where(deks.c.id == dek_id).values(state="full"))
                return None
            end = min(int(reserved) + block, cap)
            await conn.execute(update(deks).where(deks.c.id == dek_id).values(reserved=end))
        return int(reserved), end

    async def deks_page(self, after: str, limit: int, *, not_kek: int) -> list[DekRow]:
        """Up to ``limit`` DEKs with id > ``after`` not wrapped by KEK ``not_kek`` (keyset
        pagination: memory stays flat however many keys there are)."""
        query = (
            select(*_DEK_COLUMNS)
            .where(deks.c.id > after, deks.c.kek_version != not_kek)
            .order_by(deks.c.id)
            .limit(limit)
        )
        async with self.begin() as conn:
            return [_dek(r) for r in (await conn.execute(query)).all()]

    async def rewrap(self, updates: list[tuple[str, int, int, bytes]]) -> int:
        """Apply ``(id, old_kek, new_kek, wrapped)`` updates in one transaction (one
        executemany); rows that changed meanwhile (shredded, already re-wrapped) are skipped
        by the compare-and-set on the old version. Returns rows changed (attempted, where
        the driver cannot count an executemany)."""
        if not updates:
            return 0
        statement = (
            update(deks)
            .where(deks.c.id == bindparam("b_id"), deks.c.kek_version == bindparam("b_old"))
            .values(kek_version=bindparam("b_new"), wrapped=bindparam("b_wrapped"))
        )
        params = [
            {"b_id": i, "b_old": old, "b_new": new, "b_wrapped": w} for i, old, new, w in updates
        ]
        async with self.begin() as conn:
            result = await conn.execute(statement, params)
        counted = result.rowcount
        return counted if counted >= 0 else len(updates)

    async def retire_deks_before(self, created_before: float) -> int:
        """Stop encrypting with DEKs made before a time (re-encryption); they still decrypt."""
        async with self.begin() as conn:
            result = await conn.execute(
                update(deks)
                .where(deks.c.created_at < created_before, deks.c.state.in_(("active", "full")))
                .values(state="retired")
            )
        return result.rowcount
