"""The key store's tombstones, markers and counts (mixed into
:class:`~bastion.crypto._keystore.KeyStore`)."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bastion.crypto._keystore_schema import deks, meta, tombstones

__all__ = ["KeyStoreRecords"]


class KeyStoreRecords:
    """Tombstones (one transaction with the DEK deletion), run markers and reports."""

    def begin(self) -> AbstractAsyncContextManager[AsyncConnection]:
        raise NotImplementedError

    # --- tombstones --------------------------------------------------------------------------

    async def shred(self, subject_key: str, now: float) -> int:
        """Delete every DEK of the subject and leave a tombstone, in one transaction."""
        async with self.begin() as conn:
            result = await conn.execute(delete(deks).where(deks.c.subject_key == subject_key))
            exists = (
                await conn.execute(
                    select(tombstones.c.subject_key).where(tombstones.c.subject_key == subject_key)
                )
            ).first()
            if exists is None:
                await conn.execute(
                    insert(tombstones).values(subject_key=subject_key, shredded_at=now)
                )
        return result.rowcount

    async def is_tombstoned(self, subject_key: str) -> bool:
        async with self.begin() as conn:
            found = (
                await conn.execute(
                    select(tombstones.c.subject_key).where(tombstones.c.subject_key == subject_key)
                )
            ).first()
        return found is not None

    async def tombstones(self) -> set[str]:
        async with self.begin() as conn:
            return set((await conn.execute(select(tombstones.c.subject_key))).scalars())

    # --- reports and markers ---------------------------------------------------------------

    async def _count(self, conn: AsyncConnection, *where: Any) -> int:
        query = select(func.count()).select_from(deks).where(*where)
        return int((await conn.execute(query)).scalar() or 0)

    async def dek_counts(self) -> dict[tuple[int, str], int]:
        """DEKs per (KEK version, state)."""
        query = select(deks.c.kek_version, deks.c.state, func.count()).group_by(
            deks.c.kek_version, deks.c.state
        )
        async with self.begin() as conn:
            return {(int(v), str(s)): int(n) for v, s, n in (await conn.execute(query)).all()}

    async def count_not_under(self, kek_version: int) -> int:
        async with self.begin() as conn:
            return await self._count(conn, deks.c.kek_version != kek_version)

    async def get_marker(self, name: str) -> str | None:
        async with self.begin() as conn:
            return (await conn.execute(select(meta.c.value).where(meta.c.name == name))).scalar()

    async def set_marker(self, name: str, value: str | None) -> None:
        async with self.begin() as conn:
            await conn.execute(delete(meta).where(meta.c.name == name))
            if value is not None:
                await conn.execute(insert(meta).values(name=name, value=value))
