"""AlipayClient.oauth_token against a recording fake of the OpenAPI gateway.

The fake checks every request against the documented shape (3.1/3.2) and verifies its RSA2
signature with the app's public key; it answers with the documented response shapes, signed
with a key that stands in for Alipay's (the vectors publish no Alipay private key).
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import SecretStr

from bastion.config import AlipaySettings
from bastion.crypto.platform import rsa2_sign, rsa2_verify
from bastion.errors import ConfigError
from bastion.infra import ManualClock
from bastion.platforms._alipay_client import AlipayClient, AlipayToken
from bastion.platforms._errors import (
    PlatformBadResponse,
    PlatformCredentialInvalid,
    PlatformError,
    PlatformNotConfigured,
    PlatformUnavailable,
)
from bastion.platforms._http import MAX_RESPONSE_BYTES

GATEWAY = "https://openapi.alipay.test/gateway.do"
APP_ID = "2021000000000001"
CODE = "4b203fe6c11548bcabd8da5bb087a83b"
NODE_KEY = "alipay_system_oauth_token_response"
FIELDS = {
    "app_id",
    "method",
    "format",
    "charset",
    "sign_type",
    "timestamp",
    "version",
    "grant_type",
    "code",
    "sign",
}
SUCCESS = {
    "user_id": "2088102150477652",
    "access_token": "20120823ac6ffaa4d2d84e7384bf983531473993",
    "expires_in": 3600,
    "refresh_token": "20120823ac6ffdsdf2d84e7384bf983531473993",
    "re_expires_in": 3600,
    "auth_start": "2010-11-11 11:11:11",
}

Answer = httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]


def _new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def app_key() -> rsa.RSAPrivateKey:
    return _new_key()


@pytest.fixture(scope="module")
def alipay_key() -> rsa.RSAPrivateKey:
    return _new_key()


def _private_pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def _public_pem(key: rsa.RSAPrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


@pytest.fixture
def make_settings(
    app_key: rsa.RSAPrivateKey, alipay_key: rsa.RSAPrivateKey
) -> Callable[..., AlipaySettings]:
    def make(**changes: Any) -> AlipaySettings:
        values: dict[str, Any] = {
            "enabled": True,
            "app_id": APP_ID,
            "app_private_key": SecretStr(_private_pem(app_key)),
            "alipay_public_key": _public_pem(alipay_key),
            "gateway_url": GATEWAY,
            "timeout_seconds": 2.0,
        }
        return AlipaySettings(**(values | changes))

    return make


def signed(key: rsa.RSAPrivateKey, node_key: str, node: dict[str, Any]) -> httpx.Response:
    """The documented shape: ``{"<node_key>": {...}, "sign": base64(RSA2(node text))}``."""
    node_text = json.dumps(node, ensure_ascii=False, separators=(",", ":"))
    sign = base64.b64encode(rsa2_sign(key, node_text.encode())).decode()
    body = f'{{"{node_key}":{node_text},"sign":"{sign}"}}'
    return httpx.Response(200, content=body.encode(), headers={"Content-Type": "text/html"})


def unsigned(node_key: str, node: dict[str, Any]) -> httpx.Response:
    return httpx.Response(200, content=json.dumps({node_key: node}).encode())


def error_node(code: str, sub_code: str) -> dict[str, str]:
    return {"code": code, "msg": "msg", "sub_code": sub_code, "sub_msg": "sub_msg"}


class FakeGateway:
    """Records each request, checks it against 3.1/3.2, and plays the planned answers."""

    def __init__(self, app_key: rsa.RSAPrivateKey, answers: list[Answer]) -> None:
        self.app_public = app_key.public_key()
        self.answers = answers
        self.forms: list[dict[str, str]] = []
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        assert request.method == "POST"
        assert str(request.url) == GATEWAY
        assert request.headers["content-type"] == "application/x-www-form-urlencoded"
        assert request.headers["accept-encoding"] == "identity"
        pairs = parse_qsl(request.content.decode("ascii"), strict_parsing=True)
        form = dict(pairs)
        assert len(form) == len(pairs), "a field was sent twice"
        assert set(form) == FIELDS
        content = "&".join(f"{k}={form[k]}" for k in sorted(form) if k != "sign")
        signature = base64.b64decode(form["sign"], validate=True)
        assert rsa2_verify(self.app_public, signature, content.encode()), "request sign fails"
        self.forms.append(form)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        if callable(answer):
            return answer(request)
        return answer


@pytest.fixture
def run(
    app_key: rsa.RSAPrivateKey, make_settings: Callable[..., AlipaySettings]
) -> Callable[..., Any]:
    async def call(
        answers: list[Answer], code: str = CODE, **changes: Any
    ) -> tuple[AlipayToken | PlatformError, FakeGateway]:
        fake = FakeGateway(app_key, answers)
        async with httpx.AsyncClient(transport=httpx.MockTransport(fake)) as http:
            client = AlipayClient(make_settings(**changes), http, ManualClock(), retry_backoff=0)
            try:
                return await client.oauth_token(code), fake
            except PlatformError as exc:
                assert CODE not in str(exc) and CODE not in exc.reason
                assert SUCCESS["access_token"] not in str(exc)
                return exc, fake

    return call


def _fails(result: object, kind: type[PlatformError], reason: str) -> None:
    assert type(result) is kind, result
    assert isinstance(result, PlatformError)
    assert result.reason == reason


# --- success and request shape ---------------------------------------------------------------


async def test_success_returns_the_verified_ids_and_tokens(
    run: Callable[..., Any], alipay_key: rsa.RSAPrivateKey
) -> None:
    """ASVS V9.1.1: the identity comes from an answer whose RSA2 signature verified."""
    token, fake = await run([signed(alipay_key, NODE_KEY, SUCCESS)])
    assert token == AlipayToken(
        user_id="2088102150477652",
        open_id=None,
        access_token=SUCCESS["access_token"],
        expires_in=3600,
        refresh_token=SUCCESS["refresh_token"],
        re_expires_in=3600,
    )
    assert token.subject == "2088102150477652"
    assert SUCCESS["access_token"] not in repr(token)
    assert SUCCESS["refresh_token"] not in repr(token)
    assert len(fake.forms) == 1


async def test_request_has_the_documented_fields_signed_with_the_app_key(
    run: Callable[..., Any], alipay_key: rsa.RSAPrivateKey
) -> None:
    _, fake = await run([signed(alipay_key, NODE_KEY, SUCCESS)])
    form = fake.forms[0]
    assert {k: v for k, v in form.items() if k != "sign"} == {
        "app_id": APP_ID,
        "method": "alipay.system.oauth.token",
        "format": "JSON",
        "charset": "utf-8",
        "sign_type": "RSA2",
        "timestamp": "2025-06-15 23:06:40",  # ManualClock's 1_750_000_000 in Beijing time
        "version": "1.0",
        "grant_type": "authorization_code",
        "code": CODE,
    }
    request = fake.requests[0]
    assert request.extensions["timeout"] == {"connect": 2.0, "read": 2.0, "write": 2.0, "pool": 2.0}


async def test_open_id_apps_and_string_numbers(
    run: Callable[..., Any], alipay_key: rsa.RSAPrivateKey
) -> None:
    node = {"open_id": "074a1CcTG1LelxKe4xQC0zgNdId0nxi95b5lsNpazWYoCo5", "access_token": "t"}
    node |= {"expires_in": "1296000", "re_expires_in": "2592000"}
    token, _ = await run([signed(alipay_key, NODE_KEY, node)])
    assert isinstance(token, AlipayToken)
    assert (token.user_id, token.open_id) == (None, node["open_id"])
    assert token.subject == node["open_id"]
    assert (token.expires_in, token.re_expires_in, token.refresh_token) == (1296000, 2592000, None)


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"access_token": None}, id="no-access-token"),
        pytest.param({"user_id": None}, id="no-id"),
        pytest.param({"user_id": 2088102150477652}, id="id-not-string"),
        pytest.param({"expires_in": "soon"}, id="expires-not-number"),
        pytest.param({"expires_in": -1}, id="expires-negative"),
        pytest.param({"expires_in": True}, id="expires-bool"),
        pytest.param({"access_token": "t" * 600}, id="token-too-long"),
    ],
)
async def test_incomplete_success_is_a_bad_response(
    run: Callable[..., Any], alipay_key: rsa.RSAPrivateKey, change: dict[str, Any]
) -> None:
    node = {k: v for k, v in (SUCCESS | change).items() if v is not None}
    result, _ = await run([signed(alipay_key, NODE_KEY, node)])
    _fails(result, PlatformBadResponse, "alipay:incomplete")


# --- platform errors (3.1) -------------------------------------------------------------------

ERRORS = [
    ("40002", "isv.code-invalid", PlatformCredentialInvalid),
    ("20001", "aop.invalid-auth-token", PlatformCredentialInvalid),
    ("20001", "aop.auth-token-time-out", PlatformCredentialInvalid),
    ("40004", "isv.unknown-business-refusal", PlatformCredentialInvalid),
    ("20000", "isp.unknow-error", PlatformUnavailable),
    ("20000", "aop.unknow-error", PlatformUnavailable),
    ("40001", "isv.missing-signature", PlatformUnavailable),
    ("40002", "isv.invalid-app-id", PlatformUnavailable),
    ("40002", "isv.invalid-signature", PlatformUnavailable),
    ("40002", "isv.invalid-timestamp", PlatformUnavailable),
    ("40006", "isv.insufficient-isv-permissions", PlatformUnavailable),
    ("40099", "isv.something-new", PlatformBadResponse),
]


@pytest.mark.parametrize("is_signed", [True, False], ids=["signed", "unsigned"])
@pytest.mark.parametrize(("code", "sub_code", "kind"), ERRORS)
async def test_error_responses_map_onto_the_error_tree(
    run: Callable[..., Any],
    alipay_key: rsa.RSAPrivateKey,
    code: str,
    sub_code: str,
    kind: type[PlatformError],
    is_signed: bool,
) -> None:
    """ASVS V16.5.3: every refusal fails closed; a used code is never sent again."""
    node = error_node(code, sub_code)
    answer = (
        signed(alipay_key, "error_response", node)
        if is_signed
        else unsigned("error_response", node)
    )
    result, fake = await run([answer])
    _fails(result, kind, f"alipay:{sub_code}")
    assert len(fake.forms) == 1


async def test_error_inside_the_method_node_is_a_refusal(
    run: Callable[..., Any], alipay_key: rsa.RSAPrivateKey
) -> None:
    result, _ = await run([signed(alipay_key, NODE_KEY, error_node("40002", "isv.code-invalid"))])
    _fails(result, PlatformCredentialInvalid, "alipay:isv.code-invalid")


async def test_refusal_reason_never_carries_remote_free_text(
    run: Callable[..., Any], alipay_key: rsa.RSAPrivateKey
) -> None:
    node = {"code": "40099", "sub_code": "bad code <script> " + "x" * 100}
    result, _ = await run([signed(alipay_key, "error_response", node)])
    _fails(result, PlatformBadResponse, "alipay:40099")


# --- signatures ------------------------------------------------------------------------------


def _tampered(alipay_key: rsa.RSAPrivateKey) -> httpx.Response:
    body = signed(alipay_key, NODE_KEY, SUCCESS).content.replace(
        b"2088102150477652", b"2088000000000001"
    )
    return httpx.Response(200, content=body)


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        pytest.param(_tampered, "signature_invalid", id="tampered-user-id"),
        pytest.param(
            lambda k: signed(_new_key(), NODE_KEY, SUCCESS), "signature_invalid", id="other-key"
        ),
        pytest.param(
            lambda k: unsigned(NODE_KEY, SUCCESS), "signature_missing", id="unsigned-success"
        ),
        pytest.param(
            lambda k: httpx.Response(200, json={NODE_KEY: SUCCESS, "sign": "%%not base64%%"}),
            "signature_invalid",
            id="sign-not-base64",
        ),
    ],
)
async def test_a_success_without_a_valid_alipay_signature_is_refused(
    run: Callable[..., Any],
    alipay_key: rsa.RSAPrivateKey,
    answer: Callable[[rsa.RSAPrivateKey], httpx.Response],
    reason: str,
) -> None:
    """ASVS V9.1.1, V9.1.3: only the configured Alipay key can vouch for an identity."""
    result, _ = await run([answer(alipay_key)])
    _fails(result, PlatformBadResponse, reason)


async def test_a_signed_error_with_a_bad_signature_is_not_trusted(
    run: Callable[..., Any],
) -> None:
    result, _ = await run([signed(_new_key(), "error_response", error_node("20000", "isp.x"))])
    _fails(result, PlatformBadResponse, "signature_invalid")


# --- transport -------------------------------------------------------------------------------


def _request() -> httpx.Request:
    return httpx.Request("POST", GATEWAY)


@pytest.mark.parametrize(
    ("answers", "kind", "reason", "sent"),
    [
        pytest.param(
            [httpx.ReadTimeout("t")], PlatformUnavailable, "alipay:timeout", 1, id="read-timeout"
        ),
        pytest.param(
            [httpx.WriteTimeout("t")], PlatformUnavailable, "alipay:timeout", 1, id="write-timeout"
        ),
        pytest.param(
            [httpx.ReadError("r")], PlatformUnavailable, "alipay:transport", 1, id="read-error"
        ),
        pytest.param(
            [httpx.RemoteProtocolError("r")],
            PlatformUnavailable,
            "alipay:transport",
            1,
            id="protocol",
        ),
        pytest.param(
            [httpx.ConnectError("c"), httpx.ConnectError("c")],
            PlatformUnavailable,
            "alipay:connect_failed",
            2,
            id="connect-error-twice",
        ),
        pytest.param(
            [httpx.ConnectTimeout("c"), httpx.ConnectTimeout("c")],
            PlatformUnavailable,
            "alipay:connect_timeout",
            2,
            id="connect-timeout-twice",
        ),
        pytest.param([httpx.Response(500)], PlatformUnavailable, "alipay:http_500", 1, id="500"),
        pytest.param([httpx.Response(502)], PlatformUnavailable, "alipay:http_502", 1, id="502"),
        pytest.param([httpx.Response(503)], PlatformUnavailable, "alipay:http_503", 1, id="503"),
        pytest.param([httpx.Response(429)], PlatformUnavailable, "alipay:http_429", 1, id="429"),
        pytest.param([httpx.Response(404)], PlatformBadResponse, "alipay:http_404", 1, id="404"),
        pytest.param(
            [httpx.Response(302, headers={"Location": "https://evil.test/"})],
            PlatformBadResponse,
            "alipay:http_302",
            1,
            id="redirect-not-followed",
        ),
        pytest.param(
            [httpx.Response(200, content=b"<html>busy</html>")],
            PlatformBadResponse,
            "alipay:not_json",
            1,
            id="not-json",
        ),
        pytest.param(
            [httpx.Response(200, content=b'{"alipay_system_oauth_token_response":{"a":"\xff"}}')],
            PlatformBadResponse,
            "alipay:not_json",
            1,
            id="not-utf8",
        ),
        pytest.param(
            [httpx.Response(200, json=[1, 2])],
            PlatformBadResponse,
            "alipay:not_json",
            1,
            id="array",
        ),
        pytest.param(
            [httpx.Response(200, content=b"x" * (MAX_RESPONSE_BYTES + 1))],
            PlatformBadResponse,
            "alipay:oversized",
            1,
            id="oversized-declared",
        ),
        pytest.param(
            [httpx.Response(200, content=b" " * MAX_RESPONSE_BYTES)],
            PlatformBadResponse,
            "alipay:not_json",
            1,
            id="exactly-the-limit-is-read",
        ),
        pytest.param(
            [
                httpx.Response(
                    200,
                    stream=httpx.ByteStream(b"\x1f\x8b broken gzip"),
                    headers={"Content-Encoding": "gzip"},
                )
            ],
            PlatformBadResponse,
            "alipay:undecodable",
            1,
            id="bad-content-encoding",
        ),
    ],
)
async def test_transport_failures(
    run: Callable[..., Any],
    answers: list[Answer],
    kind: type[PlatformError],
    reason: str,
    sent: int,
) -> None:
    """ASVS V16.5.2: a slow, broken or hostile gateway gives a typed error, not a hang or 500;
    the single-use code is re-sent only when the connection never opened."""
    result, fake = await run(answers)
    _fails(result, kind, reason)
    assert len(fake.forms) == sent


async def test_oversized_streamed_body_is_cut_off(run: Callable[..., Any]) -> None:
    """No Content-Length: the reader stops once 64 KiB have arrived."""
    produced: list[int] = []

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(100):
            produced.append(1)
            yield b"x" * 4096

    result, _ = await run([httpx.Response(200, content=chunks())])
    _fails(result, PlatformBadResponse, "alipay:oversized")
    assert len(produced) <= MAX_RESPONSE_BYTES // 4096 + 1


@pytest.mark.parametrize("failure", [httpx.ConnectError("c"), httpx.ConnectTimeout("c")])
async def test_one_resend_when_the_connection_never_opened(
    run: Callable[..., Any], alipay_key: rsa.RSAPrivateKey, failure: Exception
) -> None:
    token, fake = await run([failure, signed(alipay_key, NODE_KEY, SUCCESS)])
    assert isinstance(token, AlipayToken)
    assert len(fake.forms) == 2
    assert fake.forms[0] == fake.forms[1]


async def test_a_hung_gateway_is_cut_off_by_the_deadline(
    app_key: rsa.RSAPrivateKey, make_settings: Callable[..., AlipaySettings]
) -> None:
    """The whole exchange is bounded by timeout_seconds even if the transport never answers."""
    calls: list[httpx.Request] = []

    async def hang(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    async with httpx.AsyncClient(transport=httpx.MockTransport(hang)) as http:
        client = AlipayClient(make_settings(timeout_seconds=0.05), http, ManualClock())
        with pytest.raises(PlatformUnavailable) as caught:
            await client.oauth_token(CODE)
    assert caught.value.reason == "alipay:timeout"
    assert len(calls) == 1


# --- input and configuration -----------------------------------------------------------------


@pytest.mark.parametrize("code", ["", "x" * 513, "中文", "a\nb", "a\x00b"])
async def test_malformed_codes_are_refused_before_any_request(
    run: Callable[..., Any], code: str
) -> None:
    result, fake = await run([], code=code)
    _fails(result, PlatformCredentialInvalid, "malformed")
    assert fake.requests == []


async def test_disabled_platform_is_not_configured(
    app_key: rsa.RSAPrivateKey, make_settings: Callable[..., AlipaySettings]
) -> None:
    fake = FakeGateway(app_key, [])
    async with httpx.AsyncClient(transport=httpx.MockTransport(fake)) as http:
        client = AlipayClient(AlipaySettings(), http, ManualClock())  # defaults: disabled
        with pytest.raises(PlatformNotConfigured) as caught:
            await client.oauth_token(CODE)
    assert caught.value.reason == "alipay:not_configured"
    assert fake.requests == []


@pytest.mark.parametrize(
    ("changes", "names"),
    [
        pytest.param({"app_id": ""}, "app_id", id="no-app-id"),
        pytest.param({"app_private_key": None}, "app_private_key", id="no-private-key"),
        pytest.param({"app_private_key": SecretStr("garbage")}, "app_private_key", id="bad-key"),
        pytest.param({"alipay_public_key": ""}, "alipay_public_key", id="no-public-key"),
        pytest.param({"alipay_public_key": "QUJD"}, "alipay_public_key", id="bad-public-key"),
    ],
)
async def test_enabled_platform_with_unusable_settings_stops_start_up(
    make_settings: Callable[..., AlipaySettings], changes: dict[str, Any], names: str
) -> None:
    """ASVS V12.3.1 (https only), V13.3.1: configuration errors name the key, not its value."""
    async with httpx.AsyncClient() as http:
        with pytest.raises(ConfigError) as caught:
            AlipayClient(make_settings(**changes), http, ManualClock())
    assert names in str(caught.value)
    assert "garbage" not in str(caught.value)


async def test_short_app_key_stops_start_up(make_settings: Callable[..., AlipaySettings]) -> None:
    """ASVS V11.2.3: a 1024-bit app key is refused."""
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 (the point)
    async with httpx.AsyncClient() as http:
        with pytest.raises(ConfigError, match="2048"):
            AlipayClient(
                make_settings(app_private_key=SecretStr(_private_pem(small))), http, ManualClock()
            )


async def test_bare_base64_keys_from_alipay_tools_are_accepted(
    run: Callable[..., Any], app_key: rsa.RSAPrivateKey, alipay_key: rsa.RSAPrivateKey
) -> None:
    def bare(pem: str) -> str:
        return "".join(line for line in pem.splitlines() if not line.startswith("-----"))

    token, _ = await run(
        [signed(alipay_key, NODE_KEY, SUCCESS)],
        app_private_key=SecretStr(bare(_private_pem(app_key))),
        alipay_public_key=bare(_public_pem(alipay_key)),
    )
    assert isinstance(token, AlipayToken)


def test_plain_http_gateway_is_refused_by_the_settings() -> None:
    """ASVS V12.2.1: the gateway carries signed requests and tokens: https only (http only
    for a loopback test server)."""
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="https"):
        AlipaySettings(gateway_url="http://openapi.alipay.com/gateway.do")
    assert AlipaySettings(gateway_url="http://127.0.0.1:8443/gateway.do").gateway_url
