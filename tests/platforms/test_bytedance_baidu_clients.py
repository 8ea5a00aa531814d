"""DouyinClient and BaiduClient against recording fakes of the documented login exchanges
(platforms.md section 4)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr
from structlog.testing import capture_logs

from bastion.config import BaiduSettings, DouyinSettings
from bastion.infra import ManualClock
from bastion.platforms._bytedance_baidu_clients import BaiduClient, DouyinClient
from bastion.platforms._errors import (
    PlatformBadResponse,
    PlatformCredentialInvalid,
    PlatformError,
    PlatformNotConfigured,
    PlatformUnavailable,
)
from bastion.platforms._http import MAX_RESPONSE_BYTES, PlatformSession

DOUYIN_APP = "tt00000000test0001"
BAIDU_KEY = "baidu-app-key-for-tests-00000000"
SECRET = "app-secret-never-logged-0123456789"
SESSION_KEY = "c2Vzc2lvbi1rZXktdGVzdA=="
BAIDU_SESSION_KEY = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3"
CODE = "login0code0for0tests00000000000"
ANON = "anonymous0code0for0tests000000"
DOUYIN = "/api/apps/v2/jscode2session"
BAIDU = "/oauth/jscode2sessionkey"
OK_DOUYIN = {
    "err_no": 0,
    "err_tips": "success",
    "log_id": "20240101000000",
    "data": {
        "session_key": SESSION_KEY,
        "openid": "douyin-openid-1",
        "anonymous_openid": "douyin-anon-1",
        "unionid": "douyin-union-1",
    },
}
OK_BAIDU = {"openid": "baidu-openid-1", "session_key": BAIDU_SESSION_KEY}

Answer = httpx.Response | Exception | dict[str, Any]


class Fake:
    """Records every request; answers from a queue whose last entry repeats."""

    def __init__(self, *answers: Answer) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        if isinstance(answer, httpx.Response):
            return answer
        return httpx.Response(200, json=answer)


_BASE = {"enabled": True, "app_secret": SecretStr(SECRET), "timeout_seconds": 2.0}


def _douyin_settings(**overrides: Any) -> DouyinSettings:
    values = _BASE | {"app_id": DOUYIN_APP, "base_url": "https://tt.example"}
    return DouyinSettings(**(values | overrides))


def _baidu_settings(**overrides: Any) -> BaiduSettings:
    values = _BASE | {"app_id": "12345", "app_key": BAIDU_KEY, "base_url": "https://bd.example"}
    return BaiduSettings(**(values | overrides))


@pytest.fixture
async def clients(clock: ManualClock) -> AsyncIterator[Callable[..., Any]]:
    opened: list[httpx.AsyncClient] = []

    def _build(kind: str, fake: Fake, **overrides: Any) -> DouyinClient | BaiduClient:
        http = httpx.AsyncClient(transport=httpx.MockTransport(fake))
        opened.append(http)
        if kind == "douyin":
            return DouyinClient(_douyin_settings(**overrides), http, clock, retry_backoff=0)
        return BaiduClient(_baidu_settings(**overrides), http, clock, retry_backoff=0)

    yield _build
    for http in opened:
        await http.aclose()


# -- Douyin ------------------------------------------------------------------------------


async def test_douyin_sends_the_documented_request(clients: Callable[..., Any]) -> None:
    fake = Fake(OK_DOUYIN)
    session = await clients("douyin", fake).code2session(CODE, ANON)
    assert session == PlatformSession("douyin-openid-1", SESSION_KEY, "douyin-union-1")
    [request] = fake.requests
    assert (request.method, request.url.host, request.url.path) == ("POST", "tt.example", DOUYIN)
    assert request.headers["content-type"] == "application/json"
    assert request.url.query == b""
    expected = {"appid": DOUYIN_APP, "secret": SECRET, "code": CODE, "anonymous_code": ANON}
    assert json.loads(request.content) == expected


async def test_douyin_without_anonymous_code(clients: Callable[..., Any]) -> None:
    fake = Fake({"err_no": 0, "data": {"openid": "o", "session_key": SESSION_KEY, "unionid": ""}})
    session = await clients("douyin", fake).code2session(CODE)
    assert (session.openid, session.unionid) == ("o", None)
    assert "anonymous_code" not in json.loads(fake.requests[0].content)


@pytest.mark.parametrize(
    ("err_no", "kind"),
    [
        (40018, PlatformCredentialInvalid),
        (40019, PlatformCredentialInvalid),
        (-1, PlatformUnavailable),
        (40015, PlatformUnavailable),
        (40017, PlatformUnavailable),
        (40099, PlatformBadResponse),
    ],
)
async def test_douyin_error_numbers(
    clients: Callable[..., Any], err_no: int, kind: type[PlatformError]
) -> None:
    fake = Fake({"err_no": err_no, "err_tips": "x", "log_id": "1", "data": {}})
    with capture_logs() as logs, pytest.raises(kind) as caught:
        await clients("douyin", fake).code2session(CODE)
    assert type(caught.value) is kind
    assert caught.value.reason == f"douyin:{err_no}"
    assert len(fake.requests) == 1  # a single-use code is never sent twice
    misconfigured = [e for e in logs if e["event"] == "platforms.douyin.misconfigured"]
    assert len(misconfigured) == (1 if err_no in (40015, 40017) else 0)
    assert all(e["log_level"] == "error" and e["errcode"] == err_no for e in misconfigured)


_DOUYIN_INCOMPLETE: dict[str, Any] = {
    "no-err-no": {"err_tips": "success"},
    "string-err-no": {"err_no": "0", "data": OK_DOUYIN["data"]},
    "no-data": {"err_no": 0},
    "list-data": {"err_no": 0, "data": []},
    "anonymous-only": {"err_no": 0, "data": {"anonymous_openid": "anon-only"}},
    "no-key": {"err_no": 0, "data": {"openid": "o"}},
    "no-openid": {"err_no": 0, "data": {"session_key": SESSION_KEY, "anonymous_openid": "a"}},
}


@pytest.mark.parametrize("answer", list(_DOUYIN_INCOMPLETE.values()), ids=list(_DOUYIN_INCOMPLETE))
async def test_douyin_incomplete_success(clients: Callable[..., Any], answer: Any) -> None:
    """The anonymous openid is never taken as the user's identity."""
    with pytest.raises(PlatformBadResponse):
        await clients("douyin", Fake(answer)).code2session(CODE)


async def test_douyin_requires_a_login_code(clients: Callable[..., Any]) -> None:
    fake = Fake(OK_DOUYIN)
    client = clients("douyin", fake)
    for code, anonymous in (("", ANON), (CODE, ""), (CODE, "x" * 600)):
        with pytest.raises(PlatformCredentialInvalid) as caught:
            await client.code2session(code, anonymous)
        assert caught.value.reason == "malformed"
    assert fake.requests == []


# -- Baidu -------------------------------------------------------------------------------


async def test_baidu_sends_the_documented_request(clients: Callable[..., Any]) -> None:
    fake = Fake(OK_BAIDU)
    session = await clients("baidu", fake).code2session(CODE)
    assert session == PlatformSession("baidu-openid-1", BAIDU_SESSION_KEY, None)
    [request] = fake.requests
    assert (request.method, request.url.host, request.url.path) == ("POST", "bd.example", BAIDU)
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert request.url.query == b""
    form = dict(parse_qsl(request.content.decode()))
    assert form == {"code": CODE, "client_id": BAIDU_KEY, "sk": SECRET}


_REFUSED, _DOWN, _BAD = PlatformCredentialInvalid, PlatformUnavailable, PlatformBadResponse
_GRANT = {"error": "invalid_grant", "error_description": "Invalid code"}
_BAIDU_ERRORS: dict[str, tuple[Answer, type[PlatformError], str]] = {
    "invalid_grant-400": (httpx.Response(400, json=_GRANT), _REFUSED, "invalid_grant"),
    "invalid_grant-200": (_GRANT, _REFUSED, "invalid_grant"),
    "invalid_client": (
        httpx.Response(401, json={"error": "invalid_client"}),
        _DOWN,
        "invalid_client",
    ),
    "errno-param": ({"errno": 10010100, "error": "parameter is invalid"}, _DOWN, "10010100"),
    "unknown-token": ({"error": "something_new", "error_description": "?"}, _BAD, "something_new"),
    "free-text": ({"error": "free text with spaces"}, _BAD, "unexpected"),
    "errno-with-data": ({"errno": 1, "openid": "o", "session_key": "k"}, _BAD, "1"),
    "400-text": (httpx.Response(400, text="Bad Request"), _BAD, "not_json"),
    "403-array": (httpx.Response(403, json=["denied"]), _BAD, "not_object"),
    "no-session-key": ({"openid": "baidu-openid-1"}, _BAD, "incomplete"),
    "no-openid": ({"session_key": BAIDU_SESSION_KEY}, _BAD, "incomplete"),
}


@pytest.mark.parametrize(
    ("answer", "kind", "reason"), list(_BAIDU_ERRORS.values()), ids=list(_BAIDU_ERRORS)
)
async def test_baidu_errors(
    clients: Callable[..., Any], answer: Answer, kind: type[PlatformError], reason: str
) -> None:
    fake = Fake(answer)
    with pytest.raises(kind) as caught:
        await clients("baidu", fake).code2session(CODE)
    assert (type(caught.value), caught.value.reason) == (kind, f"baidu:{reason}")
    assert len(fake.requests) == 1


async def test_baidu_invalid_client_is_logged_for_operators(clients: Callable[..., Any]) -> None:
    """ASVS V16.3.4: a wrong App Key/Secret is an error log, the client sees a 503."""
    fake = Fake(httpx.Response(401, json={"error": "invalid_client"}))
    with capture_logs() as logs, pytest.raises(PlatformUnavailable):
        await clients("baidu", fake).code2session(CODE)
    [entry] = [e for e in logs if e["event"] == "platforms.baidu.misconfigured"]
    assert (entry["log_level"], entry["errcode"]) == ("error", "invalid_client")


# -- both: configuration, transport, secrecy, property -----------------------------------


@pytest.mark.parametrize(
    ("kind", "overrides"),
    [
        ("douyin", {"enabled": False}),
        ("douyin", {"app_secret": None}),
        ("douyin", {"app_id": ""}),
        ("baidu", {"enabled": False}),
        ("baidu", {"app_secret": None}),
        ("baidu", {"app_key": ""}),
    ],
)
async def test_not_configured(
    clients: Callable[..., Any], kind: str, overrides: dict[str, Any]
) -> None:
    fake = Fake(OK_DOUYIN if kind == "douyin" else OK_BAIDU)
    with pytest.raises(PlatformNotConfigured):
        await clients(kind, fake, **overrides).code2session(CODE)
    assert fake.requests == []


_HUGE = b" " * (MAX_RESPONSE_BYTES + 1)
_TRANSPORT: dict[str, tuple[Answer, type[PlatformError], str, int]] = {
    "connect-timeout": (httpx.ConnectTimeout("connect"), _DOWN, "connect_timeout", 2),
    "connect-error": (httpx.ConnectError("refused"), _DOWN, "connect_failed", 2),
    "read-timeout": (httpx.ReadTimeout("read"), _DOWN, "timeout", 1),
    "500": (httpx.Response(500), _DOWN, "http_500", 1),
    "503": (httpx.Response(503, text="busy"), _DOWN, "http_503", 1),
    "html": (httpx.Response(200, text="<html>"), _BAD, "not_json", 1),
    "binary": (httpx.Response(200, content=b"\xff\xfe\x00garbage"), _BAD, "not_json", 1),
    "nan": (httpx.Response(200, text='{"openid": NaN}'), _BAD, "not_json", 1),
    "deep": (httpx.Response(200, text="[" * 5000 + "]" * 5000), _BAD, "not_json", 1),
    "array": (httpx.Response(200, json=["openid"]), _BAD, "not_object", 1),
    "redirect": (
        httpx.Response(302, headers={"location": "https://x.example/"}),
        _BAD,
        "http_302",
        1,
    ),
    "oversized": (httpx.Response(200, content=_HUGE), _BAD, "oversized", 1),
}


@pytest.mark.parametrize("kind", ["douyin", "baidu"])
@pytest.mark.parametrize(
    ("answer", "error", "reason", "sent"), list(_TRANSPORT.values()), ids=list(_TRANSPORT)
)
async def test_transport_failures(
    clients: Callable[..., Any],
    kind: str,
    answer: Answer,
    error: type[PlatformError],
    reason: str,
    sent: int,
) -> None:
    """ASVS V15.2.2: bounded and typed; only a request that never left is sent again."""
    fake = Fake(answer)
    with pytest.raises(error) as caught:
        await clients(kind, fake).code2session(CODE)
    assert caught.value.reason == f"{kind}:{reason}"
    assert len(fake.requests) == sent


@pytest.mark.parametrize("kind", ["douyin", "baidu"])
async def test_oversized_streamed_body_is_cut_off(clients: Callable[..., Any], kind: str) -> None:
    """ASVS V15.2.2: without Content-Length the reader stops after 64 KiB."""
    produced: list[int] = []

    async def endless() -> AsyncIterator[bytes]:
        for _ in range(1000):
            produced.append(1)
            yield b" " * 4096

    with pytest.raises(PlatformBadResponse) as caught:
        await clients(kind, Fake(httpx.Response(200, content=endless()))).code2session(CODE)
    assert caught.value.reason == f"{kind}:oversized"
    assert len(produced) <= MAX_RESPONSE_BYTES // 4096 + 1


async def test_a_body_of_exactly_64_kib_is_read(clients: Callable[..., Any]) -> None:
    body = json.dumps(OK_BAIDU | {"pad": ""}).encode()
    padded = body[:-2] + b" " * (MAX_RESPONSE_BYTES - len(body)) + body[-2:]
    assert len(padded) == MAX_RESPONSE_BYTES
    fake = Fake(httpx.Response(200, content=padded))
    assert (await clients("baidu", fake).code2session(CODE)).openid == "baidu-openid-1"


@pytest.mark.parametrize("kind", ["douyin", "baidu"])
async def test_a_trickling_answer_hits_the_overall_deadline(
    clients: Callable[..., Any], kind: str
) -> None:
    """ASVS V15.2.2: a platform that never finishes its body gets a 503, not a hung login."""
    never = asyncio.Event()

    async def trickle() -> AsyncIterator[bytes]:
        yield b'{"openid": '
        await never.wait()

    fake = Fake(httpx.Response(200, content=trickle()))
    with pytest.raises(PlatformUnavailable) as caught:
        await clients(kind, fake, timeout_seconds=0.05).code2session(CODE)
    assert caught.value.reason == f"{kind}:timeout"


@pytest.mark.parametrize("kind", ["douyin", "baidu"])
async def test_an_unparsable_base_url_is_a_logged_503(
    clients: Callable[..., Any], kind: str
) -> None:
    fake = Fake(OK_DOUYIN)
    with capture_logs() as logs, pytest.raises(PlatformUnavailable) as caught:
        await clients(kind, fake, base_url="https://example.test:port").code2session(CODE)
    assert caught.value.reason == f"{kind}:bad_url"
    assert [e["errcode"] for e in logs if e["event"] == f"platforms.{kind}.misconfigured"] == [
        "bad_url"
    ]
    assert fake.requests == []


@pytest.mark.parametrize("kind", ["douyin", "baidu"])
async def test_connect_failure_then_success(clients: Callable[..., Any], kind: str) -> None:
    fake = Fake(httpx.ConnectError("refused"), OK_DOUYIN if kind == "douyin" else OK_BAIDU)
    assert (await clients(kind, fake).code2session(CODE)).session_key is not None
    assert len(fake.requests) == 2


async def test_secrets_never_reach_logs_or_errors(clients: Callable[..., Any]) -> None:
    """ASVS V16.2.5 / V16.5.1 / V13.3.1: session_key, secret and code stay out of reprs,
    logs and error texts."""
    cases: list[tuple[str, Answer]] = [
        ("douyin", OK_DOUYIN),
        ("douyin", {"err_no": 40017, "data": {"session_key": SESSION_KEY}}),
        ("douyin", {"err_no": 0, "data": {"session_key": SESSION_KEY}}),
        ("douyin", httpx.ConnectError("refused")),
        ("baidu", OK_BAIDU),
        ("baidu", {"error": "invalid_client", "session_key": BAIDU_SESSION_KEY}),
        ("baidu", {"error": f"invalid {BAIDU_SESSION_KEY}"}),
        ("baidu", httpx.Response(200, text=f"oops {SESSION_KEY}")),
    ]
    texts: list[str] = []
    with capture_logs() as logs:
        for kind, answer in cases:
            try:
                texts.append(repr(await clients(kind, Fake(answer)).code2session(CODE)))
            except PlatformError as exc:
                texts.append(f"{exc} {exc.reason} {exc.detail} {exc.problem()}")
    assert len(texts) == len(cases)
    for text in [*texts, repr(logs)]:
        for secret in (SESSION_KEY, BAIDU_SESSION_KEY, SECRET, CODE):
            assert secret not in text


_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40)
_json = st.recursive(
    _scalars, lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner), max_leaves=10
)
_douyin = st.fixed_dictionaries(
    {},
    optional={
        "err_no": st.sampled_from([0, -1, 40015, 40018]) | _scalars,
        "data": st.fixed_dictionaries(
            {}, optional={"openid": _scalars, "session_key": _scalars, "unionid": _scalars}
        )
        | _json,
    },
)
_baidu = st.fixed_dictionaries(
    {},
    optional={
        "errno": st.sampled_from([0, 10010100]) | _scalars,
        "error": st.sampled_from(["invalid_grant", "invalid_client"]) | _scalars,
        "openid": _scalars,
        "session_key": _scalars,
    },
)
_bodies = st.binary(max_size=200) | (_json | _douyin | _baidu).map(lambda v: json.dumps(v).encode())


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=_bodies, status=st.sampled_from([200, 200, 400, 401, 500]))
async def test_any_answer_gives_a_session_or_a_typed_error(
    clock: ManualClock, body: bytes, status: int
) -> None:
    """Property (ASVS V2.2.1): arbitrary answers never raise anything untyped."""
    transport = httpx.MockTransport(Fake(httpx.Response(status, content=body)))
    async with httpx.AsyncClient(transport=transport) as http:
        douyin = DouyinClient(_douyin_settings(), http, clock, retry_backoff=0)
        baidu = BaiduClient(_baidu_settings(), http, clock, retry_backoff=0)
        for platform, client in (("douyin", douyin), ("baidu", baidu)):
            try:
                session = await client.code2session(CODE)
            except PlatformError as exc:
                assert exc.reason.startswith(f"{platform}:")
            else:
                assert session.openid and session.session_key
