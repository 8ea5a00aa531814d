"""Is a session still usable, by id alone? For credentials derived from a session (the
per-session request-signing key) that must stop working when the session ends.

Revocation is answered from the in-memory revocation set (seen at once on every replica);
the session's expiry and last-seen time are read from the database and cached for
``[signing] key_cache_seconds``, so the hot path is a dictionary lookup.
"""

from __future__ import annotations

from types import SimpleNamespace

from sqlalchemy import select

from bastion.errors import InvalidToken
from bastion.infra.schema import sessions
from bastion.sessions._core import SessionCore

__all__ = ["LiveSessions"]

MAX_CACHED = 100_000
_GONE = SimpleNamespace(user_id=None)


class LiveSessions(SessionCore):
    async def live_session_owner(self, session_id: str) -> str:
        """The user id of a live session. Raises :class:`InvalidToken` (reason ``unknown``,
        ``revoked``, ``expired`` or ``idle``) otherwise; fails closed on storage errors."""
        if self.revocations.is_revoked(session_id):
            raise InvalidToken(reason="revoked")
        cached = self._live_rows.get(session_id)  # the cache lookup inline: this is hot
        if cached is not None and cached[0] >= self._clock.monotonic():
            row = cached[1]
        else:
            row = await self._load_row(session_id)
        if row.user_id is None:
            raise InvalidToken(reason="unknown")
        reason = self._alive(row)
        if reason is not None:
            raise InvalidToken(reason=reason)
        return str(row.user_id)

    async def _load_row(self, session_id: str) -> SimpleNamespace:
        c = sessions.c
        query = select(c.user_id, c.expires_at, c.last_seen_at, c.revoked_at).where(
            c.id == session_id
        )
        async with self._db.connect() as conn:
            found = (await conn.execute(query)).first()
        row = _GONE if found is None else SimpleNamespace(**found._asdict())
        if self._live_ttl > 0:
            if len(self._live_rows) >= MAX_CACHED:
                self._live_rows.clear()
            self._live_rows[session_id] = (self._clock.monotonic() + self._live_ttl, row)
        return row
