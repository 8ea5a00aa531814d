"""Platform-login fixtures: one recording fake of every platform server, and a whole Bastion
with all five platforms enabled whose outbound HTTP goes to that fake.

:class:`FakePlatforms` is one ``httpx.MockTransport`` handler for WeChat (``jscode2session``,
``stable_token``, ``getuserphonenumber``), Douyin (``jscode2session``), Baidu
(``jscode2sessionkey``) and the Alipay gateway (``alipay.system.oauth.token``). Each request is
checked against the documented shape (platforms.md 1.1, 1.6, 1.7, 3.1-3.3, 4) with a plain
``assert`` (a wrong request fails the test), recorded, and answered with the documented
response shape. Codes are single use, as at the platforms: a second use answers "invalid code".
Failures are injected per test with ``fake.fail_next = 40029`` (or ``fake.fail(-1, -1)``).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import itertools
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from bastion.crypto.platform import rsa2_sign, rsa2_verify
from bastion.infra import ManualClock
from tests.conftest import REDIS_URL, _postgres, make_settings, postgres_url, require_service

WECHAT_APP = "wx4f4bc4dec97d474b"
WECHAT_SECRET = "wechat-app-secret-never-logged-01"
DOUYIN_APP = "tt00000000test0001"
DOUYIN_SECRET = "douyin-app-secret-never-logged-01"
BAIDU_APP = "12345678"
BAIDU_KEY = "baidu-app-key-for-platform-tests0"
BAIDU_SECRET = "baidu-app-secret-never-logged-001"
ALIPAY_APP = "2021000000000001"
BOT_ID = "7000000001"
BOT_TOKEN = BOT_ID + ":AAFakeBotTokenForPlatformTests-0123456"
WX_BASE = "https://wx.fake.test"
TT_BASE = "https://tt.fake.test"
BD_BASE = "https://bd.fake.test"
GATEWAY = "https://openapi.alipay.fake.test/gateway.do"
CODE_PLATFORMS = ("wechat", "douyin", "baidu", "alipay")
ALL_PLATFORMS = ("wechat", "telegram", "alipay", "douyin", "baidu")
SESSION_KEY = "c2Vzc2lvbi1rZXktdGVzdA=="  # base64 of 16 bytes, like WeChat's
BAIDU_SESSION_KEY = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3"  # base64 of 24 bytes

_ALIPAY_FIELDS = {"app_id", "method", "format", "charset", "sign_type", "timestamp", "version"}
_ALIPAY_FIELDS |= {"grant_type", "code", "sign"}
_ALIPAY_NODE = "alipay_system_oauth_token_response"
_counter = itertools.count(1)


def fresh(prefix: str) -> str:
    """A unique code or identifier for one test step (``prefix`` plus a counter)."""
    return f"{prefix}{next(_counter):06d}x{uuid.uuid4().hex[:12]}"


# -- keys --------------------------------------------------------------------------------


@dataclass(frozen=True)
class AlipayKeys:
    """The app's RSA2 key pair and the pair standing in for Alipay's (both 2048-bit)."""

    app_private_pem: str
    app_public: Any
    alipay_private: Any
    alipay_public_pem: str


def _private_pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def _public_pem(key: rsa.RSAPrivateKey) -> str:
    public = key.public_key()
    return public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


@pytest.fixture(scope="session")
def alipay_keys() -> AlipayKeys:
    app = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    alipay = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return AlipayKeys(_private_pem(app), app.public_key(), alipay, _public_pem(alipay))


# -- Telegram ----------------------------------------------------------------------------


def telegram_init_data(
    *,
    user_id: int,
    auth_date: int,
    bot_token: str = BOT_TOKEN,
    first_name: str = "Test",
    extra: dict[str, str] | None = None,
) -> str:
    """First-party ``initData`` signed per platforms.md 2.2, built independently of src."""
    fields = {
        "auth_date": str(auth_date),
        "query_id": fresh("AAH"),
        "user": json.dumps({"id": user_id, "first_name": first_name}, separators=(",", ":")),
        **(extra or {}),
    }
    check = "\n".join(f"{k}={fields[k]}" for k in sorted(fields))
    secret = hmac.new(b"WebAppData", bot_token.encode(), hashlib.sha256).digest()
    fields["hash"] = hmac.new(secret, check.encode(), hashlib.sha256).hexdigest()
    return urlencode(fields, quote_via=quote)


# -- the fake ----------------------------------------------------------------------------


Failure = int | str | Exception | httpx.Response


@dataclass
class FakePlatforms:
    """Recording fake of the five platforms' server APIs (see the module docstring).

    ``wechat_codes`` / ``douyin_codes`` / ``baidu_codes`` map a login code to
    ``{"openid", "session_key", "unionid"?}``; ``alipay_codes`` map an auth code to
    ``{"user_id"}`` or ``{"open_id"}``; ``phone_codes`` map a getPhoneNumber code to
    ``{"phoneNumber", "purePhoneNumber", "countryCode"}`` (optionally ``"openid"``: the user
    the code belongs to). ``fail_next`` makes the next call answer a failure: an int/str
    platform error code in that platform's documented shape, ``"timeout"``, ``"not_json"``,
    ``"oversized"``, an exception to raise or a ready ``httpx.Response``.
    """

    alipay: AlipayKeys
    wechat_codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    douyin_codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    baidu_codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    alipay_codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    phone_codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    delay: float = 0.0
    tokens_issued: list[str] = field(default_factory=list)
    watermark_time: int = 1_750_000_000
    baidu_app_key: str = BAIDU_KEY

    # -- configuration helpers --

    @property
    def fail_next(self) -> Failure | None:
        return self.failures[0] if self.failures else None

    @fail_next.setter
    def fail_next(self, value: Failure) -> None:
        self.failures = [value]

    def fail(self, *values: Failure) -> None:
        """Queue several failures: one per upcoming call."""
        self.failures.extend(values)

    def count(self, api: str) -> int:
        return sum(1 for name, _ in self.calls if name == api)

    def sent(self, api: str) -> list[dict[str, Any]]:
        return [request for name, request in self.calls if name == api]

    # -- dispatch --

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        if self.delay:
            await asyncio.sleep(self.delay)
        host, path = request.url.host, request.url.path
        routes: dict[tuple[str, str], Callable[[httpx.Request], httpx.Response]] = {
            ("wx.fake.test", "/sns/jscode2session"): self._wechat_login,
            ("wx.fake.test", "/cgi-bin/stable_token"): self._wechat_token,
            ("wx.fake.test", "/wxa/business/getuserphonenumber"): self._wechat_phone,
            ("tt.fake.test", "/api/apps/v2/jscode2session"): self._douyin_login,
            ("bd.fake.test", "/oauth/jscode2sessionkey"): self._baidu_login,
            ("openapi.alipay.fake.test", "/gateway.do"): self._alipay_gateway,
        }
        handler = routes.get((host, path))
        assert handler is not None, f"unexpected call to {host}{path}"
        assert request.headers.get("accept-encoding") == "identity"
        return handler(request)

    def _injected(self, answer: Callable[[Failure], httpx.Response]) -> httpx.Response:
        failure = self.failures.pop(0)
        if isinstance(failure, Exception):
            raise failure
        if isinstance(failure, httpx.Response):
            return failure
        if failure == "timeout":
            raise httpx.ReadTimeout("fake timeout")
        if failure == "not_json":
            return httpx.Response(200, text="<html>busy</html>")
        if failure == "oversized":
            return httpx.Response(200, json={"errcode": 0, "pad": "x" * (70 * 1024)})
        return answer(failure)

    # -- WeChat (1.1, 1.6, 1.7) --

    def _wechat_login(self, request: httpx.Request) -> httpx.Response:
        assert request.method == "GET"
        params = dict(request.url.params)
        assert set(params) == {"appid", "secret", "js_code", "grant_type"}, params
        assert params["grant_type"] == "authorization_code"
        assert params["secret"] == WECHAT_SECRET and params["appid"]
        self.calls.append(("wechat.login", params))
        if self.failures:
            return self._injected(_wechat_error)
        subject = self.wechat_codes.pop(params["js_code"], None)  # single use
        if subject is None:
            return _wechat_error(40029)
        return httpx.Response(200, json={k: v for k, v in subject.items() if v is not None})

    def _wechat_token(self, request: httpx.Request) -> httpx.Response:
        assert request.method == "POST"
        assert request.url.query == b"", "the secret must not travel in the URL"
        body = json.loads(request.content)
        assert body == {
            "grant_type": "client_credential",
            "appid": WECHAT_APP,
            "secret": WECHAT_SECRET,
            "force_refresh": False,
        }
        self.calls.append(("wechat.token", body))
        if self.failures:
            return self._injected(_wechat_error)
        token = f"ACCESS_TOKEN_{len(self.tokens_issued) + 1}_" + "a" * 40
        self.tokens_issued.append(token)
        return httpx.Response(200, json={"access_token": token, "expires_in": 7200})

    def _wechat_phone(self, request: httpx.Request) -> httpx.Response:
        assert request.method == "POST"
        assert set(request.url.params) == {"access_token"}
        assert request.url.params["access_token"] in self.tokens_issued
        body = json.loads(request.content)
        assert set(body) <= {"code", "openid"} and body.get("code")
        self.calls.append(("wechat.phone", body))
        if self.failures:
            return self._injected(_wechat_error)
        info = self.phone_codes.pop(body["code"], None)
        owner = None if info is None else info.get("openid")
        if info is None or (owner is not None and body.get("openid") not in (None, owner)):
            return _wechat_error(40029)
        phone = {k: v for k, v in info.items() if k != "openid"}
        phone["watermark"] = {"timestamp": self.watermark_time, "appid": WECHAT_APP}
        return httpx.Response(200, json={"errcode": 0, "errmsg": "ok", "phone_info": phone})

    # -- Douyin and Baidu (4) --

    def _douyin_login(self, request: httpx.Request) -> httpx.Response:
        assert request.method == "POST"
        assert request.headers["content-type"] == "application/json"
        body = json.loads(request.content)
        assert set(body) - {"anonymous_code"} == {"appid", "secret", "code"}, body
        assert (body["appid"], body["secret"]) == (DOUYIN_APP, DOUYIN_SECRET)
        self.calls.append(("douyin.login", body))
        if self.failures:
            return self._injected(_douyin_error)
        subject = self.douyin_codes.pop(body["code"], None)
        if subject is None:
            return _douyin_error(40018)
        data = {"anonymous_openid": "anon-" + subject["openid"], **subject}
        return httpx.Response(
            200, json={"err_no": 0, "err_tips": "success", "log_id": "1", "data": data}
        )

    def _baidu_login(self, request: httpx.Request) -> httpx.Response:
        assert request.method == "POST"
        assert request.headers["content-type"] == "application/x-www-form-urlencoded"
        form = dict(parse_qsl(request.content.decode("ascii"), strict_parsing=True))
        assert set(form) == {"code", "client_id", "sk"}, form
        assert (form["client_id"], form["sk"]) == (self.baidu_app_key, BAIDU_SECRET)
        self.calls.append(("baidu.login", form))
        if self.failures:
            return self._injected(_baidu_error)
        subject = self.baidu_codes.pop(form["code"], None)
        if subject is None:
            return _baidu_error("invalid_grant")
        return httpx.Response(200, json={k: v for k, v in subject.items() if k != "unionid"})

    # -- Alipay (3.1-3.3) --

    def _alipay_gateway(self, request: httpx.Request) -> httpx.Response:
        assert request.method == "POST"
        assert request.headers["content-type"] == "application/x-www-form-urlencoded"
        pairs = parse_qsl(request.content.decode("ascii"), strict_parsing=True)
        form = dict(pairs)
        assert len(form) == len(pairs) and set(form) == _ALIPAY_FIELDS, form
        assert form["app_id"] == ALIPAY_APP and form["sign_type"] == "RSA2"
        assert (form["method"], form["grant_type"]) == (
            "alipay.system.oauth.token",
            "authorization_code",
        )
        content = "&".join(f"{k}={form[k]}" for k in sorted(form) if k != "sign")
        signature = base64.b64decode(form["sign"], validate=True)
        assert rsa2_verify(self.alipay.app_public, signature, content.encode()), "bad request sign"
        self.calls.append(("alipay.login", form))
        if self.failures:
            return self._injected(self._alipay_error)
        subject = self.alipay_codes.pop(form["code"], None)
        if subject is None:
            return self._alipay_error("isv.code-invalid")
        node = {"code": "10000", "msg": "Success", **subject}
        node |= {"access_token": fresh("authusrB"), "expires_in": 1296000}
        node |= {"refresh_token": fresh("authusrB"), "re_expires_in": 2592000}
        return self._alipay_signed(_ALIPAY_NODE, node)

    def _alipay_error(self, failure: Failure) -> httpx.Response:
        code = "40002" if str(failure).startswith("isv.") else "20000"
        node = {"code": code, "msg": "Invalid Arguments", "sub_code": str(failure)}
        node["sub_msg"] = "refused"
        return self._alipay_signed("error_response", node)

    def _alipay_signed(self, node_key: str, node: dict[str, Any]) -> httpx.Response:
        text = json.dumps(node, ensure_ascii=False, separators=(",", ":"))
        sign = base64.b64encode(rsa2_sign(self.alipay.alipay_private, text.encode())).decode()
        body = f'{{"{node_key}":{text},"sign":"{sign}"}}'
        return httpx.Response(200, content=body.encode(), headers={"Content-Type": "text/html"})

    # -- codes for tests --

    def wechat_code(
        self, openid: str | None = None, session_key: str = SESSION_KEY, unionid: str | None = None
    ) -> str:
        code = fresh("081wx")
        subject = {"openid": openid or fresh("o-wx-"), "session_key": session_key}
        self.wechat_codes[code] = subject | ({"unionid": unionid} if unionid else {})
        return code

    def douyin_code(self, openid: str | None = None, session_key: str = SESSION_KEY) -> str:
        code = fresh("tt")
        self.douyin_codes[code] = {"openid": openid or fresh("o-tt-"), "session_key": session_key}
        return code

    def baidu_code(self, openid: str | None = None, session_key: str = BAIDU_SESSION_KEY) -> str:
        code = fresh("bd")
        self.baidu_codes[code] = {"openid": openid or fresh("o-bd-"), "session_key": session_key}
        return code

    def alipay_code(self, user_id: str | None = None) -> str:
        code = fresh("ac")
        self.alipay_codes[code] = {"user_id": user_id or f"2088{next(_counter):012d}"}
        return code


def _wechat_error(errcode: Failure) -> httpx.Response:
    return httpx.Response(200, json={"errcode": errcode, "errmsg": "fake error, rid: 1"})


def _douyin_error(err_no: Failure) -> httpx.Response:
    return httpx.Response(200, json={"err_no": err_no, "err_tips": "fake error", "log_id": "1"})


def _baidu_error(error: Failure) -> httpx.Response:
    body = {"errno": 40001, "error": str(error), "error_description": "fake error"}
    return httpx.Response(400, json=body)


def credential(
    fake: FakePlatforms, platform: str, subject: str | None, now: float
) -> dict[str, str]:
    """A fresh valid login credential for ``subject`` (None: a new subject) at ``platform``."""
    if platform == "wechat":
        return {"code": fake.wechat_code(subject)}
    if platform == "douyin":
        return {"code": fake.douyin_code(subject)}
    if platform == "baidu":
        return {"code": fake.baidu_code(subject)}
    if platform == "alipay":
        return {"auth_code": fake.alipay_code(subject)}
    user_id = int(subject) if subject else int(fresh("")[:6]) + 100_000
    return {"init_data": telegram_init_data(user_id=user_id, auth_date=int(now) - 5)}


# -- settings and guards -----------------------------------------------------------------


def platform_settings(tmp_path: Path, keys: AlipayKeys, **overrides: Any) -> Any:
    """Settings with all five platforms enabled (test credentials, fake base URLs).

    Keyword arguments named after a platform update that platform's section; any other
    keyword is a top-level settings override (``database=...``, ``redis=...``).
    """
    platforms: dict[str, dict[str, Any]] = {
        "wechat": {"app_id": WECHAT_APP, "app_secret": WECHAT_SECRET, "base_url": WX_BASE},
        "telegram": {"bot_token": BOT_TOKEN},
        "alipay": {
            "app_id": ALIPAY_APP,
            "app_private_key": keys.app_private_pem,
            "alipay_public_key": keys.alipay_public_pem,
            "gateway_url": GATEWAY,
        },
        "douyin": {"app_id": DOUYIN_APP, "app_secret": DOUYIN_SECRET, "base_url": TT_BASE},
        "baidu": {
            "app_id": BAIDU_APP,
            "app_key": BAIDU_KEY,
            "app_secret": BAIDU_SECRET,
            "base_url": BD_BASE,
        },
    }
    for name, section in platforms.items():
        section.update({"enabled": True, "timeout_seconds": 2.0}, **overrides.pop(name, {}))
    return make_settings(tmp_path, platforms=platforms, **overrides)


GuardFactory = Callable[..., Awaitable[Any]]


@pytest.fixture
def fake(alipay_keys: AlipayKeys) -> FakePlatforms:
    return FakePlatforms(alipay_keys)


@pytest.fixture
async def open_platform_guard(
    tmp_path: Path, clock: ManualClock, fake: FakePlatforms, alipay_keys: AlipayKeys
) -> AsyncIterator[GuardFactory]:
    """``await open_platform_guard(clock=..., wechat={...}, database=...)``: another Bastion on
    the fake (by default on the same SQLite file as ``platform_guard``); closed at teardown."""
    from bastion import Bastion

    opened: list[tuple[Any, httpx.AsyncClient]] = []

    async def open_one(*, clock: ManualClock = clock, **overrides: Any) -> Any:
        http = httpx.AsyncClient(transport=httpx.MockTransport(fake))
        settings = platform_settings(tmp_path, alipay_keys, **overrides)
        guard = await Bastion.open(settings, clock=clock, http=http)
        opened.append((guard, http))
        return guard

    yield open_one
    for guard, http in reversed(opened):
        await guard.close()
        await http.aclose()


@pytest.fixture
async def platform_guard(open_platform_guard: GuardFactory) -> Any:
    """A Bastion with every platform enabled, SQLite + memory hot state, on the ManualClock."""
    return await open_platform_guard()


@pytest.fixture(params=["sqlite-memory", "postgres-redis"])
async def any_platform_guard(
    request: pytest.FixtureRequest, open_platform_guard: GuardFactory
) -> Any:
    """The same, and again on the real PostgreSQL and Redis servers."""
    if request.param == "sqlite-memory":
        return await open_platform_guard()
    require_service("Redis", REDIS_URL, 6379)
    db = await _postgres()
    await db.close()
    return await open_platform_guard(
        database={"url": await postgres_url()},
        redis={"url": REDIS_URL, "prefix": f"t{uuid.uuid4().hex[:12]}:"},
    )
