"""Account linking and the sensitive data a platform hands over after login.

Linking and unlinking need a fresh sign-in (the session was opened within
``REAUTH_SECONDS``), so a stolen access token alone cannot attach an attacker's platform
account or detach the owner's. A user never loses the last way to sign in.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from bastion.errors import Conflict, Forbidden, NotFound
from bastion.infra.schema import sessions
from bastion.platforms._adapters import PLATFORMS
from bastion.platforms._alipay import verify_phone_response
from bastion.platforms._baidu_data import decrypt_baidu_data
from bastion.platforms._errors import PlatformDataInvalid, PlatformError, PlatformNotConfigured
from bastion.platforms._identities import Identity
from bastion.platforms._service import PlatformLogins
from bastion.platforms._wechat_data import decrypt_douyin_data, decrypt_wechat_data
from bastion.sessions import DeviceInfo

__all__ = ["PlatformAccounts", "ReauthenticationRequired"]

REAUTH_SECONDS = 600


class ReauthenticationRequired(Forbidden):
    type = "reauthentication-required"
    title = "Sign in again"
    default_detail = (
        "This change needs a recent sign-in; sign in again and retry within 10 minutes."
    )


class PlatformAccounts:
    def __init__(self, logins: PlatformLogins) -> None:
        self._l = logins
        self._id = logins.identity

    async def _require_fresh(self, conn: Any, session_id: str) -> None:
        created = (
            await conn.execute(select(sessions.c.created_at).where(sessions.c.id == session_id))
        ).scalar()
        if created is None or self._id.clock.now() - float(created) > REAUTH_SECONDS:
            raise ReauthenticationRequired

    async def identities(self, user_id: str) -> list[Identity]:
        async with self._id.db.connect() as conn:
            return await self._l.store.of_user(conn, user_id)

    async def link(
        self,
        user_id: str,
        session_id: str,
        platform: str,
        credential: dict[str, str],
        *,
        ip: str | None = None,
    ) -> Identity:
        """Attach a verified platform identity to the signed-in user (409: another user's).

        The sign-in must be fresh, checked before the credential is spent at the platform.
        """
        await self._fresh_or_denied(user_id, session_id, "platform.link", platform)
        try:
            verified = await self._l.verify_credential(platform, credential, DeviceInfo(ip=ip))
        except PlatformError as exc:
            await self._deny(user_id, "platform.link", exc.reason, platform)
            raise
        async with self._id.db.begin() as conn:
            found = await self._l.store.find(conn, platform, verified.app_id, verified.subject)
            taken = found is not None and found.user_id != user_id
            if not taken:
                identity = found or await self._l.store.attach(
                    conn, user_id, platform, verified.app_id, verified.subject, verified.unionid
                )
                await self._l.store.touch(conn, identity, session_key=verified.session_key)
                await self._id.audit.record(
                    "platform.link",
                    "success",
                    subject=user_id,
                    conn=conn,
                    details={"platform": platform},
                )
        if taken:
            await self._deny(user_id, "platform.link", "linked_elsewhere", platform)
            raise Conflict("This platform account is already linked to another user.")
        return identity

    async def _fresh_or_denied(
        self, user_id: str, session_id: str, action: str, platform: str
    ) -> None:
        try:
            async with self._id.db.connect() as conn:
                await self._require_fresh(conn, session_id)
        except ReauthenticationRequired:
            await self._deny(user_id, action, "reauthentication_required", platform)
            raise

    async def _deny(self, user_id: str, action: str, reason: str, platform: str) -> None:
        await self._id.audit.record(
            action, "denied", subject=user_id, reason=reason[:120], details={"platform": platform}
        )

    async def unlink(self, user_id: str, session_id: str, platform: str) -> None:
        """Detach the user's identity at ``platform``; refused if it is the last way in."""
        await self._fresh_or_denied(user_id, session_id, "platform.unlink", platform)
        async with self._id.db.begin() as conn:
            mine = [i for i in await self._l.store.of_user(conn, user_id) if i.platform == platform]
            if not mine:
                raise NotFound("No linked account at this platform.")
            last_way_in = await self._l.store.other_ways_in(conn, user_id, mine) == 0
            if not last_way_in:
                for identity in mine:
                    await self._l.store.detach(conn, identity)
                await self._id.audit.record(
                    "platform.unlink",
                    "success",
                    subject=user_id,
                    conn=conn,
                    details={"platform": platform},
                )
        if last_way_in:
            await self._deny(user_id, "platform.unlink", "last_way_in", platform)
            raise Conflict("This is your only way to sign in; link another one first.")

    async def _own_identity(self, conn: Any, user_id: str, platform: str) -> Identity:
        """The user's identity at ``platform`` for the app configured here (a user may hold
        identities of several apps joined by unionid; only this app's session_key fits)."""
        if platform not in PLATFORMS:
            raise PlatformNotConfigured(f"{platform}:unknown")
        app_id = self._l.adapters.app_id(platform)
        for identity in await self._l.store.of_user(conn, user_id):
            if identity.platform == platform and identity.app_id == app_id:
                return identity
        raise NotFound("No linked account at this platform.")

    async def wechat_phone(self, user_id: str, code: str) -> dict[str, Any]:
        """The code-based getPhoneNumber; the number is stored sealed and returned to its owner."""
        async with self._id.db.connect() as conn:
            identity = await self._own_identity(conn, user_id, "wechat")
        await self._l.limit_user(user_id)
        info = await self._l.adapters.wechat.phone_number(code, openid=identity.subject)
        phone = {k: info.get(k) for k in ("phoneNumber", "purePhoneNumber", "countryCode")}
        async with self._id.db.begin() as conn:
            await self._l.store.touch(conn, identity, phone=json.dumps(phone).encode())
            await self._id.audit.record(
                "platform.phone",
                "success",
                subject=user_id,
                conn=conn,
                details={"platform": "wechat"},
            )
        return phone

    async def alipay_phone(self, user_id: str, response_text: str) -> dict[str, Any]:
        """The ``response`` JSON from Alipay's ``my.getPhoneNumber``: its RSA2 signature is
        checked before the AES content is decrypted; the number is stored sealed."""
        cfg = self._id.settings.platforms.alipay
        if cfg.aes_key is None or not self._l.adapters.enabled("alipay"):
            raise PlatformNotConfigured("alipay:phone_not_configured")
        async with self._id.db.connect() as conn:
            identity = await self._own_identity(conn, user_id, "alipay")
        await self._l.limit_user(user_id)
        try:
            data = verify_phone_response(
                response_text, cfg.alipay_public_key, cfg.aes_key.get_secret_value()
            )
        except PlatformDataInvalid as exc:
            await self._deny(user_id, "platform.phone", exc.reason, "alipay")
            raise
        phone = {"mobile": data.get("mobile")}
        async with self._id.db.begin() as conn:
            await self._l.store.touch(conn, identity, phone=json.dumps(phone).encode())
            await self._id.audit.record(
                "platform.phone",
                "success",
                subject=user_id,
                conn=conn,
                details={"platform": "alipay"},
            )
        return phone

    async def wechat_decrypt(self, user_id: str, encrypted_data: str, iv: str) -> dict[str, Any]:
        """:meth:`decrypt` for WeChat."""
        return await self.decrypt(user_id, "wechat", encrypted_data, iv)

    async def decrypt(
        self, user_id: str, platform: str, encrypted_data: str, iv: str
    ) -> dict[str, Any]:
        """Decrypt WeChat, Douyin or Baidu ``encryptedData`` with the stored session_key. The
        watermark app id and age (WeChat, Douyin), the App Key (Baidu) and the openid must match
        the signed-in identity: the decrypted data never chooses who the user is."""
        if platform not in ("wechat", "douyin", "baidu"):
            raise PlatformNotConfigured(f"{platform}:no_encrypted_data")
        await self._l.limit_user(user_id)
        async with self._id.db.connect() as conn:
            identity = await self._own_identity(conn, user_id, platform)
            key = await self._l.store.sealed_field(conn, identity, "session_key")
        if key is None:
            raise PlatformDataInvalid("session_key_missing")
        try:
            data = self._decrypt(platform, key.decode(), encrypted_data, iv, identity.subject)
        except PlatformDataInvalid as exc:
            await self._id.audit.record(
                "platform.decrypt",
                "failure",
                subject=user_id,
                reason=exc.reason,
                details={"platform": platform},
            )
            raise
        data.pop("watermark", None)
        async with self._id.db.begin() as conn:
            await self._l.store.touch(conn, identity, profile=json.dumps(data).encode())
            await self._id.audit.record(
                "platform.decrypt",
                "success",
                subject=user_id,
                conn=conn,
                details={"platform": platform},
            )
        return data

    def _decrypt(
        self, platform: str, key: str, encrypted: str, iv: str, openid: str
    ) -> dict[str, Any]:
        cfg = self._id.settings.platforms
        if platform == "baidu":
            return decrypt_baidu_data(
                session_key_b64=key,
                iv_b64=iv,
                encrypted_b64=encrypted,
                app_key=cfg.baidu.app_key,
                expected_openid=openid,
            )
        decrypt = decrypt_wechat_data if platform == "wechat" else decrypt_douyin_data
        app_id = cfg.wechat.app_id if platform == "wechat" else cfg.douyin.app_id
        max_age = cfg.wechat.watermark_max_age_seconds
        return decrypt(
            session_key_b64=key,
            iv_b64=iv,
            encrypted_b64=encrypted,
            app_id=app_id,
            now=self._id.clock.now(),
            max_age_seconds=max_age,
            expected_openid=openid,
        )
