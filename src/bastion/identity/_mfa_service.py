"""TOTP enrolment and the second step of an MFA login.

TOTP secrets are sealed with the master key (bound to the user id); the last accepted time
step is kept per user and advanced with a conditional update, so a code is accepted once even
under concurrent requests. Recovery codes are stored as keyed hashes and used at most once.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import update

from bastion.errors import Conflict, InvalidInput
from bastion.identity._mfa import (
    InvalidCode,
    hash_recovery_code,
    match_recovery_code,
    new_recovery_codes,
    new_totp_secret,
    provisioning_uri,
    verify_totp,
)
from bastion.identity._service import IdentityService
from bastion.infra.schema import users
from bastion.sessions import TokenPair

__all__ = ["MfaService", "TotpEnrolment"]

TOTP_PURPOSE = "bastion/totp-secret/v1"
RECOVERY_PURPOSE = "bastion/recovery-code/v1"


@dataclass(frozen=True, slots=True)
class TotpEnrolment:
    secret: str
    provisioning_uri: str


class MfaService:
    def __init__(self, identity: IdentityService, *, issuer: str = "Bastion") -> None:
        self._id = identity
        self._issuer = issuer
        self._recovery_key = identity.master.derive(RECOVERY_PURPOSE)

    async def enroll_totp(self, user_id: str) -> TotpEnrolment:
        """Start enrolment: a new secret, pending until :meth:`confirm_totp` proves it works."""
        user = await self._id.users.get(user_id)
        if user.mfa_enabled:
            raise Conflict("A second factor is already enabled for this account.")
        secret = new_totp_secret()
        sealed = self._id.master.seal(secret.encode(), purpose=TOTP_PURPOSE, context=user_id)
        async with self._id.db.begin() as conn:
            await self._id.users.update(conn, user_id, totp_pending_sealed=sealed)
            await self._id.audit.record(
                "auth.mfa.enroll", "success", subject=user_id, reason="started", conn=conn
            )
        return TotpEnrolment(
            secret, provisioning_uri(secret, account=user.username, issuer=self._issuer)
        )

    async def confirm_totp(self, user_id: str, code: str) -> list[str]:
        """Activate the pending secret with a valid code; returns ten recovery codes, shown once."""
        user = await self._id.users.get(user_id)
        if user.totp_pending_sealed is None:
            raise InvalidInput("Start enrolment first: POST /v1/auth/mfa/totp/enroll.")
        secret = self._id.master.open(
            user.totp_pending_sealed, purpose=TOTP_PURPOSE, context=user_id
        ).decode()
        try:
            step = verify_totp(secret, code, now=self._id.clock.now(), last_step=0)
        except InvalidCode:
            await self._id.audit.record(
                "auth.mfa.enroll", "failure", subject=user_id, reason="bad_code"
            )
            raise
        codes = new_recovery_codes(10)
        async with self._id.db.begin() as conn:
            await self._id.users.update(
                conn,
                user_id,
                totp_secret_sealed=user.totp_pending_sealed,
                totp_pending_sealed=None,
                totp_last_step=step,
                mfa_enabled=True,
            )
            hashes = [hash_recovery_code(c, self._recovery_key) for c in codes]
            await self._id.users.replace_recovery_codes(conn, user_id, hashes)
            await self._id.audit.record(
                "auth.mfa.enroll", "success", subject=user_id, reason="confirmed", conn=conn
            )
        return codes

    async def verify_totp(self, mfa_token: str, code: str, *, ip: str | None = None) -> TokenPair:
        """Second login step with a TOTP code; the code is accepted once (replay guard)."""
        user, device, key = await self._id.pending_challenge(mfa_token, ip)
        if user.totp_secret_sealed is None:
            raise InvalidCode
        secret = self._id.master.open(
            user.totp_secret_sealed, purpose=TOTP_PURPOSE, context=user.id
        ).decode()
        try:
            step = verify_totp(
                secret, code, now=self._id.clock.now(), last_step=user.totp_last_step
            )
            async with self._id.db.begin() as conn:
                moved = await conn.execute(
                    update(users)
                    .where(users.c.id == user.id, users.c.totp_last_step < step)
                    .values(totp_last_step=step)
                )
                if moved.rowcount != 1:
                    raise InvalidCode
        except InvalidCode:
            await self._id.record_second_factor_failure(user, device, "bad_totp")
            raise
        await self._id.audit.record(
            "auth.mfa.verify", "success", subject=user.id, reason="totp", ip=ip
        )
        return await self._id.finish_challenge(key, user, device, ("pwd", "otp"))

    async def verify_recovery(
        self, mfa_token: str, recovery_code: str, *, ip: str | None = None
    ) -> TokenPair:
        """Second login step with a single-use recovery code."""
        user, device, key = await self._id.pending_challenge(mfa_token, ip)
        async with self._id.db.begin() as conn:
            unused = await self._id.users.unused_recovery_codes(conn, user.id)
            try:
                index = match_recovery_code(
                    recovery_code, [h for _, h in unused], self._recovery_key
                )
            except InvalidCode:
                index = None
            used = index is not None and await self._id.users.use_recovery_code(
                conn, unused[index][0]
            )
        if not used:
            await self._id.record_second_factor_failure(user, device, "bad_recovery_code")
            raise InvalidCode
        await self._id.audit.record(
            "auth.mfa.verify",
            "success",
            subject=user.id,
            reason="recovery_code",
            ip=ip,
            details={"remaining": len(unused) - 1},
        )
        return await self._id.finish_challenge(key, user, device, ("pwd", "rec"))
