"""WeChatClient against a recording fake of WeChat's documented API shapes (platforms.md
1.1, 1.6, 1.7), plus the bounded HTTP helper it runs on."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr
from structlog.testing import capture_logs

from bastion.config import WeChatSettings
from bastion.infra import HotState, ManualClock, MemoryHotState
from bastion.platforms._errors import (
    PlatformBadResponse,
    PlatformCredentialInvalid,
    PlatformDataInvalid,
    PlatformError,
    PlatformNotConfigured,
    PlatformRateLimited,
    PlatformUnavailable,
    PlatformUserBlocked,
)
from bastion.platforms._http import MAX_RESPONSE_BYTES, PlatformSession
from bastion.platforms._wechat_client import WeChatClient

APPID = "wx00000000test0001"
SECRET = "app-secret-never-logged-0123456789"
SESSION_KEY = "c2Vzc2lvbi1rZXktdGVzdA=="
CODE = "081login0code0for0tests00000000"
PHONE_CODE = "phone0code0for0tests0000000000"
TOKEN = "ACCESS_TOKEN_first_" + "a" * 40
TOKEN2 = "ACCESS_TOKEN_second_" + "b" * 40
LOGIN = "/sns/jscode2session"
STABLE = "/cgi-bin/stable_token"
PHONE = "/wxa/business/getuserphonenumber"
OK_LOGIN = {"openid": "o-user-1", "session_key": SESSION_KEY, "unionid": "u-user-1"}
OK_TOKEN = {"access_token": TOKEN, "expires_in": 7200}
PHONE_INFO: dict[str, Any] = {"phoneNumber": "+1 555 0100", "purePhoneNumber": "5550100"}
PHONE_INFO |= {"countryCode": "1", "watermark": {"timestamp": 1_750_000_000, "appid": APPID}}
OK_PHONE = {"errcode": 0, "errmsg": "ok", "phone_info": PHONE_INFO}

Answer = httpx.Response | Exception | dict[str, Any] | list[Any]


class Fake:
    """Records every request; answers per path from a queue whose last entry repeats."""

    def __init__(self, routes: dict[str, list[Answer]]) -> None:
        self.routes = {path: list(answers) for path, answers in routes.items()}
        self.requests: list[httpx.Request] = []
        self.gate: asyncio.Event | None = None
        self.entered = asyncio.Event()

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        self.entered.set()
        if self.gate is not None:
            await self.gate.wait()
        queue = self.routes[request.url.path]
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(answer, Exception):
            raise answer
        if isinstance(answer, httpx.Response):
            return answer
        return httpx.Response(200, json=answer)

    def count(self, path: str) -> int:
        return sum(1 for r in self.requests if r.url.path == path)


def _settings(**overrides: Any) -> WeChatSettings:
    base = {"enabled": True, "app_id": APPID, "app_secret": SecretStr(SECRET)}
    return WeChatSettings(**(base | {"base_url": "https://wx.example"} | overrides))


Build = Callable[..., WeChatClient]


@pytest.fixture
async def build(clock: ManualClock, hot: MemoryHotState) -> AsyncIterator[Build]:
    clients: list[httpx.AsyncClient] = []

    def _build(fake: Fake, state: HotState | None = None, **kw: Any) -> WeChatClient:
        http = httpx.AsyncClient(transport=httpx.MockTransport(fake))
        clients.append(http)
        options: dict[str, Any] = {"retry_backoff": 0.0, "token_poll_interval": 0.001}
        options.update(kw)
        cfg = options.pop("cfg", _settings())
        return WeChatClient(cfg, http, state if state is not None else hot, clock, **options)

    yield _build
    for http in clients:
        await http.aclose()


# -- code2Session ------------------------------------------------------------------------


async def test_code2session_sends_the_documented_request(build: Build) -> None:
    fake = Fake({LOGIN: [OK_LOGIN]})
    session = await build(fake).code2session(CODE)
    assert session == PlatformSession("o-user-1", SESSION_KEY, "u-user-1")
    [request] = fake.requests
    assert (request.method, request.url.host, request.url.path) == ("GET", "wx.example", LOGIN)
    expected = {"appid": APPID, "secret": SECRET, "js_code": CODE}
    assert dict(request.url.params) == expected | {"grant_type": "authorization_code"}


@pytest.mark.parametrize(
    "answer",
    [
        {"openid": "o-user-1", "session_key": SESSION_KEY},
        {"errcode": 0, "errmsg": "ok", "openid": "o-user-1", "session_key": SESSION_KEY},
        {"openid": "o-user-1", "session_key": SESSION_KEY, "unionid": ""},
    ],
    ids=["no-errcode", "errcode-0", "empty-unionid"],
)
async def test_success_with_or_without_errcode(build: Build, answer: dict[str, Any]) -> None:
    session = await build(Fake({LOGIN: [answer]})).code2session(CODE)
    assert (session.openid, session.session_key, session.unionid) == ("o-user-1", SESSION_KEY, None)


_CONFIG_FAULTS = (40013, 40125, 41002, 41004, 41008, 40164)
_ERRCODES = [(40029, PlatformCredentialInvalid), (45011, PlatformRateLimited)]
_ERRCODES += [(40226, PlatformUserBlocked), (99999, PlatformBadResponse)]
_ERRCODES += [(code, PlatformUnavailable) for code in (-1, 45009, *_CONFIG_FAULTS)]


@pytest.mark.parametrize(("errcode", "kind"), _ERRCODES, ids=[str(c) for c, _ in _ERRCODES])
async def test_every_documented_errcode_maps_to_the_tree(
    build: Build, errcode: int, kind: type[PlatformError]
) -> None:
    """Configuration faults are an error log for operators and a plain 503 for clients
    (ASVS V16.3.4); the rest keep their meaning."""
    fake = Fake({LOGIN: [{"errcode": errcode, "errmsg": "x, rid: 1"}]})
    with capture_logs() as logs, pytest.raises(kind) as caught:
        await build(fake).code2session(CODE)
    assert type(caught.value) is kind
    assert caught.value.reason == f"wechat:{errcode}"
    assert fake.count(LOGIN) == (2 if errcode == -1 else 1)
    logged = [
        (e["log_level"], e["errcode"], e["api"]) for e in logs if "misconfigured" in e["event"]
    ]
    assert logged == ([("error", errcode, "code2session")] if errcode in _CONFIG_FAULTS else [])


async def test_minus_one_is_retried_exactly_once(build: Build) -> None:
    fake = Fake({LOGIN: [{"errcode": -1, "errmsg": "system busy"}, OK_LOGIN]})
    session = await build(fake).code2session(CODE)
    assert session.openid == "o-user-1"
    assert fake.count(LOGIN) == 2


_INCOMPLETE: dict[str, dict[str, Any]] = {
    "no-openid": {"session_key": SESSION_KEY},
    "no-key": {"openid": "o-user-1"},
    "empty-openid": {"openid": "", "session_key": SESSION_KEY},
    "int-openid": {"openid": 42, "session_key": SESSION_KEY},
    "long-openid": {"openid": "o" * 129, "session_key": SESSION_KEY},
    "str-errcode": {"errcode": "40029"},
    "bool-errcode": {"errcode": True, "openid": "o", "session_key": SESSION_KEY},
    "null-errcode": {"errcode": None, "openid": "o", "session_key": SESSION_KEY},
}


@pytest.mark.parametrize("answer", list(_INCOMPLETE.values()), ids=list(_INCOMPLETE))
async def test_incomplete_or_mistyped_success_is_a_bad_response(
    build: Build, answer: dict[str, Any]
) -> None:
    with pytest.raises(PlatformBadResponse):
        await build(Fake({LOGIN: [answer]})).code2session(CODE)


@pytest.mark.parametrize("code", ["", "x" * 513, "abc\ndef", "code with é", "tab\tcode"], ids=repr)
async def test_malformed_codes_never_reach_the_network(build: Build, code: str) -> None:
    """ASVS V2.2.1: the code is bounded before any outbound call."""
    fake = Fake({LOGIN: [OK_LOGIN]})
    with pytest.raises(PlatformCredentialInvalid) as caught:
        await build(fake).code2session(code)
    assert caught.value.reason == "malformed"
    assert fake.requests == []


@pytest.mark.parametrize(
    "cfg",
    [_settings(enabled=False), _settings(app_secret=None), _settings(app_id="")],
    ids=["disabled", "no-secret", "no-app-id"],
)
async def test_not_configured(build: Build, cfg: WeChatSettings) -> None:
    fake = Fake({LOGIN: [OK_LOGIN], STABLE: [OK_TOKEN]})
    client = build(fake, cfg=cfg)
    for call in (client.code2session(CODE), client.access_token(), client.phone_number(CODE)):
        with pytest.raises(PlatformNotConfigured):
            await call
    assert fake.requests == []


# -- transport (the bounded helper, through code2Session) -------------------------------


_UNAVAILABLE, _BAD = PlatformUnavailable, PlatformBadResponse
_HUGE = b"{" + b" " * MAX_RESPONSE_BYTES + b"}"
_TRANSPORT: dict[str, tuple[list[Answer], type[PlatformError], str, int]] = {
    # only a request that never left (connect failure) is sent again
    "connect-timeout": ([httpx.ConnectTimeout("t")], _UNAVAILABLE, "connect_timeout", 2),
    "connect-error": ([httpx.ConnectError("refused")], _UNAVAILABLE, "connect_failed", 2),
    # once the code may have reached WeChat it may be consumed: one attempt only
    "read-timeout": ([httpx.ReadTimeout("slow"), OK_LOGIN], _UNAVAILABLE, "timeout", 1),
    "protocol": ([httpx.RemoteProtocolError("closed"), OK_LOGIN], _UNAVAILABLE, "transport", 1),
    "500": ([httpx.Response(500, text="oops"), OK_LOGIN], _UNAVAILABLE, "http_500", 1),
    "502": ([httpx.Response(502), OK_LOGIN], _UNAVAILABLE, "http_502", 1),
    "429": ([httpx.Response(429), OK_LOGIN], _UNAVAILABLE, "http_429", 1),
    # garbage
    "html": ([httpx.Response(200, text="<html>busy</html>")], _BAD, "not_json", 1),
    "oversized": ([httpx.Response(200, content=_HUGE)], _BAD, "oversized", 1),
}


@pytest.mark.parametrize(
    ("answers", "kind", "reason", "sends"), list(_TRANSPORT.values()), ids=list(_TRANSPORT)
)
async def test_transport_failures_are_typed_and_resent_only_when_unsent(
    build: Build, answers: list[Answer], kind: type[PlatformError], reason: str, sends: int
) -> None:
    """ASVS V15.2.2: bounded and typed; a login code that may have been sent is not resent."""
    fake = Fake({LOGIN: answers})
    with pytest.raises(kind) as caught:
        await build(fake).code2session(CODE)
    assert (type(caught.value), caught.value.reason) == (kind, f"wechat:{reason}")
    assert fake.count(LOGIN) == sends


async def test_connect_failure_is_resent_once(build: Build) -> None:
    fake = Fake({LOGIN: [httpx.ConnectTimeout("connect timed out"), OK_LOGIN]})
    assert (await build(fake).code2session(CODE)).openid == "o-user-1"
    assert fake.count(LOGIN) == 2


# -- secrecy ---------------------------------------------------------------------------


def test_session_repr_masks_the_session_key() -> None:
    """ASVS V13.3.1: session_key is a backend secret; its repr never shows it."""
    session = PlatformSession("o-user-1", SESSION_KEY, "u-user-1")
    for text in (repr(session), str(session), f"{session}", f"{session!r}"):
        assert SESSION_KEY not in text
        assert "o-user-1" in text
    assert "None" in repr(PlatformSession("o", None, None))


async def test_secrets_never_reach_logs_or_error_messages(build: Build) -> None:
    """ASVS V16.2.5 / V16.5.1: no session_key, secret, code or token in logs or errors."""
    answers: list[Answer] = [
        OK_LOGIN,
        {"errcode": 40029, "session_key": SESSION_KEY},
        {"errcode": 40125, "session_key": SESSION_KEY},
        {"session_key": SESSION_KEY},
        httpx.ConnectError("refused"),
        httpx.ReadTimeout("slow"),
        httpx.Response(200, text=f"not json {SESSION_KEY}"),
    ]
    errors: list[PlatformError] = []
    with capture_logs() as logs:
        for answer in answers:
            client = build(Fake({LOGIN: [answer], STABLE: [OK_TOKEN], PHONE: [OK_PHONE]}))
            try:
                await client.code2session(CODE)
                await client.phone_number(PHONE_CODE)
            except PlatformError as exc:
                errors.append(exc)
    assert len(errors) == len(answers) - 1
    assert any(e["event"] == "platforms.wechat.token_refreshed" for e in logs)
    texts = [repr(logs)] + [f"{e} {e.reason} {e.detail} {e.problem()}" for e in errors]
    for text in texts:
        for secret in (SESSION_KEY, SECRET, CODE, PHONE_CODE, TOKEN):
            assert secret not in text


# -- access_token ------------------------------------------------------------------------


async def test_stable_token_request_keeps_the_secret_out_of_the_url(build: Build) -> None:
    fake = Fake({STABLE: [OK_TOKEN]})
    assert await build(fake).access_token() == TOKEN
    [request] = fake.requests
    assert (request.method, request.url.path, request.url.query) == ("POST", STABLE, b"")
    expected = {"grant_type": "client_credential", "appid": APPID, "secret": SECRET}
    assert json.loads(request.content) == expected | {"force_refresh": False}


async def test_token_is_cached_until_expires_in_minus_the_margin(
    build: Build, clock: ManualClock
) -> None:
    fake = Fake({STABLE: [OK_TOKEN, {"access_token": TOKEN2, "expires_in": 7200}]})
    client = build(fake)
    assert await client.access_token() == TOKEN
    clock.advance(7200 - 120 - 1)
    assert await client.access_token() == TOKEN
    assert fake.count(STABLE) == 1
    clock.advance(2)
    assert await client.access_token() == TOKEN2
    assert fake.count(STABLE) == 2


class CountingHot(MemoryHotState):
    def __init__(self, clock: ManualClock) -> None:
        super().__init__(clock)
        self.locks = 0

    async def add_once(self, key: str, ttl: float) -> bool:
        self.locks += 1
        return await super().add_once(key, ttl)


async def _gather_gated(fake: Fake, calls: list[Any]) -> list[str]:
    fake.gate = asyncio.Event()
    tasks = [asyncio.ensure_future(call) for call in calls]
    await fake.entered.wait()
    for _ in range(20):
        await asyncio.sleep(0)
    fake.gate.set()
    return list(await asyncio.gather(*tasks))


async def test_twenty_concurrent_callers_make_one_request(build: Build, clock: ManualClock) -> None:
    """ASVS V2.4.1: one refresh per process, whatever the concurrency (single flight)."""
    fake = Fake({STABLE: [OK_TOKEN]})
    state = CountingHot(clock)
    client = build(fake, state)
    tokens = await _gather_gated(fake, [client.access_token() for _ in range(20)])
    assert tokens == [TOKEN] * 20
    assert fake.count(STABLE) == 1
    assert state.locks == 1


async def test_two_replicas_sharing_hot_state_make_one_request(
    build: Build, any_hot: HotState
) -> None:
    """Two WeChatClient instances (replicas) on the same memory or Redis hot state."""
    fake = Fake({STABLE: [OK_TOKEN]})
    first, second = build(fake, any_hot), build(fake, any_hot, token_wait_seconds=10.0)
    calls = [c.access_token() for _ in range(10) for c in (first, second)]
    assert await _gather_gated(fake, calls) == [TOKEN] * 20
    assert fake.count(STABLE) == 1


async def test_waiting_for_another_replica_is_bounded(build: Build, hot: MemoryHotState) -> None:
    await hot.add_once(f"wechat:access_token_lock:{APPID}", 60)
    fake = Fake({STABLE: [OK_TOKEN]})
    with pytest.raises(PlatformUnavailable) as caught:
        await build(fake, token_wait_seconds=0.01).access_token()
    assert caught.value.reason == "wechat:token_wait"
    assert fake.requests == []


async def test_a_failed_refresh_releases_the_lock(build: Build, hot: MemoryHotState) -> None:
    fake = Fake({STABLE: [httpx.Response(503), httpx.Response(500), OK_TOKEN]})
    client = build(fake)
    with pytest.raises(PlatformUnavailable) as caught:
        await client.access_token()
    assert caught.value.reason == "wechat:http_500"
    assert fake.count(STABLE) == 2  # stable_token is idempotent: one resend after a 5xx
    assert await hot.get(f"wechat:access_token_lock:{APPID}") is None
    assert await client.access_token() == TOKEN


_STABLE_FAILURES: dict[str, tuple[dict[str, Any], type[PlatformError], str]] = {
    "40125": ({"errcode": 40125, "errmsg": "invalid appsecret"}, _UNAVAILABLE, "40125"),
    "40164": ({"errcode": 40164, "errmsg": "ip not in allowlist"}, _UNAVAILABLE, "40164"),
    "-1": ({"errcode": -1}, _UNAVAILABLE, "-1"),
    "45011": ({"errcode": 45011}, _UNAVAILABLE, "45011"),
    "unknown": ({"errcode": 12345}, _BAD, "12345"),
    "no-expiry": ({"access_token": TOKEN}, _BAD, "incomplete"),
    "bool-expiry": ({"access_token": TOKEN, "expires_in": True}, _BAD, "incomplete"),
    "zero-expiry": ({"access_token": TOKEN, "expires_in": 0}, _BAD, "incomplete"),
    "str-expiry": ({"access_token": TOKEN, "expires_in": "7200"}, _BAD, "incomplete"),
    "spaced-token": ({"access_token": "a b", "expires_in": 7200}, _BAD, "incomplete"),
    "empty-token": ({"access_token": "", "expires_in": 7200}, _BAD, "incomplete"),
}


@pytest.mark.parametrize(
    ("answer", "kind", "reason"), list(_STABLE_FAILURES.values()), ids=list(_STABLE_FAILURES)
)
async def test_stable_token_failures(
    build: Build, hot: MemoryHotState, answer: Answer, kind: type[PlatformError], reason: str
) -> None:
    with pytest.raises(kind) as caught:
        await build(Fake({STABLE: [answer]})).access_token()
    assert caught.value.reason == f"wechat:{reason}"
    assert await hot.get(f"wechat:access_token:{APPID}") is None


# -- getPhoneNumber ----------------------------------------------------------------------


async def test_phone_number_sends_the_documented_request(build: Build) -> None:
    fake = Fake({STABLE: [OK_TOKEN], PHONE: [OK_PHONE]})
    assert await build(fake).phone_number(PHONE_CODE, openid="o-user-1") == PHONE_INFO
    request = fake.requests[-1]
    assert (request.method, request.url.path) == ("POST", PHONE)
    assert dict(request.url.params) == {"access_token": TOKEN}
    assert json.loads(request.content) == {"code": PHONE_CODE, "openid": "o-user-1"}
    await build(fake).phone_number(PHONE_CODE)
    assert json.loads(fake.requests[-1].content) == {"code": PHONE_CODE}


@pytest.mark.parametrize("errcode", [40001, 40014, 42001])
async def test_rejected_token_is_dropped_and_the_call_retried_once(
    build: Build, errcode: int
) -> None:
    tokens: list[Answer] = [OK_TOKEN, {"access_token": TOKEN2, "expires_in": 7200}]
    fake = Fake({STABLE: tokens, PHONE: [{"errcode": errcode}, OK_PHONE]})
    assert await build(fake).phone_number(PHONE_CODE) == PHONE_INFO
    assert (fake.count(STABLE), fake.count(PHONE)) == (2, 2)
    assert [dict(r.url.params) for r in fake.requests if r.url.path == PHONE] == [
        {"access_token": TOKEN},
        {"access_token": TOKEN2},
    ]


_NO_MARK = {"phone_info": PHONE_INFO | {"watermark": None}}
_FOREIGN = {"phone_info": PHONE_INFO | {"watermark": {"appid": "wx-other"}}}
_PHONE_FAILURES: dict[str, tuple[dict[str, Any], type[PlatformError], str, int]] = {
    "40029": ({"errcode": 40029}, PlatformCredentialInvalid, "wechat:40029", 1),
    "45011": ({"errcode": 45011}, PlatformRateLimited, "wechat:45011", 1),
    "40013": ({"errcode": 40013}, _UNAVAILABLE, "wechat:40013", 1),
    "-1": ({"errcode": -1}, _UNAVAILABLE, "wechat:-1", 1),
    "40001-twice": ({"errcode": 40001}, _UNAVAILABLE, "wechat:40001", 2),
    "no-info": ({"errcode": 0}, _BAD, "wechat:incomplete", 1),
    "no-watermark": (_NO_MARK, _BAD, "wechat:incomplete", 1),
    "foreign-appid": (_FOREIGN, PlatformDataInvalid, "appid_mismatch", 1),
}


@pytest.mark.parametrize(
    ("answer", "kind", "reason", "sends"), list(_PHONE_FAILURES.values()), ids=list(_PHONE_FAILURES)
)
async def test_phone_number_failures(
    build: Build, answer: dict[str, Any], kind: type[PlatformError], reason: str, sends: int
) -> None:
    fake = Fake({STABLE: [OK_TOKEN], PHONE: [answer]})
    with pytest.raises(kind) as caught:
        await build(fake).phone_number(PHONE_CODE)
    assert (type(caught.value), caught.value.reason) == (kind, reason)
    assert fake.count(PHONE) == sends


# -- property: any answer gives a session or a typed error ---------------------------------

_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40)
_json = st.recursive(
    _scalars, lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner), max_leaves=10
)
_fields = st.fixed_dictionaries(
    {},
    optional={
        "errcode": st.sampled_from([0, -1, 40029, 45011, 40226, 40013, 7]) | _scalars,
        "openid": _scalars,
        "session_key": _scalars,
        "unionid": _scalars,
        "phone_info": _json,
    },
)
_bodies = (
    st.binary(max_size=200)
    | _json.map(lambda v: json.dumps(v).encode())
    | _fields.map(lambda v: json.dumps(v).encode())
)


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=_bodies, status=st.sampled_from([200, 200, 200, 400, 500]))
async def test_any_answer_gives_a_session_or_a_typed_error(
    clock: ManualClock, body: bytes, status: int
) -> None:
    """Property (ASVS V2.2.1): arbitrary platform answers never raise anything untyped."""
    routes: dict[str, list[Answer]] = {
        p: [httpx.Response(status, content=body)] for p in (LOGIN, PHONE)
    }
    fake = Fake(routes | {STABLE: [OK_TOKEN]})
    async with httpx.AsyncClient(transport=httpx.MockTransport(fake)) as http:
        client = WeChatClient(_settings(), http, MemoryHotState(clock), clock, retry_backoff=0)
        for call in (client.code2session, client.phone_number):
            try:
                result = await call(CODE)
            except PlatformError as exc:
                assert exc.reason.startswith("wechat:") or exc.reason == "appid_mismatch"
            else:
                assert isinstance(result, PlatformSession | dict)
