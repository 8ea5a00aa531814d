"""Refresh-token rotation with reuse detection.

Every refresh moves the session to the next generation. Presenting an older generation again
is reuse: the whole session is revoked, except for the previous generation within the grace
window (concurrent refreshes by one client), which receives the same successor.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bastion.errors import InvalidToken
from bastion.infra.schema import refresh_tokens, sessions, users
from bastion.sessions._core import REFRESH_PREFIX, SessionCore, token_hash
from bastion.sessions._types import TokenPair, scopes_for_user

__all__ = ["RefreshRotation"]


class RefreshRotation(SessionCore):
    async def refresh(self, refresh_token: str, *, ip: str | None = None) -> TokenPair:
        """Rotate: new refresh token + access token. Raises :class:`InvalidToken` (opaque)."""
        if not refresh_token.startswith(REFRESH_PREFIX) or len(refresh_token) > 100:
            raise InvalidToken
        async with self._db.begin() as conn:
            found = (
                await conn.execute(
                    select(refresh_tokens.c.session_id, refresh_tokens.c.generation).where(
                        refresh_tokens.c.token_hash == token_hash(refresh_token)
                    )
                )
            ).first()
            if found is None:
                await self._audit.record(
                    "auth.refresh", "failure", reason="unknown_token", ip=ip, conn=conn
                )
                raise InvalidToken
            row = (
                await conn.execute(select(sessions).where(sessions.c.id == found.session_id))
            ).one()
            pair = await self._rotate_or_detect(conn, row, found.generation, ip)
        if pair is None:
            raise InvalidToken
        return pair

    async def _rotate_or_detect(
        self, conn: AsyncConnection, row: Any, generation: int, ip: str | None
    ) -> TokenPair | None:
        owner = (
            await conn.execute(
                select(users.c.is_admin, users.c.locked).where(users.c.id == row.user_id)
            )
        ).first()
        reason = self._alive(row) or ("locked" if owner is None or owner.locked else None)
        if reason is not None:
            await self._audit.record(
                "auth.refresh", "failure", subject=row.user_id, reason=reason, ip=ip, conn=conn
            )
            return None
        assert owner is not None
        scopes = scopes_for_user(bool(owner.is_admin))
        now, current = self._clock.now(), int(row.refresh_generation)
        if generation == current:
            bumped = await conn.execute(
                update(sessions)
                .where(sessions.c.id == row.id, sessions.c.refresh_generation == current)
                .values(refresh_generation=current + 1, refresh_rotated_at=now, last_seen_at=now)
            )
            if bumped.rowcount == 1:
                token = self._refresh_token(row.refresh_salt, current + 1)
                await conn.execute(
                    insert(refresh_tokens).values(
                        token_hash=token_hash(token),
                        session_id=row.id,
                        generation=current + 1,
                        issued_at=now,
                    )
                )
                await self._audit.record(
                    "auth.refresh", "success", subject=row.user_id, ip=ip, conn=conn
                )
                access, expires_in = self._issue_access(row, scopes)
                return TokenPair(access, token, expires_in, row.id)
            row = (await conn.execute(select(sessions).where(sessions.c.id == row.id))).one()
            current = int(row.refresh_generation)
        rotated_at = row.refresh_rotated_at or 0.0
        if generation == current - 1 and now - rotated_at <= self._grace:
            await self._audit.record(
                "auth.refresh",
                "success",
                subject=row.user_id,
                reason="grace_replay",
                ip=ip,
                conn=conn,
            )
            access, expires_in = self._issue_access(row, scopes)
            return TokenPair(
                access, self._refresh_token(row.refresh_salt, current), expires_in, row.id
            )
        await self._mark_revoked(conn, [row.id], "refresh_reuse")
        await self._audit.record(
            "auth.refresh.reuse_detected",
            "denied",
            subject=row.user_id,
            reason="refresh_token_reuse",
            ip=ip,
            details={"session": row.id},
            conn=conn,
        )
        return None
