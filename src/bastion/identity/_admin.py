"""Operator actions on accounts: list, lock, unlock, delete. Each is audited, and locking or
deleting an account revokes all of its sessions at once (every replica, through revocations)."""

from __future__ import annotations

from bastion.identity._service import IdentityService, account_key
from bastion.identity._users import User

__all__ = ["UserAdmin"]


class UserAdmin:
    def __init__(self, identity: IdentityService) -> None:
        self._id = identity

    async def list(self, *, limit: int = 100, offset: int = 0) -> list[User]:
        return await self._id.users.page(limit=limit, offset=offset)

    async def find(self, username_or_id: str) -> User:
        """By username, else by id; raises :class:`~bastion.errors.NotFound`."""
        user = await self._id.users.by_username(username_or_id)
        return user if user is not None else await self._id.users.get(username_or_id)

    async def lock(self, username_or_id: str, *, actor: str = "admin") -> User:
        user = await self.find(username_or_id)
        async with self._id.db.begin() as conn:
            await self._id.users.update(conn, user.id, locked=True)
            await self._id.sessions.revoke_all(user.id, reason="account_locked", conn=conn)
            await self._id.audit.record(
                "admin.user.lock", "success", actor=actor, subject=user.id, conn=conn
            )
        return user

    async def unlock(self, username_or_id: str, *, actor: str = "admin") -> User:
        """Clear an admin lock and the failure counters (also lifts the 100-failure step-up)."""
        user = await self.find(username_or_id)
        async with self._id.db.begin() as conn:
            await self._id.users.update(conn, user.id, locked=False, failed_logins=0)
            await self._id.audit.record(
                "admin.user.unlock", "success", actor=actor, subject=user.id, conn=conn
            )
        await self._id.throttle.reset(account_key(user.username))
        return user

    async def delete(self, username_or_id: str, *, actor: str = "admin") -> User:
        user = await self.find(username_or_id)
        async with self._id.db.begin() as conn:
            await self._id.sessions.revoke_all(user.id, reason="account_deleted", conn=conn)
            await self._id.users.delete(conn, user.id)
            await self._id.audit.record(
                "admin.user.delete", "success", actor=actor, subject=user.id, conn=conn
            )
        return user
