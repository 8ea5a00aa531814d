"""Registration and login: the flows that turn a password (and a second factor) into a session.

Guarantees:
- no user enumeration: an unknown user, a wrong password and a locked account give the same
  :class:`AuthenticationFailed` after the same work (one Argon2id verify, against a decoy hash
  for unknown users); registration of a taken username answers exactly like a new one;
- throttling happens before any hashing, keyed so that it reveals nothing either;
- every decision appends an audit event, in the same transaction as the change it made.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from bastion.config import Settings
from bastion.crypto import MasterKey
from bastion.errors import AuthenticationFailed, StepUpRequired, Throttled, WeakPassword
from bastion.identity._hashers import PasswordHashing
from bastion.identity._policy import PasswordPolicy
from bastion.identity._throttle import LoginThrottle
from bastion.identity._users import User, UserStore, canonical_username, validate_username
from bastion.infra import Clock, Database, HotState, new_id, random_token
from bastion.monitor import AuditLog
from bastion.sessions import DeviceInfo, SessionService, TokenPair, scopes_for_user

__all__ = ["IdentityService", "MfaChallenge", "Registered"]

MFA_PREFIX = "mfa:"


@dataclass(frozen=True, slots=True)
class Registered:
    user_id: str
    password_strength: dict[str, Any]


@dataclass(frozen=True, slots=True)
class MfaChallenge:
    mfa_token: str
    expires_in: int


def account_key(username: str) -> str:
    """The throttle key of a username; exists whether or not the account does."""
    return hashlib.sha256(b"acct\x00" + canonical_username(username).encode()).hexdigest()[:32]


class IdentityService:
    def __init__(
        self,
        *,
        db: Database,
        hot: HotState,
        clock: Clock,
        master: MasterKey,
        audit: AuditLog,
        hashing: PasswordHashing,
        policy: PasswordPolicy,
        throttle: LoginThrottle,
        sessions: SessionService,
        users: UserStore,
        settings: Settings,
    ) -> None:
        self.db, self.hot, self.clock, self.master = db, hot, clock, master
        self.audit, self.hashing, self.policy, self.throttle = audit, hashing, policy, throttle
        self.sessions, self.users, self.settings = sessions, users, settings

    # -- registration ------------------------------------------------------------------------

    async def register(
        self,
        username: str,
        password: str,
        *,
        email: str | None = None,
        ip: str | None = None,
        is_admin: bool = False,
        reveal_taken: bool = False,
    ) -> Registered:
        """Create a user. A taken username returns a look-alike result (see docs/identity.md)
        unless ``reveal_taken`` (operator tools) asks for :class:`~bastion.errors.Conflict`.

        Raises :class:`WeakPassword` listing every policy violation.
        """
        validate_username(username)
        identifiers = [username, *self.settings.passwords.context_words]
        identifiers += [email, email.split("@")[0]] if email else []
        try:
            self.policy.validate(password, identifiers=identifiers)
        except WeakPassword as exc:
            codes = ",".join(sorted({e["code"] for e in exc.extra.get("errors", [])}))
            await self.audit.record(
                "auth.register", "failure", reason="weak_password", ip=ip, details={"codes": codes}
            )
            raise
        strength = dict(await asyncio.to_thread(self.policy.strength, password, identifiers))
        password_hash = await self.hashing.hash(password)
        async with self.db.begin() as conn:
            if await self.users.exists(conn, username):
                await self.audit.record(
                    "auth.register", "denied", reason="username_taken", ip=ip, conn=conn
                )
                if reveal_taken:
                    from bastion.errors import Conflict

                    raise Conflict("That username is taken.")
                return Registered(new_id(), strength)
            user_id = await self.users.create(
                conn, username, password_hash, email=email, is_admin=is_admin
            )
            await self.audit.record(
                "auth.register",
                "success",
                subject=user_id,
                ip=ip,
                details={"admin": True} if is_admin else None,
                conn=conn,
            )
        return Registered(user_id, strength)

    # -- login --------------------------------------------------------------------------------

    async def login(
        self, username: str, password: str, device: DeviceInfo
    ) -> TokenPair | MfaChallenge:
        """Check a password; return tokens, or a challenge for a user with a second factor.

        Raises :class:`Throttled` (before hashing), :class:`AuthenticationFailed` (unknown user,
        wrong password, locked: indistinguishable) or :class:`StepUpRequired`.
        """
        account = account_key(username)
        user = await self.users.by_username(username)
        # The same queries run for unknown users, so the timing does not tell them apart.
        trusted = (
            await self.users.is_trusted_device(user.id if user else "-", device.device_id)
            and user is not None
        )
        device_key = (
            UserStore.device_hash(user.id, device.device_id or "") if user and trusted else None
        )
        await self._check_throttle(account, device, device_key, user)
        if user is None:
            await self.hashing.verify_decoy(password)
            await self._fail(account, device, device_key, None, "unknown_user")
        assert user is not None
        result = await self.hashing.verify(password, user.password_hash)
        limit = self.settings.login.hard_failure_limit
        step_up = user.failed_logins >= limit and not trusted and not user.mfa_enabled
        if not result.ok or user.locked:
            reason = "locked" if result.ok else "bad_password"
            await self._fail(account, device, device_key, user, reason, step_up=step_up)
        if step_up:
            # Answered alike for right and wrong passwords, so it confirms no guess.
            await self.audit.record(
                "auth.login", "denied", subject=user.id, reason="step_up_required", ip=device.ip
            )
            raise StepUpRequired
        if result.needs_rehash:
            await self._rehash(user, password)
        if user.mfa_enabled:
            return await self._challenge(user, device)
        return await self._complete(user, device, account, device_key, ("pwd",))

    async def _check_throttle(
        self, account: str, device: DeviceInfo, device_key: str | None, user: User | None
    ) -> None:
        try:
            await self.throttle.check(account=account, ip=device.ip, device=device_key)
        except Throttled as exc:
            await self.audit.record(
                "auth.login.throttled",
                "denied",
                subject=user.id if user else None,
                reason=getattr(exc, "scope", "throttled"),
                ip=device.ip,
            )
            raise

    async def _fail(
        self,
        account: str,
        device: DeviceInfo,
        device_key: str | None,
        user: User | None,
        reason: str,
        *,
        step_up: bool = False,
        action: str = "auth.login",
    ) -> None:
        await self.throttle.record_failure(account=account, ip=device.ip, device=device_key)
        async with self.db.begin() as conn:
            await self.users.add_failure(conn, user.id if user else "-")  # no row for unknown users
            await self.audit.record(
                action,
                "failure",
                subject=user.id if user else None,
                reason=reason,
                ip=device.ip,
                conn=conn,
            )
        if step_up:
            raise StepUpRequired
        raise AuthenticationFailed

    async def record_second_factor_failure(
        self, user: User, device: DeviceInfo, reason: str
    ) -> None:
        """A wrong TOTP or recovery code counts like a wrong password (throttle + counter)."""
        device_key = UserStore.device_hash(user.id, device.device_id) if device.device_id else None
        trusted = await self.users.is_trusted_device(user.id, device.device_id)
        with contextlib.suppress(AuthenticationFailed):
            await self._fail(
                account_key(user.username),
                device,
                device_key if trusted else None,
                user,
                reason,
                action="auth.mfa.verify",
            )

    async def _rehash(self, user: User, password: str) -> None:
        new_hash = await self.hashing.hash(password)
        async with self.db.begin() as conn:
            await self.users.update(conn, user.id, password_hash=new_hash)
            await self.audit.record("auth.password.rehash", "success", subject=user.id, conn=conn)

    async def _complete(
        self,
        user: User,
        device: DeviceInfo,
        account: str,
        device_key: str | None,
        amr: tuple[str, ...],
    ) -> TokenPair:
        async with self.db.begin() as conn:
            if user.failed_logins:
                await self.users.update(conn, user.id, failed_logins=0)
            if device.device_id:
                await self.users.trust_device(conn, user.id, device.device_id)
            pair = await self.sessions.create(
                conn, user.id, amr=amr, scopes=scopes_for_user(user.is_admin), device=device
            )
            await self.audit.record(
                "auth.login",
                "success",
                subject=user.id,
                ip=device.ip,
                details={"amr": " ".join(amr), "session": pair.session_id},
                conn=conn,
            )
        await self.throttle.record_success(account=account, device=device_key)
        return pair

    async def _challenge(self, user: User, device: DeviceInfo) -> MfaChallenge:
        token, ttl = random_token(32), self.settings.login.mfa_challenge_ttl_seconds
        state = {
            "user_id": user.id,
            "ua": device.user_agent,
            "platform": device.platform,
            "device_id": device.device_id,
            "ip": device.ip,
        }
        await self.hot.put(MFA_PREFIX + _digest(token), json.dumps(state).encode(), ttl)
        await self.audit.record("auth.mfa.challenge", "success", subject=user.id, ip=device.ip)
        return MfaChallenge(token, ttl)

    async def pending_challenge(
        self, mfa_token: str, ip: str | None
    ) -> tuple[User, DeviceInfo, str]:
        """The user and device behind an MFA challenge; five wrong codes end the challenge."""
        from bastion.errors import InvalidToken

        key = MFA_PREFIX + _digest(mfa_token)
        raw = await self.hot.get(key)
        attempts = await self.hot.incr(key + ":n", self.settings.login.mfa_challenge_ttl_seconds)
        if raw is None or attempts > 5:
            await self.hot.delete(key)
            await self.audit.record("auth.mfa.verify", "failure", reason="challenge_invalid", ip=ip)
            raise InvalidToken
        state = json.loads(raw)
        user = await self.users.get(state["user_id"])
        device = DeviceInfo(state["ua"], state["platform"], state["device_id"], state["ip"])
        trusted = await self.users.is_trusted_device(user.id, device.device_id)
        device_key = UserStore.device_hash(user.id, device.device_id or "") if trusted else None
        await self._check_throttle(account_key(user.username), device, device_key, user)
        return user, device, key

    async def finish_challenge(
        self, key: str, user: User, device: DeviceInfo, amr: tuple[str, ...]
    ) -> TokenPair:
        if await self.hot.take(key) is None:
            from bastion.errors import InvalidToken

            raise InvalidToken
        account = account_key(user.username)
        device_key = UserStore.device_hash(user.id, device.device_id) if device.device_id else None
        return await self._complete(user, device, account, device_key, amr)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
