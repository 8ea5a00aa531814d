"""Sessions: creation at login, listing, revocation, and the access-token check that
``/v1/verify`` runs. Refresh rotation lives in ``_refresh.py``; shared plumbing in ``_core.py``.
"""

from __future__ import annotations

import os
from types import SimpleNamespace
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bastion.errors import InvalidToken, NotFound
from bastion.infra import new_id
from bastion.infra.schema import refresh_tokens, sessions
from bastion.monitor import mask_ip
from bastion.sessions._core import token_hash
from bastion.sessions._live import LiveSessions
from bastion.sessions._refresh import RefreshRotation
from bastion.sessions._tokens import AccessClaims
from bastion.sessions._types import DeviceInfo, SessionInfo, TokenPair

__all__ = ["SessionService"]


class SessionService(RefreshRotation, LiveSessions):
    """Every session operation; construct with the database, clock, master key, token
    service, revocations, audit log and settings."""

    async def create(
        self,
        conn: AsyncConnection,
        user_id: str,
        *,
        amr: tuple[str, ...],
        scopes: tuple[str, ...],
        device: DeviceInfo,
    ) -> TokenPair:
        """Open a new session (a fresh id at every login) inside the caller's transaction."""
        now, sid, salt = self._clock.now(), new_id(), os.urandom(32)
        values = {
            "id": sid,
            "user_id": user_id,
            "created_at": now,
            "last_seen_at": now,
            "expires_at": now + self._cfg.absolute_lifetime_seconds,
            "amr": " ".join(amr),
            "user_agent": (device.user_agent or "")[:512] or None,
            "platform": device.platform,
            "device_id": device.device_id,
            "first_ip": mask_ip(device.ip, self._ip_mode),  # kept like audit IPs
            "refresh_salt": salt,
            "refresh_generation": 0,
        }
        await conn.execute(insert(sessions).values(**values))
        refresh = self._refresh_token(salt, 0)
        await conn.execute(
            insert(refresh_tokens).values(
                token_hash=token_hash(refresh), session_id=sid, generation=0, issued_at=now
            )
        )
        await self._evict_beyond_limit(conn, user_id, keep=sid)
        access, expires_in = self._issue_access(SimpleNamespace(**values), scopes)
        return TokenPair(access, refresh, expires_in, sid)

    async def _evict_beyond_limit(self, conn: AsyncConnection, user_id: str, *, keep: str) -> None:
        """Revoke the oldest live sessions beyond ``max_per_user``; never the new one."""
        query = (
            select(sessions.c.id)
            .where(
                sessions.c.user_id == user_id,
                sessions.c.revoked_at.is_(None),
                sessions.c.expires_at > self._clock.now(),
                sessions.c.id != keep,
            )
            .order_by(sessions.c.created_at.desc(), sessions.c.id)
            .offset(self._cfg.max_per_user - 1)
        )
        evicted = [r.id for r in (await conn.execute(query)).all()]
        if evicted:
            await self._mark_revoked(conn, evicted, "evicted")
            await self._audit.record(
                "session.evict",
                "success",
                subject=user_id,
                reason="max_per_user",
                details={"count": len(evicted)},
                conn=conn,
            )

    async def verify_access(self, token: str) -> AccessClaims:
        """Verify an access token and that its session is not revoked (fails closed)."""
        claims = self._tokens.verify_cached(token)
        if claims is None:
            claims = await self._tokens.verify(token)
        if self.revocations.is_revoked(claims.session_id):
            raise InvalidToken(reason="revoked")
        return claims

    def verify_access_cached(self, token: str) -> AccessClaims | None:
        """The no-await fast path: claims on a warm cache hit for a live session, else None."""
        claims = self._tokens.verify_cached(token)
        if claims is None or self.revocations.is_revoked(claims.session_id):
            return None
        return claims

    async def list(self, user_id: str, *, current: str | None = None) -> list[SessionInfo]:
        now = self._clock.now()
        query = (
            select(sessions)
            .where(
                sessions.c.user_id == user_id,
                sessions.c.revoked_at.is_(None),
                sessions.c.expires_at > now,
                sessions.c.last_seen_at > now - self._cfg.idle_timeout_seconds,
            )
            .order_by(sessions.c.created_at.desc())
        )
        async with self._db.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [self._info(r, current) for r in rows]

    def _info(self, r: Any, current: str | None) -> SessionInfo:
        return SessionInfo(
            id=r.id,
            created_at=r.created_at,
            last_seen_at=r.last_seen_at,
            expires_at=r.expires_at,
            idle_expires_at=min(r.expires_at, r.last_seen_at + self._cfg.idle_timeout_seconds),
            user_agent=r.user_agent,
            platform=r.platform,
            device_id=r.device_id,
            first_ip=r.first_ip,
            amr=tuple(r.amr.split()),
            current=r.id == current,
        )

    async def revoke(self, user_id: str, session_id: str, *, reason: str = "user") -> None:
        """Revoke one of the user's own sessions; another user's id is :class:`NotFound`."""
        async with self._db.begin() as conn:
            row = (
                await conn.execute(
                    select(sessions.c.id).where(
                        sessions.c.id == session_id,
                        sessions.c.user_id == user_id,
                        sessions.c.revoked_at.is_(None),
                    )
                )
            ).first()
            if row is None:
                await self._audit.record(
                    "session.revoke", "failure", actor=user_id, reason="not_found", conn=conn
                )
                raise NotFound("No such session.")
            await self._mark_revoked(conn, [session_id], reason)
            await self._audit.record(
                "session.revoke",
                "success",
                actor=user_id,
                subject=user_id,
                reason=reason,
                details={"session": session_id},
                conn=conn,
            )

    async def revoke_all(
        self,
        user_id: str,
        *,
        except_session: str | None = None,
        reason: str = "user",
        conn: AsyncConnection | None = None,
    ) -> int:
        """Revoke every live session of a user (optionally keeping one). Returns how many."""
        if conn is None:
            async with self._db.begin() as own:
                return await self.revoke_all(
                    user_id, except_session=except_session, reason=reason, conn=own
                )
        query = select(sessions.c.id).where(
            sessions.c.user_id == user_id, sessions.c.revoked_at.is_(None)
        )
        ids = [r.id for r in (await conn.execute(query)).all() if r.id != except_session]
        if ids:
            await self._mark_revoked(conn, ids, reason)
        await self._audit.record(
            "session.revoke_all",
            "success",
            subject=user_id,
            reason=reason,
            details={"count": len(ids)},
            conn=conn,
        )
        return len(ids)
