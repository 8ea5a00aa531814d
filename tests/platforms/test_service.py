"""PlatformLogins end to end: a whole Bastion whose outbound calls go to the recording fake of
every platform (tests/platforms/conftest.py), plus the HTTP routes in process."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from structlog.testing import capture_logs

from bastion.errors import AuthenticationFailed, StorageUnavailable, Throttled
from bastion.http import create_app
from bastion.infra import ManualClock
from bastion.infra.schema import platform_identities, sessions, users
from bastion.platforms import (
    PlatformBadResponse,
    PlatformCredentialInvalid,
    PlatformError,
    PlatformNotConfigured,
    PlatformRateLimited,
    PlatformUnavailable,
    PlatformUserBlocked,
)
from bastion.sessions import DeviceInfo
from tests.platforms.conftest import (
    ALL_PLATFORMS,
    BAIDU_SECRET,
    BOT_TOKEN,
    CODE_PLATFORMS,
    DOUYIN_SECRET,
    SESSION_KEY,
    WECHAT_SECRET,
    FakePlatforms,
    GuardFactory,
    credential,
    fresh,
    telegram_init_data,
)

IP = "198.51.100.7"
SECRETS = (WECHAT_SECRET, DOUYIN_SECRET, BAIDU_SECRET, BOT_TOKEN, SESSION_KEY)


def device(ip: str = IP) -> DeviceInfo:
    return DeviceInfo(ip=ip, user_agent="tests")


async def count(guard: Any, table: Any) -> int:
    async with guard.db.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())


async def events(guard: Any, action: str) -> list[Any]:
    return list(await guard.audit.tail(1000, action=action))


async def login(guard: Any, fake: FakePlatforms, platform: str, subject: str | None = None) -> Any:
    cred = credential(fake, platform, subject, guard.clock.now())
    return await guard.platforms.login(platform, cred, device())


# -- success -------------------------------------------------------------------------------


@pytest.mark.parametrize("platform", ALL_PLATFORMS)
async def test_login_gives_a_verifiable_token_pair(
    any_platform_guard: Any, fake: FakePlatforms, platform: str
) -> None:
    """ASVS V7.2.4, V16.3.1: a platform login opens a new session like a password login, with
    the platform as the authentication method, and is audited."""
    guard = any_platform_guard
    pair = await login(guard, fake, platform)
    claims = await guard.sessions.verify_access(pair.access_token)
    assert claims.amr == (platform,)
    assert claims.session_id == pair.session_id
    user = await guard.identity.users.get(claims.subject)
    assert user.username.startswith(f"{platform}_") and not user.is_admin
    [event] = await events(guard, "platform.login")
    assert (event.outcome, event.subject) == ("success", claims.subject)
    assert event.details["platform"] == platform and event.details["new_user"] is True


@pytest.mark.parametrize("platform", ALL_PLATFORMS)
async def test_same_subject_twice_is_the_same_user(
    any_platform_guard: Any, fake: FakePlatforms, platform: str
) -> None:
    """ASVS V10.3.3: the user is found by (platform, app id, subject), with a new session each
    time (V7.2.4)."""
    guard = any_platform_guard
    subject = "424242" if platform == "telegram" else fresh("subject-")
    first = await guard.sessions.verify_access(
        (await login(guard, fake, platform, subject)).access_token
    )
    second = await guard.sessions.verify_access(
        (await login(guard, fake, platform, subject)).access_token
    )
    assert first.subject == second.subject
    assert first.session_id != second.session_id
    assert await count(guard, users) == 1
    assert [i.subject for i in await guard.platform_accounts.identities(first.subject)] == [subject]


async def test_a_new_subject_is_a_new_user_without_a_usable_password(
    platform_guard: Any, fake: FakePlatforms
) -> None:
    """ASVS V6.3.4: a user created by a platform login has no password, so the password
    pathway cannot be used for that account whatever is tried."""
    guard = platform_guard
    one = await guard.sessions.verify_access((await login(guard, fake, "wechat")).access_token)
    two = await guard.sessions.verify_access((await login(guard, fake, "wechat")).access_token)
    assert one.subject != two.subject
    user = await guard.identity.users.get(one.subject)
    assert user.password_hash.startswith("!")
    for attempt in ("", "a long and unusual passphrase", user.password_hash):
        with pytest.raises(AuthenticationFailed):
            await guard.identity.login(user.username, attempt, device())


async def test_wechat_unionid_from_a_second_app_joins_the_same_user(
    platform_guard: Any, open_platform_guard: GuardFactory, fake: FakePlatforms
) -> None:
    """Two mini programs of one developer share the database: the unionid WeChat returns for
    both makes them one user, while another unionid stays another user (ASVS V10.3.3)."""
    other_app = await open_platform_guard(wechat={"app_id": "wx00000000second01"})
    pair = await platform_guard.platforms.login(
        "wechat", {"code": fake.wechat_code("o-app-a", unionid="u-shared")}, device()
    )
    joined = await other_app.platforms.login(
        "wechat", {"code": fake.wechat_code("o-app-b", unionid="u-shared")}, device()
    )
    stranger = await other_app.platforms.login(
        "wechat", {"code": fake.wechat_code("o-app-c", unionid="u-other")}, device()
    )
    first = await platform_guard.sessions.verify_access(pair.access_token)
    assert (await other_app.sessions.verify_access(joined.access_token)).subject == first.subject
    assert (await other_app.sessions.verify_access(stranger.access_token)).subject != first.subject
    found = await platform_guard.platform_accounts.identities(first.subject)
    assert sorted((i.app_id, i.subject) for i in found) == [
        ("wx00000000second01", "o-app-b"),
        ("wx4f4bc4dec97d474b", "o-app-a"),
    ]


async def test_unionid_attached_under_another_app_id_is_joined(
    any_platform_guard: Any, fake: FakePlatforms
) -> None:
    guard = any_platform_guard
    registered = await guard.identity.register("carol", "violet tractor hums at dawn")
    async with guard.db.begin() as conn:
        await guard.platforms.store.attach(
            conn, registered.user_id, "wechat", "wx-another-app", "o-elsewhere", "u-carol"
        )
    pair = await guard.platforms.login(
        "wechat", {"code": fake.wechat_code("o-here", unionid="u-carol")}, device()
    )
    assert (await guard.sessions.verify_access(pair.access_token)).subject == registered.user_id
    assert await count(guard, users) == 1


async def _at_once(guard: Any, codes: list[str]) -> list[Any]:
    """Log in with every code concurrently; a hang (deadlock) fails after 2 s, not minutes."""
    async with asyncio.timeout(2):
        return await asyncio.gather(
            *(guard.platforms.login("wechat", {"code": c}, device()) for c in codes),
            return_exceptions=True,
        )


async def test_a_failure_after_the_user_row_leaves_no_user(
    any_platform_guard: Any, fake: FakePlatforms, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ASVS V2.3.3: a first login is one transaction: when a later step fails, the user row
    written before it is rolled back too (no orphan account without a way in)."""
    guard = any_platform_guard

    async def broken_attach(*args: Any, **kwargs: Any) -> Any:
        raise StorageUnavailable

    monkeypatch.setattr(guard.platforms.store, "attach", broken_attach)
    with pytest.raises(StorageUnavailable):
        await login(guard, fake, "wechat")
    assert (await count(guard, users), await count(guard, sessions)) == (0, 0)
    assert await events(guard, "auth.register") == []


async def test_concurrent_first_logins_of_two_new_users_complete(
    any_platform_guard: Any, fake: FakePlatforms
) -> None:
    """ASVS V16.5.2: two first-time users signing in at the same moment both get a session
    (a first login records two audit events in one transaction: it must not deadlock)."""
    guard = any_platform_guard
    results = await _at_once(guard, [fake.wechat_code("o-first"), fake.wechat_code("o-second")])
    assert all(not isinstance(r, BaseException) for r in results), results
    assert await count(guard, users) == 2


async def test_concurrent_first_logins_of_one_subject_make_one_user(
    any_platform_guard: Any, fake: FakePlatforms
) -> None:
    """ASVS V2.3.4: a double tap sends two codes for one new subject at once; both log in as
    the same single user (the unique constraint decides, the loser finds the winner)."""
    guard = any_platform_guard
    codes = [fake.wechat_code("o-double-tap"), fake.wechat_code("o-double-tap")]
    results = await _at_once(guard, codes)
    assert all(not isinstance(r, BaseException) for r in results), results
    subjects = {(await guard.sessions.verify_access(r.access_token)).subject for r in results}
    assert len(subjects) == 1
    assert await count(guard, users) == 1


# -- replays -------------------------------------------------------------------------------


@pytest.mark.parametrize("platform", CODE_PLATFORMS)
async def test_a_code_is_used_once(
    any_platform_guard: Any, fake: FakePlatforms, platform: str
) -> None:
    """ASVS V6.5.1: the second use of a login code is refused before any call to the
    platform, so the platform sees it exactly once."""
    guard = any_platform_guard
    cred = credential(fake, platform, None, guard.clock.now())
    await guard.platforms.login(platform, cred, device())
    with pytest.raises(PlatformCredentialInvalid) as caught:
        await guard.platforms.login(platform, cred, device())
    assert caught.value.reason == "replayed"
    assert fake.count(f"{platform}.login") == 1
    assert await count(guard, sessions) == 1
    failed = [e for e in await events(guard, "platform.login") if e.outcome == "failure"]
    assert [e.reason for e in failed] == ["replayed"]


async def test_the_same_telegram_init_data_is_used_once(
    any_platform_guard: Any, clock: ManualClock
) -> None:
    """ASVS V6.5.1, V9.1.1: a signed initData is a bearer credential; its second use within
    its lifetime is refused."""
    guard = any_platform_guard
    cred = {"init_data": telegram_init_data(user_id=777, auth_date=int(clock.now()) - 5)}
    await guard.platforms.login("telegram", cred, device())
    clock.advance(30)
    with pytest.raises(PlatformCredentialInvalid) as caught:
        await guard.platforms.login("telegram", cred, device())
    assert caught.value.reason == "replayed"
    assert await count(guard, sessions) == 1


async def test_a_forged_init_data_does_not_burn_the_real_one(
    platform_guard: Any, clock: ManualClock
) -> None:
    """A tampered copy is checked before the replay guard, so it cannot block the owner."""
    real = telegram_init_data(user_id=778, auth_date=int(clock.now()) - 5)
    forged = real.replace("778", "779", 1)
    with pytest.raises(PlatformCredentialInvalid) as caught:
        await platform_guard.platforms.login("telegram", {"init_data": forged}, device())
    assert caught.value.reason == "signature_invalid"
    await platform_guard.platforms.login("telegram", {"init_data": real}, device())


# -- failures ------------------------------------------------------------------------------

_REFUSED, _BUSY, _BAD = PlatformCredentialInvalid, PlatformUnavailable, PlatformBadResponse
_FAILURES: dict[str, tuple[str, Any, type[PlatformError], str]] = {
    "40029": ("wechat", 40029, _REFUSED, "wechat:40029"),
    "45011": ("wechat", 45011, PlatformRateLimited, "wechat:45011"),
    "40226": ("wechat", 40226, PlatformUserBlocked, "wechat:40226"),
    "minus-one-twice": ("wechat", [-1, -1], _BUSY, "wechat:-1"),
    "timeout": ("wechat", "timeout", _BUSY, "wechat:timeout"),
    "connect-failed": ("wechat", [httpx.ConnectError("x")] * 2, _BUSY, "wechat:connect_failed"),
    "non-json": ("wechat", "not_json", _BAD, "wechat:not_json"),
    "oversized": ("wechat", "oversized", _BAD, "wechat:oversized"),
    "http-500": ("wechat", httpx.Response(500), _BUSY, "wechat:http_500"),
    "douyin-40018": ("douyin", 40018, _REFUSED, "douyin:40018"),
    "douyin-timeout": ("douyin", "timeout", _BUSY, "douyin:timeout"),
    "baidu-invalid-grant": ("baidu", "invalid_grant", _REFUSED, "baidu:invalid_grant"),
    "baidu-non-json": ("baidu", "not_json", _BAD, "baidu:not_json"),
    "alipay-code-invalid": ("alipay", "isv.code-invalid", _REFUSED, "alipay:isv.code-invalid"),
    "alipay-busy": ("alipay", "isp.unknow-error", _BUSY, "alipay:isp.unknow-error"),
    "alipay-oversized": ("alipay", "oversized", _BAD, "alipay:oversized"),
}
_STATUS = {_REFUSED: 401, PlatformRateLimited: 429, PlatformUserBlocked: 403, _BUSY: 503, _BAD: 502}


@pytest.mark.parametrize(
    ("platform", "failure", "kind", "reason"), list(_FAILURES.values()), ids=list(_FAILURES)
)
async def test_a_platform_failure_creates_nothing_and_is_audited(
    platform_guard: Any,
    fake: FakePlatforms,
    platform: str,
    failure: Any,
    kind: type[PlatformError],
    reason: str,
) -> None:
    """ASVS V16.3.1, V16.5.2, V16.5.3: every failure class of the exchange maps to its typed
    error, creates no user and no session, and is audited with the exact reason."""
    guard = platform_guard
    fake.fail(*(failure if isinstance(failure, list) else [failure]))
    cred = credential(fake, platform, None, guard.clock.now())
    with capture_logs() as logs, pytest.raises(PlatformError) as caught:
        await guard.platforms.login(platform, cred, device())
    assert type(caught.value) is kind
    assert (caught.value.status, caught.value.reason) == (_STATUS[kind], reason)
    if failure == [-1, -1]:
        assert fake.count("wechat.login") == 2  # -1 is "not processed": resent once, no more
    assert (await count(guard, users), await count(guard, sessions)) == (0, 0)
    assert await count(guard, platform_identities) == 0
    [event] = await events(guard, "platform.login")
    assert (event.outcome, event.reason, event.details) == (
        "failure",
        reason,
        {"platform": platform},
    )
    _assert_nothing_secret(caught.value, logs, *cred.values())


@pytest.mark.parametrize(
    ("case", "reason"), [("expired", "expired"), ("tampered", "signature_invalid")]
)
async def test_a_refused_telegram_init_data_creates_nothing(
    platform_guard: Any, clock: ManualClock, case: str, reason: str
) -> None:
    """ASVS V9.1.1, V9.2.1: a stale or altered initData is a 401 with the exact reason."""
    now = int(clock.now())
    if case == "expired":
        init_data = telegram_init_data(user_id=900, auth_date=now - 3601)
    else:
        init_data = telegram_init_data(user_id=900, auth_date=now - 5).replace("900", "901", 1)
    with capture_logs() as logs, pytest.raises(PlatformCredentialInvalid) as caught:
        await platform_guard.platforms.login("telegram", {"init_data": init_data}, device())
    assert (caught.value.status, caught.value.reason) == (401, reason)
    assert (await count(platform_guard, users), await count(platform_guard, sessions)) == (0, 0)
    [event] = await events(platform_guard, "platform.login")
    assert (event.outcome, event.reason) == ("failure", reason)
    _assert_nothing_secret(caught.value, logs, init_data)


@pytest.mark.parametrize("platform", ["wechat", "telegram", "qq"])
async def test_a_platform_not_enabled_is_404(guard: Any, platform: str) -> None:
    """The default settings enable no platform: 404, nothing sent anywhere, audited."""
    with pytest.raises(PlatformNotConfigured) as caught:
        await guard.platforms.login(platform, {"code": "abc", "init_data": "a=b"}, device())
    assert caught.value.status == 404
    assert caught.value.reason == f"{platform}:disabled"
    [event] = await events(guard, "platform.login")
    assert (event.outcome, event.reason) == ("failure", f"{platform}:disabled")
    assert await count(guard, users) == 0


@pytest.mark.parametrize("credential_", [{}, {"code": ""}, {"js_code": "abc"}], ids=repr)
async def test_a_missing_field_is_malformed(
    platform_guard: Any, fake: FakePlatforms, credential_: dict[str, str]
) -> None:
    with pytest.raises(PlatformCredentialInvalid) as caught:
        await platform_guard.platforms.login("wechat", credential_, device())
    assert caught.value.reason == "malformed"
    assert fake.calls == []


def _assert_nothing_secret(error: PlatformError, logs: list[Any], *values: str) -> None:
    """ASVS V16.2.5, V16.5.1: no credential or secret in the error or any log line."""
    shown = [str(error), error.detail, repr(error), json.dumps(error.problem()), repr(logs)]
    for value in (*SECRETS, *values):
        assert all(value not in text for text in shown), value


# -- session_key at rest and in transit ----------------------------------------------------


@pytest.mark.parametrize(
    ("platform", "key"),
    [
        ("wechat", SESSION_KEY),
        ("douyin", SESSION_KEY),
        ("baidu", "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3"),
    ],
)
async def test_session_key_is_sealed_at_rest_and_never_shown(
    any_platform_guard: Any, fake: FakePlatforms, platform: str, key: str
) -> None:
    """ASVS V13.3.1, V14.2.4, V16.2.5: the session_key is stored sealed (no column holds it in
    the clear, base64 text or raw bytes) and never appears in a response or a log line."""
    import base64

    guard = any_platform_guard
    with capture_logs() as logs:
        pair = await login(guard, fake, platform)
    async with guard.db.connect() as conn:
        [row] = (await conn.execute(select(platform_identities))).all()
        [identity] = await guard.platforms.store.of_user(conn, row.user_id)
        stored = await guard.platforms.store.sealed_field(conn, identity, "session_key")
    assert stored == key.encode()  # it is kept, for decryption later
    raw = base64.b64decode(key)
    for column in row:
        blob = column if isinstance(column, bytes) else str(column).encode()
        assert key.encode() not in blob and raw not in blob
    assert row.session_key_sealed is not None and len(row.session_key_sealed) > len(raw)
    assert all(key not in str(value) for value in (pair, repr(pair), repr(identity), repr(logs)))
    audit = [e async for e in guard.audit.iterate()]
    assert key not in repr(audit)


async def test_each_login_replaces_the_stored_session_key(
    platform_guard: Any, fake: FakePlatforms
) -> None:
    """platforms.md 1.2: WeChat keeps one valid session_key per user; the newest is kept."""
    newer = "bmV3ZXItc2Vzc2lvbi1rZXk="
    await platform_guard.platforms.login("wechat", {"code": fake.wechat_code("o-k")}, device())
    code = fake.wechat_code("o-k", session_key=newer)
    await platform_guard.platforms.login("wechat", {"code": code}, device())
    async with platform_guard.db.connect() as conn:
        [identity] = await platform_guard.platforms.store.of_user(
            conn, (await platform_guard.admin.list())[0].id
        )
        stored = await platform_guard.platforms.store.sealed_field(conn, identity, "session_key")
    assert stored == newer.encode()


# -- rate limits ---------------------------------------------------------------------------


async def test_per_ip_login_quota(
    platform_guard: Any, fake: FakePlatforms, clock: ManualClock
) -> None:
    """ASVS V6.3.1, V2.4.1: at most 120 platform logins per minute per IP and platform; the
    121st is a 429 sent nowhere; the next minute the quota is back."""
    guard = platform_guard
    clock.set((int(clock.now()) // 60 + 1) * 60)  # the start of a window
    for _ in range(120):
        await login(guard, fake, "telegram")
    with pytest.raises(Throttled) as caught:
        await login(guard, fake, "telegram")
    assert caught.value.status == 429
    wechat = await login(guard, fake, "wechat")  # another platform has its own quota
    assert wechat.access_token
    denied = await events(guard, "platform.login.throttled")
    assert [(e.outcome, e.reason) for e in denied] == [("denied", "ip")]
    other_ip = credential(fake, "telegram", None, clock.now())
    await guard.platforms.login("telegram", other_ip, device("198.51.100.8"))
    clock.advance(60)
    await login(guard, fake, "telegram")


async def test_per_ip_quota_is_spent_before_any_outbound_call(
    platform_guard: Any, fake: FakePlatforms, clock: ManualClock
) -> None:
    guard = platform_guard
    clock.set((int(clock.now()) // 60 + 1) * 60)
    for _ in range(120):
        with pytest.raises(PlatformCredentialInvalid):
            await guard.platforms.login("wechat", {"code": fresh("bad")}, device())
    assert fake.count("wechat.login") == 120
    with pytest.raises(Throttled):
        await login(guard, fake, "wechat")
    assert fake.count("wechat.login") == 120
    assert await count(guard, users) == 0


async def test_per_subject_login_quota(
    platform_guard: Any, fake: FakePlatforms, clock: ManualClock
) -> None:
    """ASVS V6.3.1: at most 100 logins per minute for one platform subject (WeChat's own
    per-user quota), whatever the IP; the next minute it is allowed again."""
    guard = platform_guard
    clock.set((int(clock.now()) // 60 + 1) * 60)
    for n in range(100):
        cred = credential(fake, "wechat", "o-busy", clock.now())
        await guard.platforms.login("wechat", cred, device(f"10.0.{n // 200}.{n % 200 + 1}"))
    with pytest.raises(Throttled):
        await guard.platforms.login(
            "wechat", credential(fake, "wechat", "o-busy", clock.now()), device("10.9.9.9")
        )
    denied = await events(guard, "platform.login.throttled")
    assert [(e.outcome, e.reason) for e in denied] == [("denied", "sub")]
    sessions_before = await count(guard, sessions)
    await login(guard, fake, "wechat", "o-someone-else")
    clock.advance(60)
    await login(guard, fake, "wechat", "o-busy")
    assert await count(guard, sessions) == sessions_before + 2


# -- locked users --------------------------------------------------------------------------


async def test_a_locked_user_cannot_log_in_through_a_platform(
    any_platform_guard: Any, fake: FakePlatforms
) -> None:
    """ASVS V6.3.4: locking applies to every pathway, platform logins included."""
    guard = any_platform_guard
    pair = await login(guard, fake, "telegram", "31337")
    user_id = (await guard.sessions.verify_access(pair.access_token)).subject
    await guard.admin.lock(user_id)
    sessions_before = await count(guard, sessions)
    with pytest.raises(PlatformCredentialInvalid) as caught:
        await login(guard, fake, "telegram", "31337")
    assert (caught.value.status, caught.value.reason) == (401, "account_locked")
    assert await count(guard, sessions) == sessions_before
    failed = [e for e in await events(guard, "platform.login") if e.outcome == "failure"]
    assert [e.reason for e in failed] == ["account_locked"]
    await guard.admin.unlock(user_id)
    await login(guard, fake, "telegram", "31337")


# -- HTTP ----------------------------------------------------------------------------------


@pytest.fixture
async def client(platform_guard: Any) -> Any:
    transport = httpx.ASGITransport(app=create_app(guard=platform_guard), client=(IP, 1234))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


async def test_http_login_gives_a_login_response(
    client: httpx.AsyncClient, platform_guard: Any, fake: FakePlatforms
) -> None:
    code = fake.wechat_code("o-http")
    response = await client.post("/v1/platforms/wechat/login", json={"code": code})
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {
        *("access_token", "refresh_token", "token_type", "expires_in", "session_id"),
        *("signing_key", "signing_key_id"),
    }
    assert body["token_type"] == "Bearer"
    claims = await platform_guard.sessions.verify_access(body["access_token"])
    assert (claims.amr, claims.session_id) == (("wechat",), body["session_id"])
    assert SESSION_KEY not in response.text
    [event] = await events(platform_guard, "platform.login")
    assert event.ip is not None  # the client address reached the audit log (masked)


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/v1/platforms/wechat/login", {}, "code"),
        ("/v1/platforms/alipay/login", {"code": "abc"}, "auth_code"),
        ("/v1/platforms/telegram/login", {"code": "abc"}, "init_data"),
        ("/v1/platforms/qq/login", {"code": "abc"}, "platform"),
        ("/v1/platforms/wechat/login", {"code": "a b"}, "code"),
        ("/v1/platforms/wechat/login", {"code": "abc", "openid": "o-forged"}, "openid"),
    ],
    ids=[
        "missing-code",
        "alipay-auth-code",
        "telegram-init-data",
        "unknown-platform",
        "bad-code",
        "extra",
    ],
)
async def test_http_bad_input_is_422_naming_the_field(
    client: httpx.AsyncClient, fake: FakePlatforms, path: str, body: dict[str, Any], field: str
) -> None:
    """ASVS V2.2.1: the body is validated before any platform call; the problem names the
    field (an ``openid`` from the client is refused, never trusted)."""
    response = await client.post(path, json=body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert field in {e["field"] for e in response.json()["errors"]}
    assert fake.calls == []


@pytest.mark.parametrize(
    ("failure", "status"),
    [(40029, 401), (45011, 429), (40226, 403), ("timeout", 503), ("not_json", 502)],
)
async def test_http_problems_hide_the_reason_and_the_credential(
    client: httpx.AsyncClient, fake: FakePlatforms, failure: Any, status: int
) -> None:
    """ASVS V16.5.1: the problem body is generic: no platform reason (no oracle), no code, no
    session_key, no secret."""
    fake.fail_next = failure
    code = fake.wechat_code("o-problem")
    response = await client.post("/v1/platforms/wechat/login", json={"code": code})
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    text = response.text
    for hidden in (
        code,
        SESSION_KEY,
        WECHAT_SECRET,
        f"wechat:{failure}",
        str(failure),
        "o-problem",
    ):
        assert hidden not in text, hidden
    replay = await client.post("/v1/platforms/wechat/login", json={"code": code})
    assert replay.status_code == 401 and "replayed" not in replay.text
