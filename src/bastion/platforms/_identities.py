"""Platform identities (SQL): which Bastion user a platform subject belongs to.

A subject (WeChat openid, Telegram user id, Alipay user id, ...) is unique per
``(platform, app_id)`` and belongs to exactly one user (a unique constraint, so two
concurrent first logins cannot create two users for one subject). Secrets the platform hands
over are sealed with the master key, bound to the identity row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from bastion.crypto import MasterKey
from bastion.errors import Conflict
from bastion.infra import Clock, new_id
from bastion.infra.schema import platform_identities, users

__all__ = ["SEALED_PURPOSE", "Identity", "IdentityStore"]

SEALED_PURPOSE = "bastion/platform-secret/v1"


@dataclass(frozen=True, slots=True)
class Identity:
    id: str
    user_id: str
    platform: str
    app_id: str
    subject: str
    unionid: str | None

    def __repr__(self) -> str:  # subjects are personal identifiers: keep them out of reprs
        return f"Identity(id={self.id!r}, platform={self.platform!r}, user_id={self.user_id!r})"


def _identity(row: Any) -> Identity:
    return Identity(row.id, row.user_id, row.platform, row.app_id, row.subject, row.unionid)


class IdentityStore:
    def __init__(self, master: MasterKey, clock: Clock) -> None:
        self._master = master
        self._clock = clock

    def seal(self, identity_id: str, field: str, value: bytes) -> bytes:
        return self._master.seal(value, purpose=SEALED_PURPOSE, context=f"{identity_id}/{field}")

    def open(self, identity_id: str, field: str, sealed: bytes) -> bytes:
        return self._master.open(sealed, purpose=SEALED_PURPOSE, context=f"{identity_id}/{field}")

    async def find(
        self, conn: AsyncConnection, platform: str, app_id: str, subject: str
    ) -> Identity | None:
        query = select(platform_identities).where(
            platform_identities.c.platform == platform,
            platform_identities.c.app_id == app_id,
            platform_identities.c.subject == subject,
        )
        row = (await conn.execute(query)).first()
        return _identity(row) if row else None

    async def user_of_unionid(
        self, conn: AsyncConnection, platform: str, unionid: str
    ) -> str | None:
        """The user already holding an identity with this unionid (WeChat: across apps)."""
        query = (
            select(platform_identities.c.user_id)
            .where(
                platform_identities.c.platform == platform, platform_identities.c.unionid == unionid
            )
            .limit(1)
        )
        return (await conn.execute(query)).scalar()

    async def of_user(self, conn: AsyncConnection, user_id: str) -> list[Identity]:
        query = select(platform_identities).where(platform_identities.c.user_id == user_id)
        return [_identity(r) for r in (await conn.execute(query)).all()]

    async def attach(
        self,
        conn: AsyncConnection,
        user_id: str,
        platform: str,
        app_id: str,
        subject: str,
        unionid: str | None,
    ) -> Identity:
        """Attach a subject to a user; :class:`Conflict` when it already belongs to someone."""
        now, identity_id = self._clock.now(), new_id()
        try:
            async with conn.begin_nested():
                await conn.execute(
                    insert(platform_identities).values(
                        id=identity_id,
                        user_id=user_id,
                        platform=platform,
                        app_id=app_id,
                        subject=subject,
                        unionid=unionid,
                        created_at=now,
                        last_login_at=now,
                    )
                )
        except IntegrityError:
            raise Conflict("This platform account is already linked to a user.") from None
        return Identity(identity_id, user_id, platform, app_id, subject, unionid)

    async def touch(
        self, conn: AsyncConnection, identity: Identity, **sealed: bytes | None
    ) -> None:
        """Record a login; store any sealed secret given (``session_key=...``)."""
        values: dict[str, Any] = {"last_login_at": self._clock.now()}
        for field, value in sealed.items():
            if value is not None:
                values[f"{field}_sealed"] = self.seal(identity.id, field, value)
        await conn.execute(
            update(platform_identities)
            .where(platform_identities.c.id == identity.id)
            .values(**values)
        )

    async def sealed_field(
        self, conn: AsyncConnection, identity: Identity, field: str
    ) -> bytes | None:
        column = platform_identities.c[f"{field}_sealed"]
        sealed = (
            await conn.execute(select(column).where(platform_identities.c.id == identity.id))
        ).scalar()
        return self.open(identity.id, field, sealed) if sealed is not None else None

    async def detach(self, conn: AsyncConnection, identity: Identity) -> None:
        await conn.execute(
            delete(platform_identities).where(platform_identities.c.id == identity.id)
        )

    async def other_ways_in(
        self, conn: AsyncConnection, user_id: str, without: list[Identity]
    ) -> int:
        """How many ways in the user keeps without ``without``: other identities + a password."""
        excluded = [i.id for i in without]
        others = (
            await conn.execute(
                select(func.count())
                .select_from(platform_identities)
                .where(
                    and_(
                        platform_identities.c.user_id == user_id,
                        platform_identities.c.id.not_in(excluded),
                    )
                )
            )
        ).scalar_one()
        password = (
            await conn.execute(select(users.c.password_hash).where(users.c.id == user_id))
        ).scalar()
        usable = password is not None and not str(password).startswith("!")
        return int(others) + (1 if usable else 0)
