"""Which sessions are revoked, answered from process memory on every verify.

A revoked session id is remembered for as long as an access token naming it could still be
valid (access-token lifetime + leeway); after that its tokens have expired anyway. The set is
loaded from the database at start, and every revocation is published on the hot-state channel
``revocations`` so that, with Redis, every replica learns it within a second. A replica that
lost its subscription reloads from the database when it reconnects. As a safety net (and for
revocations made by another process on the embedded SQLite default, such as ``bastion users
lock``), :meth:`Revocations.poll` picks up new rows from the database; the service runs it
every second.
"""

from __future__ import annotations

import structlog
from sqlalchemy import select

from bastion.errors import StorageUnavailable
from bastion.infra import Clock, Database, HotState
from bastion.infra.schema import revoked_sessions

__all__ = ["Revocations"]

CHANNEL = "revocations"
log = structlog.get_logger("bastion.sessions")


class Revocations:
    def __init__(
        self, db: Database, hot: HotState, clock: Clock, *, remember_seconds: float
    ) -> None:
        self._db = db
        self._hot = hot
        self._clock = clock
        self._remember = remember_seconds
        self._revoked: dict[str, float] = {}
        self._watermark = 0.0

    def __len__(self) -> int:
        return len(self._revoked)

    def is_revoked(self, session_id: str) -> bool:
        """O(1), no I/O: the hot path of ``/v1/verify``."""
        deadline = self._revoked.get(session_id)
        if deadline is None:
            return False
        if deadline < self._clock.monotonic():
            self._revoked.pop(session_id, None)
            return False
        return True

    def _remember_local(self, session_id: str) -> None:
        self._revoked[session_id] = self._clock.monotonic() + self._remember
        if len(self._revoked) > 10_000 and len(self._revoked) % 1000 == 0:
            now = self._clock.monotonic()
            for sid in [s for s, d in self._revoked.items() if d < now]:
                del self._revoked[sid]

    async def start(self) -> None:
        await self.reload()
        await self._hot.subscribe(CHANNEL, self._on_message)

    async def reload(self) -> None:
        await self._load_since(self._clock.now() - self._remember)

    async def poll(self) -> None:
        """Load revocations newer than the last ones seen (with slack for clock skew)."""
        await self._load_since(max(self._watermark - 5.0, self._clock.now() - self._remember))

    async def _load_since(self, since: float) -> None:
        query = select(revoked_sessions.c.session_id, revoked_sessions.c.revoked_at).where(
            revoked_sessions.c.revoked_at >= since
        )
        async with self._db.connect() as conn:
            rows = (await conn.execute(query)).all()
        mono, now = self._clock.monotonic(), self._clock.now()
        for row in rows:
            revoked_at = float(row.revoked_at)
            self._watermark = max(self._watermark, revoked_at)
            self._revoked[row.session_id] = mono + self._remember - (now - revoked_at)

    async def _on_message(self, message: str) -> None:
        if message == "*resync":
            await self.reload()
        elif message:
            self._remember_local(message)

    async def revoke(self, *session_ids: str) -> None:
        """Record locally at once, then tell every other replica."""
        for sid in session_ids:
            self._remember_local(sid)
        try:
            for sid in session_ids:
                await self._hot.publish(CHANNEL, sid)
        except StorageUnavailable:
            # The database row is what counts; other replicas pick it up by polling.
            log.warning("revocations.publish_failed", count=len(session_ids))
