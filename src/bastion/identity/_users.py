"""The user store (SQL). Usernames are unique after NFKC + casefold; e-mail addresses are
sealed with the master key and never logged; passwords exist only as hashes."""

from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from bastion.crypto import MasterKey
from bastion.errors import Conflict, InvalidInput, NotFound
from bastion.infra import Clock, Database, new_id
from bastion.infra.schema import recovery_codes, trusted_devices, users

__all__ = [
    "User",
    "UserStore",
    "canonical_username",
    "username_problem",
    "validate_username",
]

EMAIL_PURPOSE = "bastion/user-email/v1"


USERNAME_MAX = 256


def username_problem(username: str) -> str | None:
    """Why ``username`` is not acceptable, or None: 1-256 characters, no control, format
    (except ZWJ), surrogate, private-use or unassigned characters, no surrounding spaces."""
    if not 0 < len(username) <= USERNAME_MAX:
        return f"must be 1 to {USERNAME_MAX} characters"
    for ch in username:
        cat = unicodedata.category(ch)
        if cat in ("Cc", "Cs", "Co", "Cn") or (cat == "Cf" and ch != "\u200d"):
            return "must not contain control, format or unassigned characters"
    if username != username.strip():
        return "must not start or end with white space"
    return None


def validate_username(username: str) -> None:
    """Raise :class:`InvalidInput` naming the ``username`` field when it is not acceptable."""
    problem = username_problem(username)
    if problem is not None:
        raise InvalidInput(
            f"Invalid field(s): username ({problem}).",
            errors=[{"field": "username", "code": "invalid_username", "message": problem}],
        )


def canonical_username(username: str) -> str:
    """The uniqueness key of a username: NFKC, then casefold, surrounding spaces removed."""
    return unicodedata.normalize("NFKC", username).strip().casefold()


@dataclass(frozen=True, slots=True)
class User:
    id: str
    username: str
    password_hash: str
    is_admin: bool
    locked: bool
    failed_logins: int
    mfa_enabled: bool
    totp_secret_sealed: bytes | None
    totp_pending_sealed: bytes | None
    totp_last_step: int
    created_at: float
    has_email: bool


def _user(row: Any) -> User:
    return User(
        id=row.id,
        username=row.username,
        password_hash=row.password_hash,
        is_admin=bool(row.is_admin),
        locked=bool(row.locked),
        failed_logins=int(row.failed_logins),
        mfa_enabled=bool(row.mfa_enabled),
        totp_secret_sealed=row.totp_secret_sealed,
        totp_pending_sealed=row.totp_pending_sealed,
        totp_last_step=int(row.totp_last_step),
        created_at=float(row.created_at),
        has_email=row.email_sealed is not None,
    )


class UserStore:
    def __init__(self, db: Database, master: MasterKey, clock: Clock) -> None:
        self._db = db
        self._master = master
        self._clock = clock

    async def create(
        self,
        conn: AsyncConnection,
        username: str,
        password_hash: str,
        *,
        email: str | None,
        is_admin: bool,
    ) -> str:
        """Insert a user; raises :class:`Conflict` when the canonical username is taken."""
        user_id, now = new_id(), self._clock.now()
        sealed = (
            self._master.seal(email.encode(), purpose=EMAIL_PURPOSE, context=user_id)
            if email
            else None
        )
        try:
            async with conn.begin_nested():
                await conn.execute(
                    insert(users).values(
                        id=user_id,
                        username=canonical_username(username),
                        email_sealed=sealed,
                        password_hash=password_hash,
                        is_admin=is_admin,
                        locked=False,
                        failed_logins=0,
                        mfa_enabled=False,
                        totp_last_step=0,
                        created_at=now,
                        updated_at=now,
                    )
                )
        except IntegrityError:
            raise Conflict("That username is taken.") from None
        return user_id

    async def exists(self, conn: AsyncConnection, username: str) -> bool:
        query = select(users.c.id).where(users.c.username == canonical_username(username))
        return (await conn.execute(query)).first() is not None

    async def by_username(self, username: str) -> User | None:
        async with self._db.connect() as conn:
            row = (
                await conn.execute(
                    select(users).where(users.c.username == canonical_username(username))
                )
            ).first()
        return _user(row) if row else None

    async def get(self, user_id: str, conn: AsyncConnection | None = None) -> User:
        query = select(users).where(users.c.id == user_id)
        if conn is not None:
            row = (await conn.execute(query)).first()
        else:
            async with self._db.connect() as own:
                row = (await own.execute(query)).first()
        if row is None:
            raise NotFound("No such user.")
        return _user(row)

    async def page(self, *, limit: int = 100, offset: int = 0) -> list[User]:
        query = select(users).order_by(users.c.created_at, users.c.id).limit(limit).offset(offset)
        async with self._db.connect() as conn:
            return [_user(r) for r in (await conn.execute(query)).all()]

    async def email(self, user: User) -> str | None:
        async with self._db.connect() as conn:
            sealed = (
                await conn.execute(select(users.c.email_sealed).where(users.c.id == user.id))
            ).scalar()
        if sealed is None:
            return None
        return self._master.open(sealed, purpose=EMAIL_PURPOSE, context=user.id).decode()

    async def update(self, conn: AsyncConnection, user_id: str, **values: Any) -> None:
        values["updated_at"] = self._clock.now()
        result = await conn.execute(update(users).where(users.c.id == user_id).values(**values))
        if result.rowcount == 0:
            raise NotFound("No such user.")

    async def add_failure(self, conn: AsyncConnection, user_id: str) -> int:
        await conn.execute(
            update(users)
            .where(users.c.id == user_id)
            .values(failed_logins=users.c.failed_logins + 1)
        )
        row = (
            await conn.execute(select(users.c.failed_logins).where(users.c.id == user_id))
        ).scalar()
        return int(row or 0)

    async def delete(self, conn: AsyncConnection, user_id: str) -> None:
        result = await conn.execute(delete(users).where(users.c.id == user_id))
        if result.rowcount == 0:
            raise NotFound("No such user.")

    # -- trusted devices --------------------------------------------------------------------

    @staticmethod
    def device_hash(user_id: str, device_id: str) -> str:
        return hashlib.sha256(f"{user_id}\x00{device_id}".encode()).hexdigest()

    async def is_trusted_device(self, user_id: str, device_id: str | None) -> bool:
        if not device_id:
            return False
        query = select(trusted_devices.c.user_id).where(
            trusted_devices.c.user_id == user_id,
            trusted_devices.c.device_hash == self.device_hash(user_id, device_id),
        )
        async with self._db.connect() as conn:
            return (await conn.execute(query)).first() is not None

    async def trust_device(self, conn: AsyncConnection, user_id: str, device_id: str) -> None:
        digest, now = self.device_hash(user_id, device_id), self._clock.now()
        updated = await conn.execute(
            update(trusted_devices)
            .where(trusted_devices.c.user_id == user_id, trusted_devices.c.device_hash == digest)
            .values(last_used_at=now)
        )
        if updated.rowcount == 0:
            await conn.execute(
                insert(trusted_devices).values(
                    user_id=user_id, device_hash=digest, created_at=now, last_used_at=now
                )
            )

    # -- recovery codes -----------------------------------------------------------------------

    async def replace_recovery_codes(
        self, conn: AsyncConnection, user_id: str, hashes: list[str]
    ) -> None:
        await conn.execute(delete(recovery_codes).where(recovery_codes.c.user_id == user_id))
        for digest in hashes:
            await conn.execute(
                insert(recovery_codes).values(id=new_id(), user_id=user_id, code_hash=digest)
            )

    async def unused_recovery_codes(
        self, conn: AsyncConnection, user_id: str
    ) -> list[tuple[str, str]]:
        query = select(recovery_codes.c.id, recovery_codes.c.code_hash).where(
            recovery_codes.c.user_id == user_id, recovery_codes.c.used_at.is_(None)
        )
        return [(r.id, r.code_hash) for r in (await conn.execute(query)).all()]

    async def use_recovery_code(self, conn: AsyncConnection, code_id: str) -> bool:
        """Mark a code used; False when another request used it first (single use, atomic)."""
        result = await conn.execute(
            update(recovery_codes)
            .where(recovery_codes.c.id == code_id, recovery_codes.c.used_at.is_(None))
            .values(used_at=self._clock.now())
        )
        return result.rowcount == 1
