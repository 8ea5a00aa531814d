"""The :class:`Bastion` facade: every service wired from one :class:`~bastion.config.Settings`.

>>> guard = await Bastion.open(load_settings())      # doctest: +SKIP
>>> await guard.identity.register("alice", "a long and unusual passphrase")   # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import httpx
import structlog
from starlette.types import ASGIApp

from bastion._body import BodyCheck
from bastion._gate import Gate
from bastion._require import Requirement
from bastion.apikeys import ApiKeys
from bastion.config import Settings, load_settings
from bastion.crypto import (
    DataProtection,
    MasterKey,
    Sealing,
    build_data_protection,
    load_or_create_master_key,
)
from bastion.identity import (
    BreachedList,
    IdentityService,
    LoginThrottle,
    MfaService,
    PasswordHashing,
    PasswordPolicy,
    UserAdmin,
    UserStore,
)
from bastion.infra import (
    Clock,
    Database,
    HotState,
    MemoryHotState,
    RedisHotState,
    SystemClock,
    configure_logging,
    migrate,
)
from bastion.monitor import AuditLog, MetricsAccess
from bastion.platforms import PlatformAccounts, PlatformLogins
from bastion.ratelimit import (
    Limiter,
    MemoryRateLimitStore,
    RateLimitStore,
    RedisRateLimitStore,
)
from bastion.sessions import Revocations, SessionService, SigningKeyring, TokenService
from bastion.signing import RequestSignatures
from bastion.vault import SqlVaultStore, Vault, VaultSource

__all__ = ["Bastion"]


def _limiter(settings: Settings, clock: Clock) -> Limiter:
    cfg = settings.ratelimit
    store: RateLimitStore = MemoryRateLimitStore(max_keys=cfg.max_keys)
    if settings.redis_url:
        store = RedisRateLimitStore.from_url(
            settings.redis_url, prefix=settings.redis.prefix + "rl:"
        )
    policies = cfg.policies if cfg.enabled else ()
    return Limiter(
        policies, store, clock, fallback_store=MemoryRateLimitStore(max_keys=cfg.max_keys)
    )


log = structlog.get_logger("bastion")


class Bastion:
    """Owns the database, hot state, keys and services. Open with :meth:`open`, then ``close``."""

    settings: Settings
    clock: Clock
    db: Database
    hot: HotState
    master: MasterKey
    audit: AuditLog
    keyring: SigningKeyring
    tokens: TokenService
    revocations: Revocations
    sessions: SessionService
    hashing: PasswordHashing
    policy: PasswordPolicy
    identity: IdentityService
    mfa: MfaService
    admin: UserAdmin
    http: httpx.AsyncClient
    platforms: PlatformLogins
    platform_accounts: PlatformAccounts
    apikeys: ApiKeys
    limiter: Limiter
    gate: Gate
    body: BodyCheck
    sealing: Sealing
    signatures: RequestSignatures
    crypto: DataProtection
    vault: Vault

    def __init__(
        self,
        settings: Settings,
        clock: Clock,
        db: Database,
        hot: HotState,
        master: MasterKey,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self.settings, self.clock, self.db, self.hot, self.master = settings, clock, db, hot, master
        self.audit = AuditLog(db, master, clock, ip_mode=settings.audit.ip, hot=hot)
        self.keyring = SigningKeyring(db, master, clock, settings.tokens, audit=self.audit)
        self.tokens = TokenService(self.keyring, clock, settings.tokens)
        remember = settings.tokens.access_ttl_seconds + settings.tokens.leeway_seconds + 5
        self.revocations = Revocations(db, hot, clock, remember_seconds=remember)
        self.sessions = SessionService(
            db, clock, master, self.tokens, self.revocations, self.audit, settings
        )
        self.hashing = PasswordHashing(settings.passwords)
        self.policy = PasswordPolicy(settings.passwords, BreachedList.bundled())
        self.identity = IdentityService(
            db=db,
            hot=hot,
            clock=clock,
            master=master,
            audit=self.audit,
            hashing=self.hashing,
            policy=self.policy,
            throttle=LoginThrottle(hot, clock, settings.login),
            sessions=self.sessions,
            users=UserStore(db, master, clock),
            settings=settings,
        )
        self.mfa = MfaService(self.identity, issuer=settings.tokens.issuer)
        self.admin = UserAdmin(self.identity)
        self._owns_http = http is None
        self.http = http or httpx.AsyncClient(follow_redirects=False, trust_env=False)
        self.platforms = PlatformLogins(
            identity=self.identity,
            sessions=self.sessions,
            audit=self.audit,
            hot=hot,
            clock=clock,
            settings=settings,
            http=self.http,
        )
        self.platform_accounts = PlatformAccounts(self.platforms)
        self.apikeys = ApiKeys(db, hot, clock, master, self.audit)
        self.limiter = _limiter(settings, clock)
        metrics_token = settings.server.metrics_token
        self.metrics_access = MetricsAccess(
            None if metrics_token is None else metrics_token.get_secret_value()
        )
        self.gate = Gate(self)
        self.body = BodyCheck(settings)
        self.sealing = Sealing(
            master,
            clock,
            hot,
            self.audit,
            max_body_bytes=settings.sealing.max_body_bytes,
            max_skew_seconds=settings.sealing.max_skew_seconds,
            key_generation=settings.sealing.key_generation,
            keep_previous=settings.sealing.keep_previous,
        )
        self.signatures = RequestSignatures(
            master, hot, clock, self.audit, self.sessions, self.apikeys, settings.signing
        )
        self.crypto = build_data_protection(
            settings, master=master, clock=clock, audit=self.audit, main_db=db, hot=hot
        )
        self.vault = Vault.from_settings(
            SqlVaultStore(db), self.crypto, master, self.audit, clock, settings.vault
        )
        self.crypto.register(VaultSource(self.vault.store))
        self._tasks: list[asyncio.Task[None]] = []

    @classmethod
    async def open(
        cls,
        settings: Settings | None = None,
        *,
        clock: Clock | None = None,
        run_migrations: bool = True,
        background: bool = False,
        http: httpx.AsyncClient | None = None,
    ) -> Bastion:
        """Connect, migrate, load (or create) keys and revocations. ``background`` starts the
        periodic key refresh that a long-running server needs. ``http`` is the client for outbound
        calls to the platforms (tests inject one with an ``httpx.MockTransport``)."""
        settings = settings or load_settings()
        clock = clock or SystemClock()
        if not structlog.is_configured():
            # Library use: make sure the redaction processor runs on every log line.
            configure_logging("INFO", json=False)
        master = load_or_create_master_key(
            settings.data_dir,
            settings.master_key.get_secret_value() if settings.master_key else None,
        )
        db = Database(settings.database_url, pool_size=settings.database.pool_size)
        hot: HotState = (
            RedisHotState(settings.redis_url, prefix=settings.redis.prefix)
            if settings.redis_url
            else MemoryHotState(clock)
        )
        guard = cls(settings, clock, db, hot, master, http)
        try:
            if run_migrations:
                await migrate(db)
            await guard.keyring.load()
            await guard.revocations.start()
            await guard.apikeys.start()
            await guard.crypto.start()
        except BaseException:
            await guard.close()
            raise
        if background:
            jobs: list[tuple[float, Callable[[], Awaitable[Any]]]] = [
                (1.0, guard.revocations.poll),
                (1.0, guard.keyring.reload_if_stale),
                (1.0, guard.apikeys.poll),
                (10.0, guard.apikeys.flush_last_used),
            ]
            for seconds, job in jobs:
                guard._tasks.append(asyncio.create_task(guard._every(seconds, job)))
        return guard

    @staticmethod
    async def _every(seconds: float, job: Callable[[], Awaitable[Any]]) -> None:
        """Run ``job`` periodically; a failing run is logged and retried next time."""
        while True:
            await asyncio.sleep(seconds)
            try:
                await job()
            except Exception:
                log.warning("background.job.failed", job=getattr(job, "__qualname__", "job"))

    def require(self, scopes: Iterable[str] = ()) -> Requirement:
        """A FastAPI dependency: ``Depends(guard.require(scopes=["orders:read"]))`` gives the
        route the caller's :class:`~bastion._principal.Principal` (access token or API key);
        401 without a valid credential, 403 ``missing-scope`` naming what is missing."""
        return Requirement(self, scopes)

    def protect(self, app: ASGIApp) -> ASGIApp:
        """Put ``app`` (any ASGI app) behind this Bastion's ``[[routes]]`` policy: secure
        headers, CORS, limits, credentials, scopes, rate limits, inspection and rich-text
        cleaning (``docs/routes.md``). The caller keeps this Bastion open while it serves."""
        from bastion.http import protect

        return protect(app, guard=self)

    async def readiness(self) -> dict[str, Any]:
        """Check each backing store; raises StorageUnavailable on the first one down."""
        await self.db.check()
        await self.hot.check()
        await self.limiter.check_stores()
        return {"database": "ok", "hot_state": "redis" if self.settings.redis_url else "memory"}

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        with contextlib.suppress(Exception):
            await self.apikeys.flush_last_used()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.hashing.close()
        await self.limiter.close()
        if self._owns_http:
            await self.http.aclose()
        await self.crypto.close()
        await self.hot.close()
        await self.db.close()
