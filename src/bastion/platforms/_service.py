"""Platform logins: a platform credential in, the same token pair as a password login out.

Guarantees:
- the identity always comes from the server-to-server exchange (WeChat ``code2Session``,
  Alipay ``oauth.token``...) or from a verified Telegram ``initData``, never from data the
  client decrypted or sent;
- a login credential is accepted once (replay guard in hot state, shared by replicas);
- a platform subject belongs to exactly one user (unique constraint); WeChat ``unionid``
  joins a developer's apps into one user;
- platform secrets (``session_key``) are sealed at rest and never returned, logged or put in
  an error;
- every outcome is an audit event; failures create no user and no session.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import httpx

from bastion.config import Settings
from bastion.errors import Conflict, Throttled
from bastion.identity import IdentityService
from bastion.infra import Clock, HotState, random_token
from bastion.monitor import AuditLog
from bastion.platforms._adapters import PLATFORMS, Adapters, Verified
from bastion.platforms._errors import (
    PlatformCredentialInvalid,
    PlatformError,
    PlatformNotConfigured,
)
from bastion.platforms._identities import Identity, IdentityStore
from bastion.sessions import DeviceInfo, SessionService, TokenPair, scopes_for_user

__all__ = ["PlatformLogins"]


@dataclass(frozen=True, slots=True)
class _Quota:
    per_subject_per_minute: int = 100  # WeChat's documented per-user quota (45011)
    per_ip_per_minute: int = 120


class PlatformLogins:
    def __init__(
        self,
        *,
        identity: IdentityService,
        sessions: SessionService,
        audit: AuditLog,
        hot: HotState,
        clock: Clock,
        settings: Settings,
        http: httpx.AsyncClient,
    ) -> None:
        self._identity, self._sessions, self._audit = identity, sessions, audit
        self._hot, self._clock, self._settings = hot, clock, settings
        self._store = IdentityStore(identity.master, clock)
        self._adapters = Adapters(settings.platforms, http, hot, clock)
        self._quota = _Quota()

    @property
    def identity(self) -> IdentityService:
        return self._identity

    @property
    def store(self) -> IdentityStore:
        return self._store

    @property
    def adapters(self) -> Adapters:
        return self._adapters

    async def login(
        self, platform: str, credential: dict[str, str], device: DeviceInfo
    ) -> TokenPair:
        """Verify or exchange the credential, find or create the user, open a session."""
        try:
            verified = await self.verify_credential(platform, credential, device)
            await self._limit(
                f"sub:{platform}:{_digest(verified.subject)}", self._quota.per_subject_per_minute
            )
            try:
                return await self._open_session(platform, verified, device)
            except Conflict:
                # Two first logins of one subject raced; the other one attached it: use it.
                return await self._open_session(platform, verified, device)
        except PlatformError as exc:
            await self._audit.record(
                "platform.login",
                "failure",
                reason=exc.reason[:120],
                ip=device.ip,
                details={"platform": platform},
            )
            raise

    async def verify_credential(
        self, platform: str, credential: dict[str, str], device: DeviceInfo
    ) -> Verified:
        """Verify (or exchange) a credential once. A code goes to the platform at most once;
        signed data (Telegram) is checked first, so a forgery cannot burn the real one."""
        if platform not in PLATFORMS or not self._adapters.enabled(platform):
            raise PlatformNotConfigured(f"{platform}:disabled")
        await self._limit(f"ip:{platform}:{device.ip}", self._quota.per_ip_per_minute)
        once = "platform:once:" + _digest(self._adapters.replay_key(platform, credential))
        ttl = self._adapters.replay_ttl(platform)
        if platform == "telegram":
            verified = await self._adapters.verify(platform, credential)
            if not await self._hot.add_once(once, ttl):
                raise PlatformCredentialInvalid("replayed")
            return verified
        if not await self._hot.add_once(once, ttl):
            raise PlatformCredentialInvalid("replayed")
        return await self._adapters.verify(platform, credential)

    async def limit_user(self, user_id: str) -> None:
        """The per-user budget for platform calls made on a signed-in user's behalf."""
        await self._limit(f"user:{_digest(user_id)}", self._quota.per_subject_per_minute)

    async def _limit(self, key: str, per_minute: int) -> None:
        window = int(self._clock.now() // 60)
        count = await self._hot.incr(f"platform:rate:{key}:{window}", 60)
        if count > per_minute:
            await self._audit.record("platform.login.throttled", "denied", reason=key.split(":")[0])
            raise Throttled(60 - self._clock.now() % 60)

    async def _open_session(
        self, platform: str, verified: Verified, device: DeviceInfo
    ) -> TokenPair:
        db = self._identity.db
        async with db.begin() as conn:
            found = await self._store.find(conn, platform, verified.app_id, verified.subject)
            created = found is None
            identity = found or await self._new_identity(conn, platform, verified)
            user = await self._identity.users.get(identity.user_id, conn)
            if user.locked:
                raise PlatformCredentialInvalid("account_locked")
            await self._store.touch(conn, identity, session_key=verified.session_key)
            pair = await self._sessions.create(
                conn, user.id, amr=(platform,), scopes=scopes_for_user(user.is_admin), device=device
            )
            await self._audit.record(
                "platform.login",
                "success",
                subject=user.id,
                ip=device.ip,
                conn=conn,
                details={"platform": platform, "new_user": created, "session": pair.session_id},
            )
        return pair

    async def _new_identity(self, conn: Any, platform: str, verified: Verified) -> Identity:
        user_id = None
        if verified.unionid:
            user_id = await self._store.user_of_unionid(conn, platform, verified.unionid)
        if user_id is None:
            unusable = "!" + random_token(
                24
            )  # no password: this user signs in through the platform
            user_id = await self._identity.users.create(
                conn, f"{platform}_{random_token(12)}", unusable, email=None, is_admin=False
            )
            await self._audit.record(
                "auth.register",
                "success",
                subject=user_id,
                conn=conn,
                details={"platform": platform},
            )
        return await self._store.attach(
            conn, user_id, platform, verified.app_id, verified.subject, verified.unionid
        )


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:40]
