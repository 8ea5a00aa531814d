"""API keys: create, list, show, rotate with an overlap window, revoke. Verification, the
verified-key cache and revocation messages live in ``_verify.py``.

Guarantees: the secret is shown once and never stored (only HMAC-SHA256 under a pepper derived
from the master key) nor logged; scopes are required (no implicit "all"); every create, rotate
and revoke is audited in the same transaction as the change; a revocation or rotation evicts the
key from every replica's cache through the hot-state channel.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from bastion.apikeys._format import generate_key, parse_key
from bastion.apikeys._rules import MAX_OVERLAP_SECONDS, check_new_key
from bastion.apikeys._types import ApiKeyInfo
from bastion.apikeys._verify import KeyVerification
from bastion.errors import Conflict, InvalidInput, NotFound, StorageUnavailable
from bastion.infra import new_id
from bastion.infra.schema import users

__all__ = ["ApiKeys"]

DEFAULT_OVERLAP_SECONDS = 86400.0


def _owner_problem() -> InvalidInput:
    return InvalidInput(
        "Invalid field(s): owner_user_id (no such user).",
        errors=[{"field": "owner_user_id", "code": "unknown_user", "message": "no such user"}],
    )


def _details(info: ApiKeyInfo, **more: object) -> dict[str, object]:
    details: dict[str, object] = {"key": info.id, "env": info.env, **more}
    if info.owner_service is not None:
        details["service"] = info.owner_service
    return details


def _successor(old: ApiKeyInfo) -> dict[str, object]:
    """The column values of the key that replaces ``old`` (everything but id, hash, times)."""
    return {
        "env": old.env,
        "name": old.name,
        "description": old.description,
        "scopes": " ".join(old.scopes),
        "owner_user_id": old.owner_user_id,
        "owner_service": old.owner_service,
        "rate": old.rate,
        "ip_allow": " ".join(old.ip_allow) or None,
        "expires_at": old.expires_at,
        "rotated_from": old.id,
    }


class ApiKeys(KeyVerification):
    """Every API key operation: ``ApiKeys(db, hot, clock, master, audit)``; call :meth:`start`
    once, then :meth:`poll` and :meth:`flush_last_used` periodically."""

    async def create(
        self,
        name: str,
        scopes: Iterable[str],
        *,
        owner_user_id: str | None = None,
        owner_service: str | None = None,
        env: str = "live",
        expires_in: float | None = None,
        rate: str | None = None,
        ip_allow: Iterable[str] = (),
        description: str = "",
        actor: str | None = None,
    ) -> tuple[str, ApiKeyInfo]:
        """A new key: the full key (shown once; only its HMAC is stored) and its description.

        Raises :class:`InvalidInput` naming every bad field (missing scopes, not exactly one
        owner, unknown owner user, bad env, rate, CIDR, expiry or description)."""
        values = check_new_key(
            name,
            scopes,
            owner_user_id=owner_user_id,
            owner_service=owner_service,
            env=env,
            expires_in=expires_in,
            rate=rate,
            ip_allow=ip_allow,
            description=description,
        )
        values["expires_at"] = None if expires_in is None else self._clock.now() + expires_in
        async with self._db.begin() as conn:
            owner = values.get("owner_user_id")
            if owner is not None and not await self._user_exists(conn, str(owner)):
                raise _owner_problem()
            return await self._insert(conn, values, action="apikey.create", actor=actor)

    async def _insert(
        self,
        conn: AsyncConnection,
        values: dict[str, object],
        *,
        action: str,
        actor: str | None,
        **more: object,
    ) -> tuple[str, ApiKeyInfo]:
        """Insert a key with a fresh id and secret and audit it, in the caller's transaction."""
        key_id = new_id()
        full = generate_key(str(values["env"]), key_id)
        body = parse_key(full).unverified_body
        values.update(id=key_id, key_hash=self._hash(body).hex(), created_at=self._clock.now())
        await self._store.insert(conn, values)
        stored = await self._store.get(key_id, conn)
        if stored is None:  # cannot happen: inserted just above, in this transaction
            raise StorageUnavailable("the new API key was not stored")
        info = stored.info
        await self._audit.record(
            action,
            "success",
            actor=actor,
            subject=info.owner_user_id,
            details=_details(info, **more),
            conn=conn,
        )
        return full, info

    @staticmethod
    async def _user_exists(conn: AsyncConnection, user_id: str) -> bool:
        query = select(users.c.id).where(users.c.id == user_id)
        return (await conn.execute(query)).first() is not None

    async def list(
        self,
        *,
        owner_user_id: str | None = None,
        owner_service: str | None = None,
        include_revoked: bool = False,
    ) -> list[ApiKeyInfo]:
        """Keys of one owner (or all with neither), newest first; never a secret or hash."""
        found = await self._store.list_keys(
            owner_user_id=owner_user_id,
            owner_service=owner_service,
            include_revoked=include_revoked,
        )
        return [self._fresh(i) for i in found]

    async def show(self, key_id: str) -> ApiKeyInfo:
        """One key's description; raises :class:`NotFound`."""
        stored = await self._store.get(key_id)
        if stored is None:
            raise NotFound()
        return self._fresh(stored.info)

    def _fresh(self, info: ApiKeyInfo) -> ApiKeyInfo:
        last = self._last_used(info.id, info.last_used_at)
        return info if last == info.last_used_at else dataclasses.replace(info, last_used_at=last)

    async def rotate(
        self,
        key_id: str,
        *,
        overlap_seconds: float = DEFAULT_OVERLAP_SECONDS,
        actor: str | None = None,
    ) -> str:
        """Issue a successor (same name, scopes, owner, limits and expiry) and return its full
        key; the old key keeps working for ``overlap_seconds`` (0 to 30 days), then stops.

        Raises :class:`NotFound`, :class:`Conflict` (already rotated, revoked or expired) or
        :class:`InvalidInput` (bad overlap)."""
        if not 0 <= overlap_seconds <= MAX_OVERLAP_SECONDS:
            raise InvalidInput("Invalid field(s): overlap_seconds (0 to 30 days).")
        old = await self.show(key_id)
        now = self._clock.now()
        if old.revoked_at is not None or old.overlap_until is not None:
            raise Conflict("The key is revoked or already rotated.")
        if old.expires_at is not None and old.expires_at <= now:
            raise Conflict("The key has expired.")
        async with self._db.begin() as conn:
            if not await self._store.claim_rotation(conn, key_id, now + overlap_seconds):
                raise Conflict("The key is revoked or already rotated.")
            full, _ = await self._insert(
                conn,
                _successor(old),
                action="apikey.rotate",
                actor=actor,
                previous=old.id,
                overlap=overlap_seconds,
            )
        await self._announce(key_id)
        return full

    async def revoke(self, key_id: str, *, actor: str | None = None) -> None:
        """Revoke a key on every replica within a second (idempotent: revoking a revoked key
        does nothing). A successor issued by :meth:`rotate` is not revoked with it.

        Raises :class:`NotFound`."""
        async with self._db.begin() as conn:
            stored = await self._store.get(key_id, conn)
            if stored is None:
                raise NotFound()
            if stored.info.revoked_at is not None:
                return
            await self._store.set_fields(conn, key_id, revoked_at=self._clock.now())
            await self._audit.record(
                "apikey.revoke",
                "success",
                actor=actor,
                subject=stored.info.owner_user_id,
                details=_details(stored.info),
                conn=conn,
            )
        await self._announce(key_id)
