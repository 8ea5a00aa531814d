"""The API key table (SQL): rows in, :class:`ApiKeyInfo` out; the hash stays in here and in the
verified-key cache. Storage errors are translated by :class:`~bastion.infra.Database`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bastion.apikeys._types import ApiKeyInfo
from bastion.infra import Database
from bastion.infra.schema import api_keys

__all__ = ["ApiKeyStore", "StoredKey"]


@dataclass(frozen=True, slots=True)
class StoredKey:
    info: ApiKeyInfo
    key_hash: str


def info_of(row: Any) -> ApiKeyInfo:
    return ApiKeyInfo(
        id=row.id,
        env=row.env,
        name=row.name,
        description=row.description,
        scopes=tuple(row.scopes.split()),
        owner_user_id=row.owner_user_id,
        owner_service=row.owner_service,
        rate=row.rate,
        ip_allow=tuple((row.ip_allow or "").split()),
        created_at=float(row.created_at),
        expires_at=_opt(row.expires_at),
        revoked_at=_opt(row.revoked_at),
        rotated_from=row.rotated_from,
        overlap_until=_opt(row.overlap_until),
        last_used_at=_opt(row.last_used_at),
    )


def _opt(value: Any) -> float | None:
    return None if value is None else float(value)


class ApiKeyStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def insert(self, conn: AsyncConnection, values: Mapping[str, Any]) -> None:
        await conn.execute(insert(api_keys).values(**values))

    async def get(self, key_id: str, conn: AsyncConnection | None = None) -> StoredKey | None:
        """The row of ``key_id`` (with ``conn``: inside the caller's transaction)."""
        query = select(api_keys).where(api_keys.c.id == key_id)
        if conn is not None:
            row = (await conn.execute(query)).first()
        else:
            async with self._db.connect() as own:
                row = (await own.execute(query)).first()
        return None if row is None else StoredKey(info_of(row), row.key_hash)

    async def list_keys(
        self, *, owner_user_id: str | None, owner_service: str | None, include_revoked: bool
    ) -> list[ApiKeyInfo]:
        query = select(api_keys).order_by(api_keys.c.created_at.desc(), api_keys.c.id)
        if owner_user_id is not None:
            query = query.where(api_keys.c.owner_user_id == owner_user_id)
        if owner_service is not None:
            query = query.where(api_keys.c.owner_service == owner_service)
        if not include_revoked:
            query = query.where(api_keys.c.revoked_at.is_(None))
        async with self._db.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [info_of(r) for r in rows]

    async def set_fields(self, conn: AsyncConnection, key_id: str, **values: Any) -> None:
        await conn.execute(update(api_keys).where(api_keys.c.id == key_id).values(**values))

    async def claim_rotation(self, conn: AsyncConnection, key_id: str, until: float) -> bool:
        """Set the overlap end of a live, not yet rotated key; False when another rotation or
        a revocation got there first (atomic: one conditional update)."""
        claimed = await conn.execute(
            update(api_keys)
            .where(
                api_keys.c.id == key_id,
                api_keys.c.revoked_at.is_(None),
                api_keys.c.overlap_until.is_(None),
            )
            .values(overlap_until=until)
        )
        return claimed.rowcount == 1

    async def revoked_since(self, since: float) -> list[tuple[str, float]]:
        """Ids and times of keys revoked at or after ``since``: the poll that backs up the
        revocation channel."""
        query = select(api_keys.c.id, api_keys.c.revoked_at).where(api_keys.c.revoked_at >= since)
        async with self._db.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [(r.id, float(r.revoked_at)) for r in rows]

    async def write_last_used(self, used: Mapping[str, float]) -> None:
        """Raise ``last_used_at`` to the given times (never lower it: replicas flush apart)."""
        async with self._db.begin() as conn:
            for key_id, at in used.items():
                col = api_keys.c.last_used_at
                await conn.execute(
                    update(api_keys)
                    .where(api_keys.c.id == key_id, or_(col.is_(None), col < at))
                    .values(last_used_at=at)
                )
