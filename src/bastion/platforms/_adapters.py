"""One adapter per platform: what its login credential is, how it is verified, and what a
replay of it looks like. The protocol details live in the per-platform modules."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import httpx

from bastion.config import PlatformsSettings
from bastion.infra import Clock, HotState
from bastion.platforms._alipay_client import AlipayClient
from bastion.platforms._bytedance_baidu_clients import BaiduClient, DouyinClient
from bastion.platforms._errors import PlatformCredentialInvalid, PlatformNotConfigured
from bastion.platforms._telegram import (
    parse_init_data,
    validate_init_data,
    validate_init_data_third_party,
)
from bastion.platforms._wechat_client import WeChatClient

__all__ = ["PLATFORMS", "Adapters", "Verified"]

PLATFORMS = ("wechat", "telegram", "alipay", "douyin", "baidu")
CODE_TTL_SECONDS = 600  # codes live 5 minutes at the platforms; remember them twice as long


@dataclass(frozen=True, slots=True)
class Verified:
    """A platform identity proven by the platform (or by a verified signature)."""

    app_id: str
    subject: str
    unionid: str | None = None
    session_key: bytes | None = None

    def __repr__(self) -> str:
        return f"Verified(app_id={self.app_id!r})"


def _field(credential: Mapping[str, str], name: str) -> str:
    value = credential.get(name)
    if not isinstance(value, str) or not value:
        raise PlatformCredentialInvalid("malformed")
    return value


class Adapters:
    def __init__(
        self, settings: PlatformsSettings, http: httpx.AsyncClient, hot: HotState, clock: Clock
    ) -> None:
        self._s, self._clock = settings, clock
        self.wechat = WeChatClient(settings.wechat, http, hot, clock)
        self.douyin = DouyinClient(settings.douyin, http, clock)
        self.baidu = BaiduClient(settings.baidu, http, clock)
        self.alipay = AlipayClient(settings.alipay, http, clock)

    def enabled(self, platform: str) -> bool:
        s = self._s
        ready = {
            "wechat": s.wechat.enabled
            and bool(s.wechat.app_id)
            and s.wechat.app_secret is not None,
            "telegram": s.telegram.enabled
            and (s.telegram.bot_token is not None or s.telegram.app_id.isdigit()),
            "alipay": s.alipay.enabled
            and bool(s.alipay.app_id)
            and s.alipay.app_private_key is not None,
            "douyin": s.douyin.enabled
            and bool(s.douyin.app_id)
            and s.douyin.app_secret is not None,
            "baidu": s.baidu.enabled and bool(s.baidu.app_key) and s.baidu.app_secret is not None,
        }
        return ready.get(platform, False)

    def app_id(self, platform: str) -> str:
        """The app id identities of ``platform`` are stored under, on this server."""
        s = self._s
        return {
            "wechat": s.wechat.app_id,
            "douyin": s.douyin.app_id,
            "baidu": s.baidu.app_id or s.baidu.app_key,
            "alipay": s.alipay.app_id,
            "telegram": self.telegram_bot_id(),
        }[platform]

    def replay_key(self, platform: str, credential: Mapping[str, str]) -> str:
        """What identifies one use of the credential."""
        if platform == "telegram":
            # The signature (third party) covers everything but hash; hash (first party)
            # covers everything but signature: key on the field the check will authenticate.
            fields = parse_init_data(_field(credential, "init_data"))
            third_party = self._s.telegram.bot_token is None
            field = fields.get("signature") if third_party else fields.get("hash")
            return "telegram:" + (field or _field(credential, "init_data"))
        name = "auth_code" if platform == "alipay" else "code"
        return f"{platform}:{_field(credential, name)}"

    def replay_ttl(self, platform: str) -> int:
        if platform == "telegram":
            return self._s.telegram.max_age_seconds + 60
        return CODE_TTL_SECONDS

    async def verify(self, platform: str, credential: Mapping[str, str]) -> Verified:
        if platform == "wechat":
            ws = await self.wechat.code2session(_field(credential, "code"))
            return Verified(self._s.wechat.app_id, ws.openid, ws.unionid, _key(ws.session_key))
        if platform == "douyin":
            ds = await self.douyin.code2session(
                _field(credential, "code"), credential.get("anonymous_code") or None
            )
            return Verified(self._s.douyin.app_id, ds.openid, ds.unionid, _key(ds.session_key))
        if platform == "baidu":
            bs = await self.baidu.code2session(_field(credential, "code"))
            return Verified(self.app_id("baidu"), bs.openid, bs.unionid, _key(bs.session_key))
        if platform == "alipay":
            token = await self.alipay.oauth_token(_field(credential, "auth_code"))
            return Verified(self._s.alipay.app_id, token.subject)
        if platform == "telegram":
            return self._telegram(_field(credential, "init_data"))
        raise PlatformNotConfigured(f"{platform}:unknown")

    def _telegram(self, init_data: str) -> Verified:
        tg = self._s.telegram
        now = self._clock.now()
        if tg.bot_token is not None:
            data = validate_init_data(
                init_data,
                bot_token=tg.bot_token.get_secret_value(),
                now=now,
                max_age_seconds=tg.max_age_seconds,
            )
        else:
            data = validate_init_data_third_party(
                init_data,
                bot_id=int(tg.app_id),
                now=now,
                max_age_seconds=tg.max_age_seconds,
                test_environment=tg.test_environment,
            )
        return Verified(self.telegram_bot_id(), str(data.user_id))

    def telegram_bot_id(self) -> str:
        """The bot the identities belong to: the configured id, else the token's prefix."""
        tg = self._s.telegram
        if tg.app_id:
            return tg.app_id
        token = tg.bot_token.get_secret_value() if tg.bot_token else ""
        return token.split(":", 1)[0] or "bot"


def _key(session_key: str | None) -> bytes | None:
    return session_key.encode() if session_key else None
