"""What the session flows share: construction, token derivation, liveness, revocation.

Refresh tokens are 256-bit values ``HMAC(k_refresh, salt || generation)`` under a master-key
subkey and a per-session random salt; only their SHA-256 is stored.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

from sqlalchemy import delete, insert, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bastion.config import Settings
from bastion.crypto import MasterKey
from bastion.infra import Clock, Database
from bastion.infra.schema import revoked_sessions, sessions
from bastion.monitor import AuditLog
from bastion.sessions._revocation import Revocations
from bastion.sessions._tokens import TokenService

__all__ = ["REFRESH_PREFIX", "SessionCore", "token_hash"]

REFRESH_PURPOSE = "bastion/refresh-token/v1"
REFRESH_PREFIX = "bsr_"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class SessionCore:
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
        self._ip_mode = settings.audit.ip
        self._live_ttl = settings.signing.key_cache_seconds
        self._live_rows: dict[str, tuple[float, Any]] = {}

    def _refresh_token(self, salt: bytes, generation: int) -> str:
        mac = hmac.new(self._key, salt + generation.to_bytes(8, "big"), hashlib.sha256).digest()
        return REFRESH_PREFIX + base64.urlsafe_b64encode(mac).rstrip(b"=").decode()

    def _issue_access(self, row: Any, scopes: tuple[str, ...]) -> tuple[str, int]:
        token, claims = self._tokens.issue(
            subject=row.user_id,
            session_id=row.id,
            scopes=scopes,
            amr=tuple(row.amr.split()),
            not_after=row.expires_at,
        )
        return token, claims.expires_at - claims.issued_at

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
