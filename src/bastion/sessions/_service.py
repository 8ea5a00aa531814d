"""Sessions: creation at login, rotating refresh tokens with reuse detection, listing,
revocation, and the access-token check that ``/v1/verify`` runs.

Refresh tokens are 256-bit values ``HMAC(k_refresh, salt || generation)`` under a master-key
subkey and a per-session random salt; only their SHA-256 is stored. Every refresh moves the
session to the next generation. Presenting an older generation again is reuse: the whole
session is revoked, except for the previous generation within the grace window (concurrent
refreshes by one client), which receives the same successor.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bastion.config import Settings
from bastion.crypto import MasterKey
from bastion.errors import InvalidToken, NotFound
from bastion.infra import Clock, Database, new_id
from bastion.infra._schema import refresh_tokens, revoked_sessions, sessions, users
from bastion.monitor import AuditLog
from bastion.sessions._revocation import Revocations
from bastion.sessions._tokens import AccessClaims, TokenService

__all__ = ["DeviceInfo", "SessionInfo", "SessionService", "TokenPair", "scopes_for_user"]

REFRESH_PURPOSE = "bastion/refresh-token/v1"
REFRESH_PREFIX = "bsr_"


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    user_agent: str | None = None
    platform: str | None = None
    device_id: str | None = None
    ip: str | None = None


@dataclass(frozen=True, slots=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    session_id: str
    token_type: str = "Bearer"  # noqa: S105 - a scheme name, not a secret


@dataclass(frozen=True, slots=True)
class SessionInfo:
    id: str
    created_at: float
    last_seen_at: float
    expires_at: float
    idle_expires_at: float
    user_agent: str | None
    platform: str | None
    device_id: str | None
    first_ip: str | None
    amr: tuple[str, ...]
    current: bool


def scopes_for_user(is_admin: bool) -> tuple[str, ...]:
    """The scopes a user session carries: ``user``, plus ``admin`` for administrators."""
    return ("user", "admin") if is_admin else ("user",)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class SessionService:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        master: MasterKey,
        tokens: TokenService,
        revocations: Revocations,
        audit: AuditLog,
        settings: Settings,
    ) -> None:
        self._db = db
        self._clock = clock
        self._key = master.derive(REFRESH_PURPOSE)
        self._tokens = tokens
        self.revocations = revocations
        self._audit = audit
        self._cfg = settings.sessions
        self._grace = settings.tokens.refresh_reuse_grace_seconds

    def _refresh_token(self, salt: bytes, generation: int) -> str:
        mac = hmac.new(self._key, salt + generation.to_bytes(8, "big"), hashlib.sha256).digest()
        return REFRESH_PREFIX + base64.urlsafe_b64encode(mac).rstrip(b"=").decode()

    def _issue_access(self, row: Any, scopes: tuple[str, ...]) -> tuple[str, int]:
        token, claims = self._tokens.issue(
            subject=row.user_id, session_id=row.id, scopes=scopes, amr=tuple(row.amr.split())
        )
        return token, claims.expires_at - claims.issued_at

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
            "first_ip": device.ip,
            "refresh_salt": salt,
            "refresh_generation": 0,
        }
        await conn.execute(insert(sessions).values(**values))
        refresh = self._refresh_token(salt, 0)
        await conn.execute(
            insert(refresh_tokens).values(
                token_hash=_hash(refresh), session_id=sid, generation=0, issued_at=now
            )
        )
        await self._evict_beyond_limit(conn, user_id)
        row = (await conn.execute(select(sessions).where(sessions.c.id == sid))).one()
        access, expires_in = self._issue_access(row, scopes)
        return TokenPair(access, refresh, expires_in, sid)

    async def _evict_beyond_limit(self, conn: AsyncConnection, user_id: str) -> None:
        query = (
            select(sessions.c.id)
            .where(
                sessions.c.user_id == user_id,
                sessions.c.revoked_at.is_(None),
                sessions.c.expires_at > self._clock.now(),
            )
            .order_by(sessions.c.created_at.desc(), sessions.c.id)
            .offset(self._cfg.max_per_user)
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

    async def _mark_revoked(self, conn: AsyncConnection, ids: list[str], reason: str) -> None:
        now = self._clock.now()
        await conn.execute(
            update(sessions)
            .where(sessions.c.id.in_(ids), sessions.c.revoked_at.is_(None))
            .values(revoked_at=now, revoke_reason=reason)
        )
        await conn.execute(delete(revoked_sessions).where(revoked_sessions.c.session_id.in_(ids)))
        await conn.execute(
            insert(revoked_sessions), [{"session_id": i, "revoked_at": now} for i in ids]
        )
        await self.revocations.revoke(*ids)

    def _alive(self, row: Any) -> str | None:
        """None when the session may be used, else the reason it may not."""
        now = self._clock.now()
        if row.revoked_at is not None:
            return "revoked"
        if now >= row.expires_at:
            return "expired"
        if now - row.last_seen_at > self._cfg.idle_timeout_seconds:
            return "idle"
        return None

    async def refresh(self, refresh_token: str, *, ip: str | None = None) -> TokenPair:
        """Rotate: new refresh token + access token. Raises :class:`InvalidToken` (opaque)."""
        if not refresh_token.startswith(REFRESH_PREFIX) or len(refresh_token) > 100:
            raise InvalidToken
        async with self._db.begin() as conn:
            found = (
                await conn.execute(
                    select(refresh_tokens.c.session_id, refresh_tokens.c.generation).where(
                        refresh_tokens.c.token_hash == _hash(refresh_token)
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
                        token_hash=_hash(token),
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
