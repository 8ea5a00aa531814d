"""Mini program logins end to end: a started ``bastion serve`` (SQLite with in-memory hot state,
then PostgreSQL + Redis) exchanging codes with a fake platform server (tests/e2e/fake_platforms.py)
over real HTTP on loopback. Alipay's gateway must be https, so the fake also listens with TLS
and the server process is made to trust its throw-away certificate (see ``_trust``)."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import certifi
import httpx
import pytest

from tests.e2e import fake_platforms as fp
from tests.e2e.conftest import Server, start_server, stop_server
from tests.e2e.fake_platforms import Garbage, Identity, Refusal

pytestmark = pytest.mark.e2e
PASSWORD = "violet tractor hums at dawn"
PLATFORMS = ("wechat", "telegram", "alipay", "douyin", "baidu")
FIELD = {"alipay": "auth_code", "telegram": "init_data"}
TOKEN_PAIR = {
    *("access_token", "refresh_token", "token_type", "expires_in", "session_id"),
    *("signing_key", "signing_key_id"),  # the session's request-signing key (docs/signing.md)
}
PROBLEM_MEMBERS = {"type", "title", "status", "detail", "instance", "request_id"}


@dataclass(frozen=True)
class Platforms:
    fake: fp.FakePlatforms
    env: dict[str, str]
    bot_token: str
    secrets: tuple[str, ...]

    def leaks(self) -> list[str]:
        """What no response body and no log line may contain."""
        return [*self.fake.session_keys, *self.fake.access_tokens, *self.secrets]


def _trust(folder: Path, certfile: Path) -> dict[str, str]:
    """The server's outbound client trusts certifi's bundle only (``trust_env=False``), so a
    ``sitecustomize`` on its PYTHONPATH points ``certifi.where()`` at that bundle plus the
    fake's certificate. Test-only: nothing in src/ changes."""
    site = folder / "trust"
    site.mkdir()
    bundle = site / "bundle.pem"
    bundle.write_text(Path(certifi.where()).read_text() + "\n" + certfile.read_text())
    (site / "sitecustomize.py").write_text(
        f"import certifi\ncertifi.where = lambda: {str(bundle)!r}\n"
    )
    path = [str(site), *filter(None, [os.environ.get("PYTHONPATH")])]
    return {"PYTHONPATH": os.pathsep.join(path)}


def _server_env(
    apps: fp.Apps, plain: str, tls: str, keys: tuple[str, str], bot: str
) -> dict[str, str]:
    settings = {
        "WECHAT__APP_ID": apps.wechat[0],
        "WECHAT__APP_SECRET": apps.wechat[1],
        "WECHAT__BASE_URL": plain,
        "WECHAT__TIMEOUT_SECONDS": "1",
        "DOUYIN__APP_ID": apps.douyin[0],
        "DOUYIN__APP_SECRET": apps.douyin[1],
        "DOUYIN__BASE_URL": plain,
        "BAIDU__APP_KEY": apps.baidu[0],
        "BAIDU__APP_SECRET": apps.baidu[1],
        "BAIDU__BASE_URL": plain,
        "ALIPAY__APP_ID": apps.alipay_app_id,
        "ALIPAY__APP_PRIVATE_KEY": keys[0],
        "ALIPAY__ALIPAY_PUBLIC_KEY": keys[1],
        "ALIPAY__GATEWAY_URL": tls + "/gateway.do",
        "TELEGRAM__BOT_TOKEN": bot,
    }
    settings |= {f"{p.upper()}__ENABLED": "true" for p in PLATFORMS}
    env = {f"BASTION_PLATFORMS__{k}": v for k, v in settings.items()}
    env["BASTION_SERVER__TRUSTED_PROXIES"] = '["127.0.0.1"]'  # tests name clients by XFF
    return env | {"COLUMNS": "250"}  # one line per row in `users list`


@pytest.fixture(scope="module")
def platforms(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platforms]:
    folder = tmp_path_factory.mktemp("fake")
    (app_private, app_public), (alipay_private, alipay_public) = (
        fp.rsa_key_pair(),
        fp.rsa_key_pair(),
    )
    apps = fp.Apps(
        wechat=("wx" + secrets.token_hex(8), secrets.token_hex(16)),
        douyin=("tt" + secrets.token_hex(8), secrets.token_hex(20)),
        baidu=(secrets.token_urlsafe(24), secrets.token_urlsafe(24)),
        alipay_app_id="2021" + str(secrets.randbelow(10**12)).zfill(12),
        alipay_private_pem=alipay_private,
        app_public_pem=app_public,
    )
    fake = fp.FakePlatforms(apps)
    bot = f"{secrets.randbelow(10**9) + 10**9}:AA{secrets.token_urlsafe(24)}"
    certfile, keyfile = fp.tls_files(folder)
    with (
        fp.FakeServer(fake.app) as plain,
        fp.FakeServer(fake.app, certfile=certfile, keyfile=keyfile) as tls,
    ):
        env = _server_env(apps, plain.url, tls.url, (app_private, alipay_public), bot)
        hidden = (apps.wechat[1], apps.douyin[1], apps.baidu[1], bot, app_private.splitlines()[2])
        yield Platforms(fake, env | _trust(folder, certfile), bot, hidden)


@pytest.fixture(scope="module", params=["sqlite-memory", "postgres-redis"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, platforms: Platforms
) -> Iterator[Server]:
    running = start_server(tmp_path_factory.mktemp("e2e"), request.param, platforms.env)
    yield running
    stop_server(running)


@pytest.fixture
def http(server: Server, platforms: Platforms) -> Iterator[httpx.Client]:
    """A client that checks every response body for session keys and platform secrets."""

    def no_leak(response: httpx.Response) -> None:
        text = response.read().decode("utf-8", "replace")
        leaked = [i for i, s in enumerate(platforms.leaks()) if s in text]
        assert not leaked, f"{response.request.url.path} returned a platform secret"

    with httpx.Client(base_url=server.url, timeout=30, event_hooks={"response": [no_leak]}) as c:
        yield c


def _bearer(token: object) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _new_subject(platform: str = "wechat") -> str:
    return str(secrets.randbelow(10**10) + 1) if platform == "telegram" else uuid.uuid4().hex


def _init_data(user_id: str, bot_token: str) -> str:
    """First-party Telegram initData for ``user_id``, signed with the bot token."""
    user = json.dumps({"id": int(user_id), "first_name": "E2e"}, separators=(",", ":"))
    fields = {"query_id": "AAH" + uuid.uuid4().hex, "user": user}
    fields["auth_date"] = str(int(time.time()))
    check = "\n".join(f"{k}={fields[k]}" for k in sorted(fields))
    key = hmac.new(b"WebAppData", bot_token.encode(), hashlib.sha256).digest()
    fields["hash"] = hmac.new(key, check.encode(), hashlib.sha256).hexdigest()
    return urlencode(fields)


def _credential(p: Platforms, platform: str, answer: fp.Answer) -> dict[str, str]:
    """A fresh credential whose exchange at the fake gives ``answer``."""
    if platform == "telegram":
        assert isinstance(answer, Identity)
        return {"init_data": _init_data(answer.openid, p.bot_token)}
    code = f"{platform}-{uuid.uuid4().hex}"
    p.fake.program(platform, code, answer)
    return {FIELD.get(platform, "code"): code}


def _login(http: httpx.Client, platform: str, credential: dict[str, str]) -> httpx.Response:
    return http.post(f"/v1/platforms/{platform}/login", json=credential)


def _sign_in(http: httpx.Client, p: Platforms, platform: str, who: Identity) -> str:
    """Log in as ``who`` and return the access token."""
    r = _login(http, platform, _credential(p, platform, who))
    assert r.status_code == 200, r.text
    return str(r.json()["access_token"])


def _subject(http: httpx.Client, access_token: str) -> str:
    r = http.get("/v1/verify", headers=_bearer(access_token))
    assert r.status_code == 200, r.text
    return r.headers["X-Bastion-Subject"]


def _problem(r: httpx.Response, status: int, kind: str) -> dict[str, object]:
    assert (r.status_code, r.headers["content-type"]) == (status, "application/problem+json")
    body: dict[str, object] = r.json()
    assert str(body["type"]).endswith(kind) and body["status"] == status, r.text
    return body


def _user_count(server: Server) -> int:
    listed = server.cli("users", "list", "--limit", "10000")
    assert listed.returncode == 0, listed.stderr
    return sum(1 for line in listed.stdout.splitlines() if line.startswith("│"))


def _register_and_login(http: httpx.Client) -> str:
    name = f"u{uuid.uuid4().hex[:10]}"
    r = http.post("/v1/auth/register", json={"username": name, "password": PASSWORD})
    assert r.status_code == 201, r.text
    r = http.post("/v1/auth/login", json={"username": name, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return str(r.json()["access_token"])


@pytest.mark.parametrize("platform", PLATFORMS)
def test_login_gives_a_token_pair_and_the_same_user_again(
    http: httpx.Client, platforms: Platforms, platform: str
) -> None:
    """ASVS V6.3.4, V7.2.4, V10.3.3: each platform login opens a new session for the user
    bound to (platform, app, platform subject); another subject is another user."""
    subject = _new_subject(platform)
    first = _login(http, platform, _credential(platforms, platform, Identity(subject)))
    assert first.status_code == 200, first.text
    tokens = first.json()
    assert set(tokens) == TOKEN_PAIR and tokens["token_type"] == "Bearer"
    user = _subject(http, tokens["access_token"])
    again = _login(http, platform, _credential(platforms, platform, Identity(subject)))
    assert again.status_code == 200, again.text
    assert again.json()["session_id"] != tokens["session_id"]
    assert _subject(http, again.json()["access_token"]) == user
    other = _sign_in(http, platforms, platform, Identity(_new_subject(platform)))
    assert _subject(http, other) != user


def test_wechat_code_is_exchanged_once(http: httpx.Client, platforms: Platforms) -> None:
    """ASVS V6.5.1: a replayed code is refused by Bastion itself; WeChat sees it once."""
    credential = _credential(platforms, "wechat", Identity(_new_subject()))
    assert _login(http, "wechat", credential).status_code == 200
    _problem(_login(http, "wechat", credential), 401, "platform-credential-invalid")
    assert platforms.fake.code_calls[credential["code"]] == 1


def test_wechat_code_sent_twice_at_once_is_exchanged_once(
    http: httpx.Client, platforms: Platforms
) -> None:
    """ASVS V6.5.1: two concurrent logins with one code (the exchange takes 0.3 s): one
    session, one refusal, one call to WeChat (the replay guard is atomic in hot state)."""
    credential = _credential(platforms, "wechat", Identity(_new_subject(), delay=0.3))
    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(lambda _: _login(http, "wechat", credential), range(2)))
    assert sorted(r.status_code for r in answers) == [200, 401]
    assert platforms.fake.code_calls[credential["code"]] == 1


def test_telegram_init_data_is_accepted_once(http: httpx.Client, platforms: Platforms) -> None:
    """ASVS V6.5.1: initData is not single use at Telegram, so Bastion makes it so."""
    credential = _credential(platforms, "telegram", Identity(_new_subject("telegram")))
    assert _login(http, "telegram", credential).status_code == 200
    _problem(_login(http, "telegram", credential), 401, "platform-credential-invalid")


FAILURES: list[tuple[str, fp.Answer, int, str]] = [
    ("wechat", Refusal(40029), 401, "platform-credential-invalid"),
    ("wechat", Refusal(45011), 429, "platform-rate-limited"),
    ("wechat", Refusal(40226), 403, "platform-user-blocked"),
    ("wechat", Identity("slow", delay=3.0), 503, "platform-unavailable"),
    ("wechat", Garbage(), 502, "platform-bad-response"),
    ("douyin", Refusal(40018), 401, "platform-credential-invalid"),
    ("baidu", Refusal("invalid_grant"), 401, "platform-credential-invalid"),
    ("alipay", Refusal("isv.code-invalid"), 401, "platform-credential-invalid"),
    ("alipay", Identity("forged", forged=True), 502, "platform-bad-response"),
]


def test_platform_failures_are_problems_and_create_no_user(
    http: httpx.Client, server: Server, platforms: Platforms
) -> None:
    """ASVS V16.5.1, V16.5.2, V16.5.3, V9.1.1: every failure class is a typed problem without
    the code or a secret; the code is sent once (no resend after a timeout); a slow platform
    costs ``timeout_seconds`` (1 s here); a forged Alipay answer grants nothing; no user."""
    before = _user_count(server)
    for platform, answer, status, kind in FAILURES:
        credential = _credential(platforms, platform, answer)
        started = time.monotonic()
        r = _login(http, platform, credential)
        elapsed = time.monotonic() - started
        assert set(_problem(r, status, kind)) <= PROBLEM_MEMBERS
        code = next(iter(credential.values()))
        assert code not in r.text and "session_key" not in r.text and f"{platform}:" not in r.text
        assert platforms.fake.code_calls[code] == 1, (platform, answer)
        assert elapsed < 2.5, (platform, answer, elapsed)
        assert status not in (429, 503) or r.headers["retry-after"].isdigit()
    assert _user_count(server) == before


def test_session_key_never_reaches_a_response_or_the_log(
    http: httpx.Client, server: Server, platforms: Platforms
) -> None:
    """ASVS V14.2.3, V16.2.5: session keys, app secrets and tokens stay in the server: not in
    any response body (checked on every response by the ``http`` fixture) nor in its log."""
    for platform in ("wechat", "douyin", "baidu", "alipay"):
        access = _sign_in(http, platforms, platform, Identity(_new_subject()))
        for path in ("/v1/platforms/accounts", "/v1/sessions", "/v1/verify"):
            assert http.get(path, headers=_bearer(access)).status_code == 200
    marker = fp.new_session_key()
    garbage = _credential(platforms, "wechat", Garbage(f"session_key={marker}"))
    _problem(_login(http, "wechat", garbage), 502, "platform-bad-response")
    log = server.log.read_text()
    assert "platforms.http.failed" in log  # the log is written, so the check below can fail
    assert not [i for i, s in enumerate([*platforms.leaks(), marker]) if s in log]


def test_link_and_unlink_wechat(http: httpx.Client, platforms: Platforms) -> None:
    """ASVS V8.2.2, V7.5.1: a fresh session links a WeChat identity; another user cannot
    take it (409); unlinking frees it."""
    alice, bob, openid = _register_and_login(http), _register_and_login(http), _new_subject()
    link = "/v1/platforms/wechat/link"

    def link_as(token: str) -> httpx.Response:
        credential = _credential(platforms, "wechat", Identity(openid))
        return http.post(link, json=credential, headers=_bearer(token))

    r = link_as(alice)
    assert (r.status_code, r.json()) == (201, {"platform": "wechat", "linked": "true"}), r.text
    accounts = http.get("/v1/platforms/accounts", headers=_bearer(alice)).json()["accounts"]
    assert [a["platform"] for a in accounts] == ["wechat"]
    via_wechat = _sign_in(http, platforms, "wechat", Identity(openid))
    assert _subject(http, via_wechat) == _subject(http, alice)
    _problem(link_as(bob), 409, "conflict")
    assert http.delete(link, headers=_bearer(alice)).status_code == 204
    assert http.get("/v1/platforms/accounts", headers=_bearer(alice)).json() == {"accounts": []}
    assert link_as(bob).status_code == 201


def test_wechat_phone_number_with_one_access_token(
    http: httpx.Client, platforms: Platforms
) -> None:
    """ASVS V2.4.1: the access_token is fetched once (stable_token) and cached for later calls."""
    access = _sign_in(http, platforms, "wechat", Identity(_new_subject()))
    before = platforms.fake.calls["/cgi-bin/stable_token"]
    for number in ("+8613800000001", "+8613800000002"):
        code = f"phone-{uuid.uuid4().hex}"
        platforms.fake.program("wechat_phone", code, fp.Phone(number))
        r = http.post("/v1/platforms/wechat/phone", json={"code": code}, headers=_bearer(access))
        assert (r.status_code, r.json()["phoneNumber"]) == (200, number), r.text
    assert platforms.fake.calls["/cgi-bin/stable_token"] - before == 1


def test_link_attempts_are_limited_per_client_not_for_everyone(
    http: httpx.Client, platforms: Platforms
) -> None:
    """ASVS V2.4.1, V16.5.2: one client spending the per-IP quota of link attempts (refused
    codes, 120 a minute) is throttled; another client's link still works. Kept last: today
    the quota is shared by every caller, so this spends it for all later link tests."""
    mallory, alice = _register_and_login(http), _register_and_login(http)

    def link_as(token: str, ip: str, answer: fp.Answer) -> httpx.Response:
        headers = _bearer(token) | {"X-Forwarded-For": ip}
        credential = _credential(platforms, "wechat", answer)
        return http.post("/v1/platforms/wechat/link", json=credential, headers=headers)

    for _ in range(200):
        r = link_as(mallory, "203.0.113.7", Refusal(40029))
        if r.status_code == 429:
            break
        _problem(r, 401, "platform-credential-invalid")
    else:
        pytest.fail("link attempts are not limited")
    r = link_as(alice, "198.51.100.9", Identity(_new_subject()))
    assert r.status_code == 201, r.text
