"""A fake of the platforms' server APIs for end-to-end tests, served over real HTTP(S).

It answers the documented shapes (platforms.md 1.1, 1.6, 1.7, 3.1, 3.3, section 4) of WeChat
``/sns/jscode2session``, ``/cgi-bin/stable_token``, ``/wxa/business/getuserphonenumber``, Douyin
``/api/apps/v2/jscode2session``, Baidu ``/oauth/jscode2sessionkey`` and the Alipay gateway
(the request's RSA2 signature is checked with the app's public key; answers are signed with the
fake's "Alipay" key over the node's exact text). Tests program it: ``fake.program(platform,
code, answer)``. A code is single use, as at the platforms; ``calls`` counts requests per path,
``code_calls`` per code; ``session_keys`` and ``access_tokens`` hold every one handed out.
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import ipaddress
import json
import os
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import uvicorn
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

__all__ = ["Apps", "FakePlatforms", "FakeServer", "Garbage", "Identity", "Phone", "Refusal"]
__all__ += ["new_session_key", "rsa_key_pair", "tls_files"]


def new_session_key(size: int = 16) -> str:
    return base64.b64encode(os.urandom(size)).decode()


@dataclass(frozen=True, slots=True)
class Identity:
    """A successful exchange, answered after ``delay`` seconds; ``forged`` (Alipay only) signs
    it with a key that is not the configured one."""

    openid: str
    unionid: str | None = None
    session_key: str = field(default_factory=new_session_key)
    delay: float = 0.0
    forged: bool = False


@dataclass(frozen=True, slots=True)
class Refusal:
    """A platform error: WeChat errcode, Douyin err_no, Baidu ``error``, Alipay sub_code."""

    error: int | str


@dataclass(frozen=True, slots=True)
class Garbage:
    """A 200 answer that is not JSON (an HTML error page) quoting ``text``."""

    text: str = "busy"


@dataclass(frozen=True, slots=True)
class Phone:
    number: str


Answer = Identity | Refusal | Garbage | Phone
_INVALID_CODE: dict[str, int | str] = {"douyin": 40018, "baidu": "invalid_grant"}
_INVALID_CODE["alipay"] = "isv.code-invalid"


@dataclass(frozen=True, slots=True)
class Apps:
    """What the fake expects from the server ((app id, secret) pairs) and the Alipay keys."""

    wechat: tuple[str, str]
    douyin: tuple[str, str]
    baidu: tuple[str, str]
    alipay_app_id: str
    alipay_private_pem: str  # the fake's "Alipay" key: it signs every gateway answer
    app_public_pem: str  # the app's key: it verifies the server's signed requests


def _pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def rsa_key_pair() -> tuple[str, str]:
    """A fresh 2048-bit RSA key pair as (PKCS#8 private PEM, SubjectPublicKeyInfo PEM)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return _pem(key).decode(), public.decode()


def tls_files(folder: Path) -> tuple[Path, Path]:
    """A throw-away self-signed CA certificate for 127.0.0.1 and its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bastion e2e fake platform")])
    now = datetime.datetime.now(datetime.UTC)
    san = x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(san, critical=False)
        .sign(key, hashes.SHA256())
    )
    certfile, keyfile = folder / "cert.pem", folder / "key.pem"
    certfile.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    keyfile.write_bytes(_pem(key))
    return certfile, keyfile


class FakePlatforms:
    def __init__(self, apps: Apps) -> None:
        self.apps = apps
        self.calls: Counter[str] = Counter()
        self.code_calls: Counter[str] = Counter()
        self.session_keys: list[str] = []
        self._answers: dict[tuple[str, str], Answer] = {}
        self.access_tokens: set[str] = set()
        self._lock = threading.Lock()
        alipay_key = serialization.load_pem_private_key(apps.alipay_private_pem.encode(), None)
        app_key = serialization.load_pem_public_key(apps.app_public_pem.encode())
        assert isinstance(alipay_key, rsa.RSAPrivateKey)
        assert isinstance(app_key, rsa.RSAPublicKey)
        self._alipay_key, self._app_key = alipay_key, app_key
        self._forger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.app = Starlette(
            routes=[
                Route("/sns/jscode2session", self._wechat_login, methods=["GET"]),
                Route("/cgi-bin/stable_token", self._wechat_token, methods=["POST"]),
                Route("/wxa/business/getuserphonenumber", self._wechat_phone, methods=["POST"]),
                Route("/api/apps/v2/jscode2session", self._douyin, methods=["POST"]),
                Route("/oauth/jscode2sessionkey", self._baidu, methods=["POST"]),
                Route("/gateway.do", self._alipay, methods=["POST"]),
            ]
        )

    def program(self, platform: str, code: str, answer: Answer) -> None:
        """Answer the next exchange of ``code`` at ``platform`` (``wechat_phone`` for phone
        codes) with ``answer``; the session_key it carries is remembered as issued."""
        with self._lock:
            self._answers[(platform, code)] = answer
            if isinstance(answer, Identity):
                self.session_keys.append(answer.session_key)

    async def _take(self, request: Request, platform: str, code: str) -> Answer:
        with self._lock:
            self.calls[request.url.path] += 1
            self.code_calls[code] += 1
            answer = self._answers.pop((platform, code), None)
        if answer is None:
            return Refusal(_INVALID_CODE.get(platform, 40029))
        if isinstance(answer, Identity) and answer.delay:
            await asyncio.sleep(answer.delay)
        return answer

    async def _wechat_login(self, request: Request) -> Response:
        q = request.query_params
        if q.get("appid") != self.apps.wechat[0] or q.get("grant_type") != "authorization_code":
            return _wechat_error(40013)
        if q.get("secret") != self.apps.wechat[1]:
            return _wechat_error(40125)
        answer = await self._take(request, "wechat", q.get("js_code", ""))
        if not isinstance(answer, Identity):
            return _render(answer, _wechat_error)
        body = {"openid": answer.openid, "session_key": answer.session_key}
        return JSONResponse(body | ({"unionid": answer.unionid} if answer.unionid else {}))

    async def _wechat_token(self, request: Request) -> Response:
        with self._lock:
            self.calls[request.url.path] += 1
        body = json.loads(await request.body())
        if [body.get("appid"), body.get("secret")] != list(self.apps.wechat):
            return _wechat_error(40125)
        token = "ACCESS_" + base64.urlsafe_b64encode(os.urandom(24)).decode()
        self.access_tokens.add(token)
        return JSONResponse({"access_token": token, "expires_in": 7200})

    async def _wechat_phone(self, request: Request) -> Response:
        if request.query_params.get("access_token") not in self.access_tokens:
            return _wechat_error(40001)
        answer = await self._take(request, "wechat_phone", json.loads(await request.body())["code"])
        if not isinstance(answer, Phone):
            return _render(answer, _wechat_error)
        watermark = {"timestamp": int(time.time()), "appid": self.apps.wechat[0]}
        info: dict[str, object] = {"phoneNumber": answer.number, "countryCode": "86"}
        info |= {"purePhoneNumber": answer.number[-11:], "watermark": watermark}
        return JSONResponse({"errcode": 0, "errmsg": "ok", "phone_info": info})

    async def _douyin(self, request: Request) -> Response:
        body = json.loads(await request.body())
        if [body.get("appid"), body.get("secret")] != list(self.apps.douyin):
            return _douyin_error(40017)
        answer = await self._take(request, "douyin", body.get("code", ""))
        if not isinstance(answer, Identity):
            return _render(answer, _douyin_error)
        data = {"session_key": answer.session_key, "openid": answer.openid}
        data |= {"anonymous_openid": "", "unionid": answer.unionid or ""}
        return JSONResponse({"err_no": 0, "err_tips": "success", "log_id": "1", "data": data})

    async def _baidu(self, request: Request) -> Response:
        form = dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))
        if [form.get("client_id"), form.get("sk")] != list(self.apps.baidu):
            return _baidu_error("invalid_client")
        answer = await self._take(request, "baidu", form.get("code", ""))
        if not isinstance(answer, Identity):
            return _render(answer, _baidu_error)
        return JSONResponse({"openid": answer.openid, "session_key": answer.session_key})

    async def _alipay(self, request: Request) -> Response:
        form = dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))
        if not self._signed_by_app(form) or form.get("app_id") != self.apps.alipay_app_id:
            return self._alipay_answer({"code": "40002", "sub_code": "isv.invalid-signature"})
        if form.get("method") != "alipay.system.oauth.token":
            return self._alipay_answer({"code": "40002", "sub_code": "isv.invalid-method"})
        answer = await self._take(request, "alipay", form.get("code", ""))
        if isinstance(answer, Identity):
            token: dict[str, object] = {"open_id": answer.openid, "expires_in": 1296000}
            token |= {"access_token": "authusrB" + answer.session_key, "refresh_token": "r"}
            return self._alipay_answer(token, forged=answer.forged)
        return _render(answer, self._alipay_refusal)

    def _alipay_refusal(self, sub_code: int | str) -> Response:
        error = {"code": "40002", "sub_code": str(sub_code), "sub_msg": "授权码code无效"}
        return self._alipay_answer(error)

    def _signed_by_app(self, form: dict[str, str]) -> bool:
        content = "&".join(f"{k}={v}" for k, v in sorted(form.items()) if v and k != "sign")
        try:
            signature = base64.b64decode(form.get("sign", ""), validate=True)
            self._app_key.verify(signature, content.encode(), padding.PKCS1v15(), hashes.SHA256())
        except (InvalidSignature, ValueError):
            return False
        return True

    def _alipay_answer(self, node: Mapping[str, object], *, forged: bool = False) -> Response:
        name = "alipay_system_oauth_token_response" if "open_id" in node else "error_response"
        if name == "error_response":
            node = {"code": node["code"], "msg": "Invalid Arguments", **node}
        text = json.dumps(node, ensure_ascii=False, separators=(",", ":"))
        key = self._forger if forged else self._alipay_key
        sign = base64.b64encode(key.sign(text.encode(), padding.PKCS1v15(), hashes.SHA256()))
        body = f'{{"{name}":{text},"sign":"{sign.decode()}"}}'
        return Response(body.encode(), media_type="text/html;charset=utf-8")


def _render(answer: Answer, error: Callable[[int | str], Response]) -> Response:
    if isinstance(answer, Garbage):
        page = f"<html><body><h1>502 Bad Gateway</h1>{answer.text}</body></html>"
        return Response(page, media_type="text/html")
    if isinstance(answer, Refusal):
        return error(answer.error)
    raise AssertionError(f"{type(answer).__name__} does not fit this API")


def _wechat_error(errcode: int | str) -> Response:
    return JSONResponse({"errcode": errcode, "errmsg": f"error, rid: {os.urandom(6).hex()}"})


def _douyin_error(err_no: int | str) -> Response:
    return JSONResponse({"err_no": err_no, "err_tips": "bad code", "log_id": "1", "data": {}})


def _baidu_error(error: int | str) -> Response:
    body = {"errno": 400, "error": error, "error_description": "invalid code"}
    return JSONResponse(body, status_code=400)


class FakeServer:
    """Runs an ASGI app with uvicorn in a daemon thread on 127.0.0.1:<free port>; TLS when
    given a certificate. No signal handlers are installed (uvicorn skips them off the main
    thread)."""

    def __init__(self, app: Any, *, certfile: Path | None = None, keyfile: Path | None = None):
        config = uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,
            lifespan="off",
            ws="none",
            ssl_certfile=certfile,
            ssl_keyfile=keyfile,
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        port = self._socket.getsockname()[1]
        self.url = f"{'https' if certfile else 'http'}://127.0.0.1:{port}"
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )

    def __enter__(self) -> FakeServer:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            assert self._thread.is_alive() and time.monotonic() < deadline, "fake did not start"
            time.sleep(0.01)  # polling for start-up, not waiting for an expiry
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._socket.close()
